package codec

import (
	"context"
	"reflect"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/nurture-dev/nurture/lead"
)

// Owned is a value that carries a lead's personal data: DataOwner is the
// lead's ID. lead.Profile and lead.Event are; so is any struct with one of
// them (or another Owned) in a field, or in a field of a field.
type Owned interface {
	DataOwner() string
}

// DataConverter is Temporal's default data converter with every payload
// sealed by c. A payload is the lead's, and sealed with its data key, when
// its value holds the lead's data (Owned, see ownerOf) or when it is
// written about the lead: in its journey's workflow or one of its
// activities, or by a client call that names the lead (lead.WithID, which
// package workflows sets on every call about a lead). So every payload of
// a lead's journey is the lead's, operators' free text included.
func DataConverter(c *Codec) converter.DataConverter {
	return sealing{c: c, inner: converter.NewCompositeDataConverter(
		converter.NewNilPayloadConverter(),
		converter.NewByteSlicePayloadConverter(),
		converter.NewProtoJSONPayloadConverter(),
		converter.NewProtoPayloadConverter(),
		ownerConverter{PayloadConverter: converter.NewJSONPayloadConverter()},
	)}
}

// sealing converts with inner and seals with c; owner, when set, is the
// lead the payloads are about (the context's).
type sealing struct {
	c     *Codec
	inner converter.DataConverter
	owner string
}

func (s sealing) seal(ps []*commonpb.Payload) ([]*commonpb.Payload, error) {
	if s.owner != "" {
		for _, p := range ps {
			if p != nil && len(p.Metadata[MetadataOwner]) == 0 {
				if p.Metadata == nil {
					p.Metadata = map[string][]byte{}
				}
				p.Metadata[MetadataOwner] = []byte(s.owner)
			}
		}
	}
	return s.c.Encode(ps)
}

func (s sealing) ToPayload(v any) (*commonpb.Payload, error) {
	p, err := s.inner.ToPayload(v)
	if err != nil || p == nil {
		return p, err
	}
	out, err := s.seal([]*commonpb.Payload{p})
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

func (s sealing) ToPayloads(vs ...any) (*commonpb.Payloads, error) {
	ps, err := s.inner.ToPayloads(vs...)
	if err != nil || ps == nil {
		return ps, err
	}
	out, err := s.seal(ps.Payloads)
	if err != nil {
		return nil, err
	}
	return &commonpb.Payloads{Payloads: out}, nil
}

func (s sealing) FromPayload(p *commonpb.Payload, ptr any) error {
	if p == nil {
		return s.inner.FromPayload(p, ptr)
	}
	out, err := s.c.Decode([]*commonpb.Payload{p})
	if err != nil {
		return err
	}
	return s.inner.FromPayload(out[0], ptr)
}

func (s sealing) FromPayloads(ps *commonpb.Payloads, ptrs ...any) error {
	if ps == nil {
		return s.inner.FromPayloads(ps, ptrs...)
	}
	out, err := s.c.Decode(ps.Payloads)
	if err != nil {
		return err
	}
	return s.inner.FromPayloads(&commonpb.Payloads{Payloads: out}, ptrs...)
}

func (s sealing) ToString(p *commonpb.Payload) string {
	out, err := s.c.Decode([]*commonpb.Payload{p})
	if err != nil {
		return err.Error()
	}
	return s.inner.ToString(out[0])
}

func (s sealing) ToStrings(ps *commonpb.Payloads) []string {
	if ps == nil {
		return nil
	}
	out := make([]string, len(ps.Payloads))
	for i, p := range ps.Payloads {
		out[i] = s.ToString(p)
	}
	return out
}

// WithWorkflowContext: in a lead's journey, every payload is the lead's.
func (s sealing) WithWorkflowContext(ctx workflow.Context) converter.DataConverter {
	if id, ok := lead.OfWorkflow(workflow.GetInfo(ctx).WorkflowExecution.ID); ok {
		s.owner = id
	}
	return s
}

// WithContext: in one of a lead's activities, or a client call about the
// lead, every payload is the lead's.
func (s sealing) WithContext(ctx context.Context) converter.DataConverter {
	if id, ok := lead.IDFrom(ctx); ok {
		s.owner = id
	} else if activity.IsActivity(ctx) {
		if id, ok := lead.OfWorkflow(activity.GetInfo(ctx).WorkflowExecution.ID); ok {
			s.owner = id
		}
	}
	return s
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
	if id := ownerOf(v); id != "" {
		p.Metadata[MetadataOwner] = []byte(id)
	}
	return p, nil
}

// ownerOf is the lead whose data v carries, or "".
func ownerOf(v any) string {
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
