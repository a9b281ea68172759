// Package smtpsink is an SMTP server that accepts every message and keeps
// it: in memory for tests and, when given a folder, as .eml files a person
// can open. The demo and the integration tests use it as the real mail
// server nurture talks to; it is never used in production.
package smtpsink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// Message is one message the sink received.
type Message struct {
	From     string
	To       []string
	Subject  string
	Header   mail.Header
	Raw      []byte
	Received time.Time
	// File is where the message was written, when the sink has a folder.
	File string
}

// Sink is a running SMTP server.
type Sink struct {
	Addr string
	dir  string

	server *smtp.Server
	log    *slog.Logger

	mu       sync.Mutex
	messages []Message
	changed  chan struct{}
	onMsg    func(Message)
	faults   Faults
}

// Options configure a sink.
type Options struct {
	// Addr to listen on; 127.0.0.1 on a free port when empty.
	Addr string
	// Dir receives one .eml file per message; none are written when empty.
	Dir string
	// OnMessage is called for every message received.
	OnMessage func(Message)
	Logger    *slog.Logger
	// Faults make the sink misbehave as real servers and networks do, for
	// fault tests.
	Faults Faults
}

// Faults are ways the sink can misbehave.
type Faults struct {
	// Latency delays the reply to the end of each message, as a busy or
	// distant server does.
	Latency time.Duration
	// DropReply, when it says yes for a message, keeps the message (it was
	// received) and closes the connection instead of replying: the client
	// never learns that it arrived.
	DropReply func(Message) bool
	// RejectRcpt, when it returns an error, refuses a recipient with it;
	// an *smtp.SMTPError gives the code (550 for good, 450 for now).
	RejectRcpt func(to string) error
	// IdleTimeout closes a connection idle this long with 421, as real
	// servers do (a minute when zero).
	IdleTimeout time.Duration
}

// Start listens and serves until Close.
func Start(opts Options) (*Sink, error) {
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Dir != "" {
		if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
			return nil, fmt.Errorf("create mail folder: %w", err)
		}
	}
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("smtp sink listen on %s: %w", opts.Addr, err)
	}
	s := &Sink{Addr: ln.Addr().String(), dir: opts.Dir, log: opts.Logger, changed: make(chan struct{}), onMsg: opts.OnMessage, faults: opts.Faults}
	s.server = smtp.NewServer(backend{s})
	s.server.Domain = "localhost"
	s.server.ReadTimeout = time.Minute
	if opts.Faults.IdleTimeout > 0 {
		s.server.ReadTimeout = opts.Faults.IdleTimeout
	}
	s.server.WriteTimeout = time.Minute
	s.server.MaxMessageBytes = 10 << 20
	s.server.AllowInsecureAuth = true
	go func() {
		if err := s.server.Serve(ln); err != nil && !errors.Is(err, smtp.ErrServerClosed) {
			s.log.Error("smtp sink stopped", "error", err)
		}
	}()
	return s, nil
}

// Host and Port split Addr for SMTP client settings.
func (s *Sink) Host() string { h, _, _ := net.SplitHostPort(s.Addr); return h }

// Port is the port the sink listens on.
func (s *Sink) Port() int {
	_, p, _ := net.SplitHostPort(s.Addr)
	var n int
	fmt.Sscan(p, &n)
	return n
}

// Close stops the server.
func (s *Sink) Close() error { return s.server.Close() }

// Messages returns a copy of what was received so far.
func (s *Sink) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// To returns the messages received for an address.
func (s *Sink) To(addr string) []Message {
	var out []Message
	for _, m := range s.Messages() {
		for _, to := range m.To {
			if strings.EqualFold(to, addr) {
				out = append(out, m)
			}
		}
	}
	return out
}

// Wait blocks until ok holds for the messages received, or ctx ends.
func (s *Sink) Wait(ctx context.Context, ok func([]Message) bool) ([]Message, error) {
	for {
		s.mu.Lock()
		msgs := append([]Message(nil), s.messages...)
		changed := s.changed
		s.mu.Unlock()
		if ok(msgs) {
			return msgs, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return msgs, fmt.Errorf("waiting for mail (have %d messages): %w", len(msgs), ctx.Err())
		}
	}
}

func (s *Sink) store(m Message) error {
	if s.dir != "" {
		name := fmt.Sprintf("%s-%s.eml", m.Received.Format("20060102T150405.000000000"), safe(firstOr(m.To, "unknown")))
		m.File = filepath.Join(s.dir, name)
		if err := os.WriteFile(m.File, m.Raw, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", m.File, err)
		}
	}
	s.mu.Lock()
	s.messages = append(s.messages, m)
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
	if s.onMsg != nil {
		s.onMsg(m)
	}
	return nil
}

func firstOr(xs []string, def string) string {
	if len(xs) > 0 {
		return xs[0]
	}
	return def
}

func safe(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_' || r == '@' {
			return r
		}
		return '_'
	}, s)
}

type backend struct{ sink *Sink }

func (b backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &session{sink: b.sink, conn: c}, nil
}

type session struct {
	sink *Sink
	conn *smtp.Conn
	from string
	to   []string
}

func (s *session) AuthMechanisms() []string { return nil }
func (s *session) Reset()                   { s.from, s.to = "", nil }
func (s *session) Logout() error            { return nil }

func (s *session) Mail(from string, _ *smtp.MailOptions) error { s.from = from; return nil }

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if f := s.sink.faults.RejectRcpt; f != nil {
		if err := f(to); err != nil {
			return err
		}
	}
	s.to = append(s.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m := Message{From: s.from, To: s.to, Raw: raw, Received: time.Now()}
	if parsed, err := mail.ReadMessage(bytes.NewReader(raw)); err == nil {
		m.Header = parsed.Header
		dec := new(mimeDecoder)
		m.Subject = dec.header(parsed.Header.Get("Subject"))
	}
	if err := s.sink.store(m); err != nil {
		return err
	}
	f := s.sink.faults
	if f.Latency > 0 {
		time.Sleep(f.Latency)
	}
	if f.DropReply != nil && f.DropReply(m) {
		// Received, and the reply never leaves: the write of "250" fails
		// on the closed connection.
		_ = s.conn.Conn().Close()
		return errors.New("reply dropped on purpose")
	}
	return nil
}
