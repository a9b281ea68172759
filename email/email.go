// Package email sends nurture's mail over SMTP with go-mail. It keeps a small
// pool of open SMTP connections and reuses them, sets a Message-ID derived
// from the send's idempotency key (a resend carries the same ID, so
// receivers can fold it), and marks every message with List-Unsubscribe and
// List-Unsubscribe-Post (RFC 8058 one-click).
//
// It drives the SMTP conversation itself (go-mail's client for the session,
// our own steps for the message) so that a caller learns exactly how far a
// send got: before the message's final dot went out, a failed send is
// certainly undelivered and safe to retry; after it, with no reply, it may
// have been delivered, and must not be retried blindly. The Hooks let the
// caller make that point durable before the dot goes.
package email

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/mail"
	"net/textproto"
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
	// Timeout bounds connecting and each command before the message's
	// end (30s when zero).
	Timeout time.Duration
	// ReplyTimeout bounds the wait for the server's answer to the
	// message (10 minutes when zero, as RFC 5321 suggests).
	ReplyTimeout time.Duration
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
	client       *gomail.Client
	from         *mail.Address
	idle         chan *session
	timeout      time.Duration
	replyTimeout time.Duration
	waitEvery    time.Duration
}

// session is an open SMTP connection; conn is kept beside the client so a
// cancelled send can cut it while the client waits for a reply.
type session struct {
	client *smtp.Client
	conn   net.Conn
}

// connSlot receives the connection the dialer opens, through the dial
// context, since go-mail does not hand it out.
type connSlot struct{ conn net.Conn }

type connSlotKey struct{}

// New prepares a sender; connections are opened on first use.
func New(cfg Config) (*Sender, error) {
	from, err := mail.ParseAddress(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("mail from %q is not an address: %w", cfg.From, err)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.ReplyTimeout <= 0 {
		// RFC 5321 4.5.3.2.6 asks clients to wait 10 minutes for the reply
		// to the end of the data; servers that scan mail take minutes.
		cfg.ReplyTimeout = 10 * time.Minute
	}
	dialer := &net.Dialer{}
	opts := []gomail.Option{
		gomail.WithPort(cfg.Port), gomail.WithHELO("nurture"), gomail.WithTimeout(cfg.Timeout),
		gomail.WithDialContextFunc(func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := dialer.DialContext(ctx, network, addr)
			if slot, ok := ctx.Value(connSlotKey{}).(*connSlot); ok && err == nil {
				slot.conn = conn
			}
			return conn, err
		}),
	}
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
	client, err := gomail.NewClient(cfg.Host, opts...)
	if err != nil {
		return nil, fmt.Errorf("smtp client for %s:%d: %w", cfg.Host, cfg.Port, err)
	}
	if cfg.MaxIdle <= 0 {
		cfg.MaxIdle = 4
	}
	return &Sender{client: client, from: from, idle: make(chan *session, cfg.MaxIdle),
		timeout: cfg.Timeout, replyTimeout: cfg.ReplyTimeout, waitEvery: 5 * time.Second}, nil
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

// Stage says how far an SMTP conversation got when it stopped.
type Stage int

const (
	// BeforeData: the message's end never went out; the server cannot
	// have accepted it, and sending again is safe.
	BeforeData Stage = iota
	// Answered: the server answered the message with an error code; it
	// was not accepted.
	Answered
	// ReplyLost: the message went out to its final dot and no answer came
	// (the connection dropped, the reply timed out). The server may have
	// accepted it; sending again could deliver it twice.
	ReplyLost
)

func (st Stage) String() string {
	switch st {
	case BeforeData:
		return "before the message was transmitted"
	case Answered:
		return "answered with an error"
	case ReplyLost:
		return "after the message was transmitted, with no reply"
	}
	return "unknown stage"
}

// SendError is a send that did not end in the server's acceptance.
type SendError struct {
	Stage Stage
	// Code is the server's reply code, 0 when it gave none.
	Code int
	Err  error
}

func (e *SendError) Error() string {
	if e.Code != 0 {
		return fmt.Sprintf("smtp %s (%d): %v", e.Stage, e.Code, e.Err)
	}
	return fmt.Sprintf("smtp %s: %v", e.Stage, e.Err)
}

func (e *SendError) Unwrap() error { return e.Err }

// IsPermanent reports whether the server refused for good (a 5xx reply),
// so retrying is pointless.
func IsPermanent(err error) bool {
	var se *SendError
	return errors.As(err, &se) && se.Code >= 500
}

// IsReplyLost reports whether the message went out and its fate is unknown.
func IsReplyLost(err error) bool {
	var se *SendError
	return errors.As(err, &se) && se.Stage == ReplyLost
}

// Hooks let a caller record how far a send got, as it happens.
type Hooks struct {
	// Connected is called when an SMTP session is ready for the message.
	Connected func() error
	// Finishing is called when the whole message has been written except
	// its final dot: from the dot on, the server may accept it at any
	// moment, so what must be durable before that is stored here. If it
	// fails, the dot is never sent and the connection is dropped, and the
	// server discards what it got.
	Finishing func() error
	// Waiting is called every few seconds while the reply is awaited, so
	// an activity can heartbeat through a slow server.
	Waiting func()
}

// Render builds a message as it goes on the wire (MIME, CRLF line ends).
func (s *Sender) Render(m Message) ([]byte, error) {
	msg, err := s.build(m)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if _, err := msg.WriteTo(&b); err != nil {
		return nil, fmt.Errorf("render message %q: %w", m.Subject, err)
	}
	return b.Bytes(), nil
}

// Send renders and delivers one message.
func (s *Sender) Send(ctx context.Context, m Message) error {
	raw, err := s.Render(m)
	if err != nil {
		return err
	}
	return s.Transmit(ctx, m.To, raw, Hooks{})
}

// Transmit delivers a rendered message to one recipient, calling the hooks
// as the conversation moves on. A reused connection that turns out to be
// dead before the message's end went out is replaced once; nothing can
// have been delivered on it, so this cannot duplicate. After the message's
// end went out, nothing is ever sent again: the error says ReplyLost.
func (s *Sender) Transmit(ctx context.Context, to string, raw []byte, h Hooks) error {
	sess, reused, err := s.session(ctx)
	if err != nil {
		return &SendError{Stage: BeforeData, Err: err}
	}
	err = s.converse(ctx, sess, to, raw, h)
	var se *SendError
	// A reused connection may have died while it waited in the pool, or
	// the server closed it for being idle (421, "closing transmission
	// channel"): before the message's data nothing was sent, so a new
	// connection cannot duplicate it.
	if err != nil && reused && errors.As(err, &se) && se.Stage == BeforeData && (se.Code == 0 || se.Code == codeClosing) && !errors.Is(err, errHook) {
		s.drop(sess)
		if sess, err = s.dial(ctx); err != nil {
			return &SendError{Stage: BeforeData, Err: err}
		}
		err = s.converse(ctx, sess, to, raw, h)
	}
	if err != nil {
		s.drop(sess)
		return err
	}
	s.release(sess)
	return nil
}

// codeClosing is SMTP's "service not available, closing transmission
// channel", which servers send a connection idle too long.
const codeClosing = 421

// errHook marks an error a hook returned, which a new connection would
// not cure.
var errHook = errors.New("recording the send's progress failed")

func (s *Sender) converse(ctx context.Context, sess *session, to string, raw []byte, h Hooks) error {
	before := func(err error) error {
		se := &SendError{Stage: BeforeData, Err: err}
		var tp *textproto.Error
		if errors.As(err, &tp) {
			se.Code = tp.Code
		}
		return se
	}
	if h.Connected != nil {
		if err := h.Connected(); err != nil {
			return before(fmt.Errorf("%w: %w", errHook, err))
		}
	}
	c := sess.client
	if err := c.UpdateDeadline(s.timeout); err != nil {
		return before(err)
	}
	if err := c.Mail((&mail.Address{Address: s.from.Address}).String()); err != nil {
		return before(err)
	}
	if err := c.Rcpt((&mail.Address{Address: to}).String()); err != nil {
		return before(err)
	}
	w, err := c.Data()
	if err != nil {
		return before(err)
	}
	dc, ok := w.(*smtp.DataCloser)
	if !ok {
		return before(fmt.Errorf("unexpected data writer %T", w))
	}
	// The body goes through the dot-writer; its final dot only on Close.
	if _, err := dc.WriteCloser.Write(raw); err != nil {
		return before(err)
	}
	if err := c.UpdateDeadline(s.replyTimeout); err != nil {
		return before(err)
	}
	if h.Finishing != nil {
		if err := h.Finishing(); err != nil {
			return before(fmt.Errorf("%w: %w", errHook, err))
		}
	}
	// From here the message may be accepted at any moment. A cancelled
	// context cuts the connection: the reply is then lost, never retried.
	stopCut := context.AfterFunc(ctx, func() { _ = sess.conn.Close() })
	defer stopCut()
	done := make(chan struct{})
	defer close(done)
	if h.Waiting != nil {
		go func() {
			t := time.NewTicker(s.waitEvery)
			defer t.Stop()
			for {
				select {
				case <-done:
					return
				case <-t.C:
					h.Waiting()
				}
			}
		}()
	}
	err = dc.Close()
	var tp *textproto.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &tp):
		return &SendError{Stage: Answered, Code: tp.Code, Err: err}
	default:
		return &SendError{Stage: ReplyLost, Err: err}
	}
}

func (s *Sender) session(ctx context.Context) (*session, bool, error) {
	select {
	case sess := <-s.idle:
		return sess, true, nil
	default:
	}
	sess, err := s.dial(ctx)
	return sess, false, err
}

func (s *Sender) dial(ctx context.Context) (*session, error) {
	slot := &connSlot{}
	c, err := s.client.DialToSMTPClientWithContext(context.WithValue(ctx, connSlotKey{}, slot))
	if err != nil {
		if slot.conn != nil {
			_ = slot.conn.Close()
		}
		return nil, fmt.Errorf("connect to smtp server: %w", err)
	}
	return &session{client: c, conn: slot.conn}, nil
}

// drop closes a session that failed; its state is unknown.
func (s *Sender) drop(sess *session) {
	if sess.conn != nil {
		_ = sess.conn.Close()
	}
	_ = sess.client.Close()
}

func (s *Sender) release(sess *session) {
	if err := sess.client.UpdateDeadline(s.timeout); err != nil {
		s.drop(sess)
		return
	}
	if err := sess.client.Reset(); err != nil {
		s.drop(sess)
		return
	}
	select {
	case s.idle <- sess:
	default:
		_ = s.client.CloseWithSMTPClient(sess.client)
	}
}

// Close closes the idle connections.
func (s *Sender) Close() {
	for {
		select {
		case sess := <-s.idle:
			_ = s.client.CloseWithSMTPClient(sess.client)
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
