package smtpsink

import "mime"

type mimeDecoder struct{ mime.WordDecoder }

// header decodes RFC 2047 encoded words, leaving undecodable text as it is.
func (d *mimeDecoder) header(v string) string {
	if out, err := d.DecodeHeader(v); err == nil {
		return out
	}
	return v
}
