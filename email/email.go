// Package email sends nurture's mail over SMTP with go-mail. It keeps a small
// pool of open SMTP connections and reuses them, sets a Message-ID derived
// from the send's idempotency key (a resend after a crash carries the same
// ID, so receivers can fold it), and marks every message with
// List-Unsubscribe and List-Unsubscribe-Post (RFC 8058 one-click).
package email

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net/mail"
	"slices"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
	"github.com/wneessen/go-mail/smtp"
)

// Config is how to reach the SMTP server.
type Config struct {
	Host     string
	Port     int
	Username string
	Password string
	// TLS is none, opportunistic or mandatory.
	TLS string
	// From is the sender, like "Acme Marketing <marketing@example.com>".
	From string
	// MaxIdle is how many open connections are kept for reuse.
	MaxIdle int
	Timeout time.Duration
}

// Message is one email to one lead.
type Message struct {
	To      string
	ToName  string
	Subject string
	Text    string
	HTML    string
	// MessageID is the full <id@domain> value; see MessageID.
	MessageID string
	// UnsubscribeURL is the one-click unsubscribe link (RFC 8058).
	UnsubscribeURL string
	// Headers are extra headers, like X-Nurture-Content.
	Headers map[string]string
}

// Sender sends messages, reusing SMTP connections.
type Sender struct {
	client *gomail.Client
	from   *mail.Address
	idle   chan *smtp.Client
}

// New prepares a sender; connections are opened on first use.
func New(cfg Config) (*Sender, error) {
	from, err := mail.ParseAddress(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("mail from %q is not an address: %w", cfg.From, err)
	}
	opts := []gomail.Option{gomail.WithPort(cfg.Port), gomail.WithHELO("nurture")}
	switch cfg.TLS {
	case "", "opportunistic":
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	case "none":
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	case "mandatory":
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	default:
		return nil, fmt.Errorf("smtp tls %q: use none, opportunistic or mandatory", cfg.TLS)
	}
	if cfg.Username != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(cfg.Username), gomail.WithPassword(cfg.Password))
	}
	if cfg.Timeout > 0 {
		opts = append(opts, gomail.WithTimeout(cfg.Timeout))
	}
	client, err := gomail.NewClient(cfg.Host, opts...)
	if err != nil {
		return nil, fmt.Errorf("smtp client for %s:%d: %w", cfg.Host, cfg.Port, err)
	}
	if cfg.MaxIdle <= 0 {
		cfg.MaxIdle = 4
	}
	return &Sender{client: client, from: from, idle: make(chan *smtp.Client, cfg.MaxIdle)}, nil
}

// Domain is the sender's domain, used in Message-IDs.
func (s *Sender) Domain() string {
	if i := strings.LastIndexByte(s.from.Address, '@'); i >= 0 {
		return s.from.Address[i+1:]
	}
	return "localhost"
}

// MessageID derives a stable Message-ID from an idempotency key.
func MessageID(key, domain string) string {
	sum := sha256.Sum256([]byte(key))
	return "<" + hex.EncodeToString(sum[:16]) + "@" + domain + ">"
}

// Send delivers one message. A reused connection that turns out to be dead
// is replaced once; nothing was delivered on it, so this cannot duplicate.
func (s *Sender) Send(ctx context.Context, m Message) error {
	msg, err := s.build(m)
	if err != nil {
		return err
	}
	conn, reused, err := s.conn(ctx)
	if err != nil {
		return err
	}
	err = s.client.SendWithSMTPClient(conn, msg)
	if err != nil && reused && !isPermanent(err) {
		_ = s.client.CloseWithSMTPClient(conn)
		if conn, err = s.dial(ctx); err != nil {
			return err
		}
		err = s.client.SendWithSMTPClient(conn, msg)
	}
	if err != nil {
		_ = s.client.CloseWithSMTPClient(conn)
		return fmt.Errorf("send %q to %s: %w", m.Subject, m.To, err)
	}
	s.release(conn)
	return nil
}

// IsPermanent reports whether the server refused the message for good (5xx),
// so retrying is pointless.
func IsPermanent(err error) bool { return isPermanent(err) }

func isPermanent(err error) bool {
	var se *gomail.SendError
	return errors.As(err, &se) && !se.IsTemp() && se.ErrorCode() >= 500
}

func (s *Sender) conn(ctx context.Context) (*smtp.Client, bool, error) {
	select {
	case c := <-s.idle:
		return c, true, nil
	default:
	}
	c, err := s.dial(ctx)
	return c, false, err
}

func (s *Sender) dial(ctx context.Context) (*smtp.Client, error) {
	c, err := s.client.DialToSMTPClientWithContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect to smtp server: %w", err)
	}
	return c, nil
}

func (s *Sender) release(c *smtp.Client) {
	if err := s.client.ResetWithSMTPClient(c); err != nil {
		_ = s.client.CloseWithSMTPClient(c)
		return
	}
	select {
	case s.idle <- c:
	default:
		_ = s.client.CloseWithSMTPClient(c)
	}
}

// Close closes the idle connections.
func (s *Sender) Close() {
	for {
		select {
		case c := <-s.idle:
			_ = s.client.CloseWithSMTPClient(c)
		default:
			return
		}
	}
}

func (s *Sender) build(m Message) (*gomail.Msg, error) {
	msg := gomail.NewMsg()
	msg.SetAddrHeaderFromMailAddress(gomail.HeaderFrom, s.from)
	to := &mail.Address{Name: m.ToName, Address: m.To}
	msg.SetAddrHeaderFromMailAddress(gomail.HeaderTo, to)
	msg.Subject(m.Subject)
	msg.SetDate()
	if m.MessageID != "" {
		// go-mail replaces a preformatted Message-ID with a random one; the
		// generic header is kept.
		msg.SetMessageIDWithValue(strings.Trim(m.MessageID, "<>"))
	} else {
		msg.SetMessageID()
	}
	if m.UnsubscribeURL != "" {
		msg.SetGenHeaderPreformatted(gomail.HeaderListUnsubscribe, "<"+m.UnsubscribeURL+">")
		msg.SetGenHeader(gomail.HeaderListUnsubscribePost, "List-Unsubscribe=One-Click")
	}
	for _, k := range slices.Sorted(maps.Keys(m.Headers)) {
		msg.SetGenHeader(gomail.Header(k), m.Headers[k])
	}
	switch {
	case m.Text != "" && m.HTML != "":
		msg.SetBodyString(gomail.TypeTextPlain, m.Text)
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	case m.HTML != "":
		msg.SetBodyString(gomail.TypeTextHTML, m.HTML)
	default:
		msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	}
	return msg, nil
}
