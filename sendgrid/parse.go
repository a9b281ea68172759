package sendgrid

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nurture-dev/nurture/lead"
)

// Kind is SendGrid's name for what happened (the field "event").
type Kind string

// The kinds of the Event Webhook Reference. SendGrid may add others
// (account_status_change is one); Parse keeps them and Map ignores them.
const (
	Processed        Kind = "processed"
	Dropped          Kind = "dropped"
	Delivered        Kind = "delivered"
	Deferred         Kind = "deferred"
	Bounce           Kind = "bounce"
	Open             Kind = "open"
	Click            Kind = "click"
	SpamReport       Kind = "spamreport"
	Unsubscribe      Kind = "unsubscribe"
	GroupUnsubscribe Kind = "group_unsubscribe"
	GroupResubscribe Kind = "group_resubscribe"
)

// Known reports whether k is one of the kinds above.
func (k Kind) Known() bool {
	switch k {
	case Processed, Dropped, Delivered, Deferred, Bounce, Open, Click,
		SpamReport, Unsubscribe, GroupUnsubscribe, GroupResubscribe:
		return true
	}
	return false
}

// The values of "type" in a bounce event.
const (
	// TypeBounce: the receiving server refused the address for good.
	TypeBounce = "bounce"
	// TypeBlocked: it refused the message for now (a soft bounce).
	TypeBlocked = "blocked"
)

// EventIDPrefix begins the ID of every lead event made from a SendGrid
// event; SendGrid's sg_event_id follows it.
const EventIDPrefix = "sendgrid:"

// MaxSGEventID is the longest sg_event_id accepted: with EventIDPrefix it
// must fit lead.MaxEventID. SendGrid's IDs are up to 100 characters.
const MaxSGEventID = lead.MaxEventID - len(EventIDPrefix)

// Limits bound what Parse reads. A zero field takes its default.
type Limits struct {
	// MaxBody bounds the body in bytes. The handler reads at most this
	// much (http.MaxBytesReader); Parse checks it again.
	MaxBody int
	// MaxEvents bounds the events in one request.
	MaxEvents int
	// MaxURL bounds a clicked URL; at most lead.MaxPropertyValue, since
	// the URL becomes a property of the lead event.
	MaxURL int
	// MaxText bounds the other free-form fields (nurture_key, reason,
	// status, useragent, ip, sg_message_id); at most
	// lead.MaxPropertyValue. Fixed bounds hold for the rest: event and
	// type 64 bytes, email lead.MaxEmail, sg_event_id MaxSGEventID,
	// nurture_lead a UUID.
	MaxText int
}

// Default limits. SendGrid posts a batch when it reaches 768 KB (or every
// 30 seconds), so a body of 1 MiB holds any batch with room to spare.
// Events are small: the dropped event of SendGrid's test vector is 323
// bytes, so a full batch of such events holds some 2,400 of them, and a
// limit of 1,000 would refuse real batches, which SendGrid would retry
// for a day in vain. A URL of 2,000 bytes is what the lead package allows
// for a property; other fields are short (an SMTP reply, a user agent).
const (
	DefaultMaxBody   = 1 << 20
	DefaultMaxEvents = 5000
	DefaultMaxURL    = lead.MaxPropertyValue
	DefaultMaxText   = 500
)

// DefaultLimits returns the limits Parse applies to zero fields.
func DefaultLimits() Limits {
	return Limits{MaxBody: DefaultMaxBody, MaxEvents: DefaultMaxEvents, MaxURL: DefaultMaxURL, MaxText: DefaultMaxText}
}

// OrDefaults fills the zero (or negative) fields with the defaults and
// caps MaxURL and MaxText at lead.MaxPropertyValue.
func (l Limits) OrDefaults() Limits {
	d := DefaultLimits()
	if l.MaxBody <= 0 {
		l.MaxBody = d.MaxBody
	}
	if l.MaxEvents <= 0 {
		l.MaxEvents = d.MaxEvents
	}
	if l.MaxURL <= 0 {
		l.MaxURL = d.MaxURL
	}
	if l.MaxText <= 0 {
		l.MaxText = d.MaxText
	}
	l.MaxURL = min(l.MaxURL, lead.MaxPropertyValue)
	l.MaxText = min(l.MaxText, lead.MaxPropertyValue)
	return l
}

// Event is one element of SendGrid's array, as far as nurture reads it;
// other fields (category, smtp-id, tls, asm_group_id, ...) are ignored.
// Every string is valid UTF-8 and within the Limits.
type Event struct {
	// Index is the element's place in the array, counting from 0.
	Index int
	// Err, when not nil, is an *ElementError: the element could not be
	// read, and only Index is set. Store the others, log this one.
	Err error

	Kind Kind
	// Email is the recipient ("email"), as SendGrid sent it.
	Email string
	// Time is when it happened ("timestamp"), in UTC.
	Time time.Time
	// SGEventID is SendGrid's ID of this event ("sg_event_id"); the same
	// event delivered twice has the same ID.
	SGEventID string
	// SGMessageID is SendGrid's ID of the message ("sg_message_id").
	SGMessageID string
	// URL is the link clicked ("url", click events).
	URL string
	// BounceType is "bounce" or "blocked" ("type", bounce events).
	BounceType string
	// Reason is the receiving server's or SendGrid's explanation
	// ("reason": bounce, dropped).
	Reason string
	// Status is the SMTP enhanced status code ("status", like 5.1.1).
	Status string
	// UserAgent and IP are the recipient's ("useragent", "ip"; open
	// and click).
	UserAgent string
	IP        string
	// MachineOpen is SendGrid's sg_machine_open: an open it believes a
	// machine made (a mail privacy proxy fetching every image), not a
	// person.
	MachineOpen bool
	// SendKey is the send's idempotency key (the unique argument
	// nurture_key), empty for mail nurture did not send.
	SendKey string
	// LeadID is the lead's ID (the unique argument nurture_lead), or
	// empty.
	LeadID string
}

// ElementError is an element of the array that could not be read. Its
// message names the element and every field that is wrong.
type ElementError struct {
	// Index counts from 0, as jq's .[3] does.
	Index int
	// Problems are "field: what is wrong", in the order read.
	Problems []string
}

func (e *ElementError) Error() string {
	return fmt.Sprintf("event %d: %s", e.Index, strings.Join(e.Problems, "; "))
}

// Errors for the body as a whole; Parse's error wraps one of them.
var (
	// ErrBody: the body is not a readable JSON array (answer 400).
	ErrBody = errors.New("the body is not a JSON array of SendGrid events")
	// ErrBodyTooLarge: longer than Limits.MaxBody (answer 413).
	ErrBodyTooLarge = errors.New("the body is larger than the limit")
	// ErrTooManyEvents: more elements than Limits.MaxEvents (answer 413).
	ErrTooManyEvents = errors.New("more events in one request than the limit")
)

// Parse reads a request body: a JSON array of event objects. It refuses
// the body only when it cannot be read as a whole (not JSON, not an
// array, cut short, too large, too many events); an element that is
// wrong comes back as an Event with Err set, in its place, so the others
// can be taken and SendGrid is not made to retry them all.
//
// Parse reads nothing beyond body and keeps every string within lim;
// fields nurture acts on (event, email, sg_event_id, url, type and the
// unique arguments) are refused when too long or malformed, fields it only
// logs (reason, status, useragent, ip, sg_message_id) are cut to
// lim.MaxText. Strings must be valid UTF-8.
func Parse(body []byte, lim Limits) ([]Event, error) {
	lim = lim.OrDefaults()
	if len(body) > lim.MaxBody {
		return nil, fmt.Errorf("%w: %d bytes; at most %d", ErrBodyTooLarge, len(body), lim.MaxBody)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	tok, err := dec.Token()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: the body is empty", ErrBody)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBody, err)
	}
	if tok != json.Delim('[') {
		return nil, fmt.Errorf("%w: it starts with %s, not [", ErrBody, tokenKind(tok))
	}
	var events []Event
	for dec.More() {
		if len(events) == lim.MaxEvents {
			return nil, fmt.Errorf("%w: more than %d", ErrTooManyEvents, lim.MaxEvents)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("%w: event %d: %v", ErrBody, len(events), cutShort(err))
		}
		events = append(events, parseElement(len(events), raw, lim))
	}
	if _, err := dec.Token(); err != nil { // the closing ]
		return nil, fmt.Errorf("%w: after %d events: %v", ErrBody, len(events), cutShort(err))
	}
	if tok, err := dec.Token(); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, fmt.Errorf("%w: after the array: %v", ErrBody, err)
		}
		return nil, fmt.Errorf("%w: %s after the array", ErrBody, tokenKind(tok))
	}
	return events, nil
}

// cutShort says in words that the body ended too soon.
func cutShort(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("the body ends before the array does")
	}
	return err
}

func tokenKind(tok json.Token) string {
	switch v := tok.(type) {
	case json.Delim:
		return string(v)
	case string:
		return "a string"
	case float64, json.Number:
		return "a number"
	case bool:
		return "true or false"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", tok)
}

// element reads the fields of one array element and collects what is
// wrong with them.
type element struct {
	fields   map[string]json.RawMessage
	problems []string
}

func (el *element) problem(field, format string, args ...any) {
	el.problems = append(el.problems, field+": "+fmt.Sprintf(format, args...))
}

func parseElement(index int, raw json.RawMessage, lim Limits) Event {
	raw = bytes.TrimSpace(raw)
	bad := func(problems ...string) Event {
		return Event{Index: index, Err: &ElementError{Index: index, Problems: problems}}
	}
	if len(raw) == 0 || raw[0] != '{' {
		return bad(fmt.Sprintf("expected an object, got %s", valueKind(raw)))
	}
	el := element{}
	if err := json.Unmarshal(raw, &el.fields); err != nil {
		return bad(err.Error())
	}
	ev := Event{Index: index}
	kind, _ := el.str("event", maxName, refuseLong, noControl)
	ev.Kind = Kind(strings.ToLower(kind))
	if ev.Kind == "" && !el.failed("event") {
		el.problem("event", "missing; SendGrid names the kind of every event (delivered, open, ...)")
	}
	known := ev.Kind.Known()

	ev.Email, _ = el.str("email", lead.MaxEmail, refuseLong, noControl)
	if known && ev.Email == "" && !el.failed("email") {
		el.problem("email", "missing; every SendGrid event names its recipient")
	}
	if t, ok := el.timestamp("timestamp"); ok {
		ev.Time = t
	} else if known && !el.failed("timestamp") {
		el.problem("timestamp", "missing; expected seconds since 1970, like 1513299569")
	}
	ev.SGEventID, _ = el.str("sg_event_id", MaxSGEventID, refuseLong, printableASCII)
	ev.URL, _ = el.str("url", lim.MaxURL, refuseLong, noControl)
	ev.BounceType, _ = el.str("type", maxName, refuseLong, noControl)
	ev.BounceType = strings.ToLower(ev.BounceType)
	ev.SendKey, _ = el.str(ArgSendKey, lim.MaxText, refuseLong, noControl)
	if leadID, present := el.str(ArgLead, 36, refuseLong, noControl); present {
		if isUUID(leadID) {
			ev.LeadID = strings.ToLower(leadID)
		} else {
			el.problem(ArgLead, "%q is not a lead ID; expected a UUID like 127998bf-b371-5e6b-a739-b43ac089fd91", leadID)
		}
	}
	ev.SGMessageID, _ = el.str("sg_message_id", lim.MaxText, cutLong, anyText)
	ev.Reason, _ = el.str("reason", lim.MaxText, cutLong, anyText)
	ev.Status, _ = el.str("status", lim.MaxText, cutLong, anyText)
	ev.UserAgent, _ = el.str("useragent", lim.MaxText, cutLong, anyText)
	ev.IP, _ = el.str("ip", lim.MaxText, cutLong, anyText)
	ev.MachineOpen = el.boolean("sg_machine_open")

	if ev.SGEventID == "" && ev.leadEventType() != "" && !el.failed("sg_event_id") {
		el.problem("sg_event_id", "missing; it is the ID under which nurture records this %s event, once", ev.Kind)
	}
	if len(el.problems) > 0 {
		return bad(el.problems...)
	}
	return ev
}

// maxName bounds the names SendGrid gives kinds and types of events
// ("group_resubscribe" is the longest today).
const maxName = 64

// How str treats a string longer than its limit, and which characters it
// takes.
const (
	refuseLong = false
	cutLong    = true
)

type charset int

const (
	anyText        charset = iota // any valid UTF-8
	noControl                     // no control characters (C0, DEL)
	printableASCII                // '!' to '~': identifiers
)

// failed reports whether a problem was recorded for the field.
func (el *element) failed(name string) bool {
	for _, p := range el.problems {
		if strings.HasPrefix(p, name+": ") {
			return true
		}
	}
	return false
}

// str reads an optional string field. Absent, null and "" read as "" and
// not present; anything else that is wrong is a problem.
func (el *element) str(name string, limit int, cut bool, set charset) (string, bool) {
	raw, ok := el.fields[name]
	if !ok {
		return "", false
	}
	raw = bytes.TrimSpace(raw)
	if string(raw) == "null" {
		return "", false
	}
	if len(raw) == 0 || raw[0] != '"' {
		el.problem(name, "expected a string, got %s", valueKind(raw))
		return "", false
	}
	// encoding/json would turn bytes that are not UTF-8 into U+FFFD
	// without a word; they are refused instead.
	if !utf8.Valid(raw) {
		el.problem(name, "not valid UTF-8")
		return "", false
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		el.problem(name, "%v", err)
		return "", false
	}
	if len(s) > limit {
		if !cut {
			el.problem(name, "%d bytes; at most %d", len(s), limit)
			return "", false
		}
		s = cutAt(s, limit)
	}
	switch set {
	case noControl:
		if i := strings.IndexFunc(s, isControl); i >= 0 {
			el.problem(name, "contains the control character %U", []rune(s[i:])[0])
			return "", false
		}
	case printableASCII:
		for i := 0; i < len(s); i++ {
			if s[i] < '!' || s[i] > '~' {
				el.problem(name, "%.40q: expected letters, digits and punctuation only", s)
				return "", false
			}
		}
	}
	return s, s != ""
}

// minTime and maxTime bound a timestamp: after 1970 and before the year
// 10000, so it is a date any database and formatter takes.
const (
	minTime = 1
	maxTime = 253402300799
)

// timestamp reads seconds since 1970 (a JSON number, whole).
func (el *element) timestamp(name string) (time.Time, bool) {
	raw, ok := el.fields[name]
	if !ok {
		return time.Time{}, false
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || valueKind(raw) != "a number" {
		el.problem(name, "expected a number (seconds since 1970, like 1513299569), got %s", valueKind(raw))
		return time.Time{}, false
	}
	secs, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil || secs < minTime || secs > maxTime {
		el.problem(name, "%.30s: expected whole seconds since 1970, like 1513299569", raw)
		return time.Time{}, false
	}
	return time.Unix(secs, 0).UTC(), true
}

// boolean reads an optional true or false.
func (el *element) boolean(name string) bool {
	raw, ok := el.fields[name]
	if !ok {
		return false
	}
	switch string(bytes.TrimSpace(raw)) {
	case "true":
		return true
	case "false", "null":
		return false
	}
	el.problem(name, "expected true or false, got %s", valueKind(raw))
	return false
}

// valueKind names the kind of a JSON value from its first byte, for
// messages.
func valueKind(raw []byte) string {
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "true or false"
	case 'n':
		return "null"
	}
	return "a number"
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// cutAt shortens s to at most n bytes without splitting a character.
func cutAt(s string, n int) string {
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// isUUID reports whether s is a UUID in its usual 8-4-4-4-12 form, as
// lead IDs are.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}
