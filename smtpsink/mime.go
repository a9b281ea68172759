package smtpsink

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strings"
)

type mimeDecoder struct{ mime.WordDecoder }

// header decodes RFC 2047 encoded words, leaving undecodable text as it is.
func (d *mimeDecoder) header(v string) string {
	if out, err := d.DecodeHeader(v); err == nil {
		return out
	}
	return v
}

// Bodies decodes a message's plain-text and HTML parts (either may be
// empty), as a reader's mail client would show them: the demo and tests
// take links out of them.
func (m Message) Bodies() (text, html string, err error) {
	msg, err := mail.ReadMessage(bytes.NewReader(m.Raw))
	if err != nil {
		return "", "", fmt.Errorf("read message: %w", err)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		return "", "", fmt.Errorf("message content type: %w", err)
	}
	if !strings.HasPrefix(mt, "multipart/") {
		body, err := decodePart(msg.Header.Get("Content-Transfer-Encoding"), msg.Body)
		if mt == "text/html" {
			return "", body, err
		}
		return body, "", err
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return text, html, nil
		}
		if err != nil {
			return text, html, fmt.Errorf("read part: %w", err)
		}
		ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		body, err := decodePart(p.Header.Get("Content-Transfer-Encoding"), p)
		if err != nil {
			return text, html, err
		}
		switch ct {
		case "text/plain":
			text = body
		case "text/html":
			html = body
		}
	}
}

func decodePart(encoding string, r io.Reader) (string, error) {
	if strings.EqualFold(encoding, "quoted-printable") {
		r = quotedprintable.NewReader(r)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return "", fmt.Errorf("read part: %w", err)
	}
	return string(b), nil
}
