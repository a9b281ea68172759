package codec

import (
	"reflect"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
)

// Owned is a value that carries a lead's personal data: DataOwner is the
// lead's ID. lead.Profile and lead.Event are; so is any struct with one of
// them (or another Owned) in a field, or in a field of a field.
type Owned interface {
	DataOwner() string
}

// DataConverter is Temporal's default data converter with two changes:
// JSON payloads of Owned values name their lead (MetadataOwner), and every
// payload goes through c.
func DataConverter(c *Codec) converter.DataConverter {
	return converter.NewCodecDataConverter(converter.NewCompositeDataConverter(
		converter.NewNilPayloadConverter(),
		converter.NewByteSlicePayloadConverter(),
		converter.NewProtoJSONPayloadConverter(),
		converter.NewProtoPayloadConverter(),
		ownerConverter{PayloadConverter: converter.NewJSONPayloadConverter()},
	), c)
}

// ownerConverter is the JSON converter marking the payloads of Owned
// values with their lead.
type ownerConverter struct {
	converter.PayloadConverter
}

func (o ownerConverter) ToPayload(v any) (*commonpb.Payload, error) {
	p, err := o.PayloadConverter.ToPayload(v)
	if err != nil || p == nil {
		return p, err
	}
	if id := OwnerOf(v); id != "" {
		p.Metadata[MetadataOwner] = []byte(id)
	}
	return p, nil
}

// OwnerOf is the lead whose data v carries, or "".
func OwnerOf(v any) string {
	if o, ok := v.(Owned); ok {
		return o.DataOwner()
	}
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return ""
		}
		rv = rv.Elem()
		if o, ok := rv.Interface().(Owned); ok {
			return o.DataOwner()
		}
	}
	if rv.Kind() != reflect.Struct {
		return ""
	}
	for _, path := range paths(rv.Type(), 2) {
		fv, err := rv.FieldByIndexErr(path)
		if err != nil {
			continue // through a nil pointer
		}
		if fv.Kind() == reflect.Pointer && fv.IsNil() {
			continue
		}
		if id := fv.Interface().(Owned).DataOwner(); id != "" {
			return id
		}
	}
	return ""
}

// paths lists the exported fields of t, to depth levels, whose type (or
// pointer to it) is Owned.
func paths(t reflect.Type, depth int) [][]int {
	var out [][]int
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		ft := sf.Type
		if ft.Implements(reflect.TypeFor[Owned]()) {
			out = append(out, []int{i})
			continue
		}
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if depth > 1 && ft.Kind() == reflect.Struct {
			for _, sub := range paths(ft, depth-1) {
				out = append(out, append([]int{i}, sub...))
			}
		}
	}
	return out
}

// Apply makes a client (and the workers made on it) seal every payload
// with c, and failures' messages and stack traces too (they may quote an
// address: an SMTP server's refusal does).
func (c *Codec) Apply(opts *client.Options) {
	opts.DataConverter = DataConverter(c)
	opts.FailureConverter = temporal.NewDefaultFailureConverter(temporal.DefaultFailureConverterOptions{
		DataConverter: opts.DataConverter, EncodeCommonAttributes: true})
}
