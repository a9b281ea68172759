// Package delivery sends one email at most once per idempotency key and
// records in PostgreSQL how far it got, so that a crash, a lost reply or an
// outage is answered by the right move: retry, or stop and ask a person.
//
// A send is claimed by one attempt (a random token), then moves
//
//	claimed → connected → data → sent
//
// where data is stored just before the message's final dot goes to the
// server. The rules that follow from it:
//
//   - an attempt that stops before data (a crash, a refused connection, a
//     4xx before the message) left nothing the server could accept: the
//     next attempt claims the send again and delivers it;
//   - an attempt that stops after data without the server's reply (the
//     connection dropped, the reply timed out, the worker was killed) may
//     have delivered it: the send is ambiguous, is never sent again on its
//     own, keeps the message as it went out, and waits for an operator
//     (`starter sends`): mark it sent, or send the same bytes again with the
//     same Message-ID;
//   - a server that refuses for good (5xx) ends the send as rejected.
//
// The only window in which a lead can be mailed twice is an operator's
// resend of an ambiguous message that had in fact arrived; the only window
// in which one can be lost is an ambiguous send an operator marks sent.
// Both are decisions a person makes with the list in front of them.
package delivery

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/nurture-dev/nurture/email"
	"github.com/nurture-dev/nurture/store"
)

// Mailer transmits a rendered message; *email.Sender is one.
type Mailer interface {
	Transmit(ctx context.Context, to string, raw []byte, h email.Hooks) error
}

// Outcome is what became of a send.
type Outcome string

// Outcomes.
const (
	// Sent: the server accepted the message now.
	Sent Outcome = "sent"
	// AlreadySent: an earlier attempt delivered it.
	AlreadySent Outcome = "duplicate"
	// Rejected: the server refused it for good.
	Rejected Outcome = "rejected"
	// Ambiguous: it went out and no reply came; not sent again.
	Ambiguous Outcome = "ambiguous"
)

// Result says what became of a send, and why when it was not sent.
type Result struct {
	Outcome Outcome
	Reason  string
}

// Accepted is the heartbeat detail an attempt records the moment the
// server accepted its message, before it stores that: if storing fails
// and the attempt gives up, the next attempt reads it and records the send
// as sent instead of ambiguous.
type Accepted struct {
	Key   string `json:"key"`
	Token string `json:"token"`
}

// Options are how a caller joins in.
type Options struct {
	// Beat is called as the send moves on and while it waits, with a
	// detail to keep (an activity's heartbeat); nil when not in an
	// activity.
	Beat func(detail any)
	// Accepted is what a previous attempt recorded in its heartbeat.
	Accepted *Accepted
}

// beater beats with the latest detail, so a plain beat after the server's
// acceptance does not erase the Accepted detail.
// It is called from the conversation and from the wait for the reply.
type beater struct {
	o    Options
	mu   sync.Mutex
	last any
}

func (b *beater) beat(detail any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if detail != nil {
		b.last = detail
	}
	if b.o.Beat != nil {
		b.o.Beat(b.last)
	}
}

// Send delivers raw to s.To once per s.Key. An error means the send is not
// finished (nothing went out, or what went out is not yet recorded): retry
// it; the retry picks up where this attempt stopped.
func Send(ctx context.Context, db store.DB, mail Mailer, s store.Send, raw []byte, o Options) (Result, error) {
	if a := o.Accepted; a != nil && a.Key == s.Key {
		// A previous attempt saw the server accept this message but could
		// not store it before it stopped.
		err := store.AdvanceSend(ctx, db, s.Key, a.Token, store.SendSent, "", store.SendData, store.SendAmbiguous)
		if err == nil {
			return Result{Outcome: Sent}, nil
		}
		if !errors.Is(err, store.ErrClaimLost) {
			return Result{}, err
		}
	}
	token := uuid.NewString()
	err := store.ClaimSend(ctx, db, s, token)
	switch {
	case errors.Is(err, store.ErrAlreadySent):
		return Result{Outcome: AlreadySent}, nil
	case errors.Is(err, store.ErrRejected):
		return Result{Outcome: Rejected, Reason: "refused for good by the SMTP server on an earlier attempt"}, nil
	case errors.Is(err, store.ErrAmbiguous):
		// Keep the message for an operator, as the earlier attempt would
		// have if it had lived.
		if err := store.KeepMessage(ctx, db, s.Key, raw); err != nil {
			return Result{}, err
		}
		return Result{Outcome: Ambiguous, Reason: "an earlier attempt transmitted it and its reply was lost"}, nil
	case err != nil:
		return Result{}, err
	}
	return transmit(ctx, db, mail, s.Key, s.To, token, raw, o)
}

// errAcceptedUnrecorded: the server took the message, PostgreSQL did not
// take the news.
var errAcceptedUnrecorded = errors.New("the server accepted the message but recording that failed")

// all is every status a claimed send can be in mid-conversation.
var all = []store.SendStatus{store.SendClaimed, store.SendConnected, store.SendData}

// transmit runs the SMTP conversation for a claimed send and records its
// end.
func transmit(ctx context.Context, db store.DB, mail Mailer, key, to, token string, raw []byte, opts Options) (Result, error) {
	o := &beater{o: opts}
	hooks := email.Hooks{
		Connected: func() error {
			o.beat(nil)
			return store.AdvanceSend(ctx, db, key, token, store.SendConnected, "", store.SendClaimed, store.SendConnected)
		},
		Finishing: func() error {
			o.beat(nil)
			return store.AdvanceSend(ctx, db, key, token, store.SendData, "", store.SendConnected)
		},
		Waiting: func() { o.beat(nil) },
	}
	terr := mail.Transmit(ctx, to, raw, hooks)
	var se *email.SendError
	switch {
	case terr == nil:
		o.beat(Accepted{Key: key, Token: token})
		if err := record(ctx, o, func(ctx context.Context) error {
			return store.AdvanceSend(ctx, db, key, token, store.SendSent, "", store.SendData, store.SendAmbiguous)
		}); err != nil {
			return Result{}, fmt.Errorf("%w: send %s (the next attempt records it): %w", errAcceptedUnrecorded, key, err)
		}
		return Result{Outcome: Sent}, nil
	case email.IsReplyLost(terr):
		if err := record(ctx, o, func(ctx context.Context) error {
			if err := store.KeepMessage(ctx, db, key, raw); err != nil {
				return err
			}
			return store.AdvanceSend(ctx, db, key, token, store.SendAmbiguous, terr.Error(), store.SendData)
		}); err != nil {
			return Result{}, fmt.Errorf("send %s went out with no reply and recording that failed (the next attempt will): %w", key, err)
		}
		return Result{Outcome: Ambiguous, Reason: terr.Error()}, nil
	case email.IsPermanent(terr):
		if err := record(ctx, o, func(ctx context.Context) error {
			return store.AdvanceSend(ctx, db, key, token, store.SendRejected, terr.Error(), all...)
		}); err != nil {
			return Result{}, err
		}
		return Result{Outcome: Rejected, Reason: terr.Error()}, nil
	case errors.As(terr, &se) && se.Stage == email.Answered:
		// A temporary refusal of the message itself: not delivered.
		if err := record(ctx, o, func(ctx context.Context) error {
			return store.AdvanceSend(ctx, db, key, token, store.SendFailed, terr.Error(), store.SendData)
		}); err != nil {
			return Result{}, errors.Join(terr, err)
		}
		return Result{}, terr
	default:
		// Nothing of the message's end went out. Saying so helps an
		// operator; if it cannot be stored, the next attempt reclaims the
		// send from where it stands all the same.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = store.AdvanceSend(rctx, db, key, token, store.SendFailed, terr.Error(), store.SendClaimed, store.SendConnected)
		return Result{}, terr
	}
}

// record stores the end of a conversation, trying again while PostgreSQL
// is unreachable (beating, so the activity is not given up for dead) until
// ctx ends: what happened on the wire must not be forgotten because the
// database blinked.
func record(ctx context.Context, o *beater, write func(context.Context) error) error {
	wait := 100 * time.Millisecond
	for {
		err := write(ctx)
		if err == nil || errors.Is(err, store.ErrClaimLost) {
			return err
		}
		o.beat(nil)
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// Resend sends an ambiguous send's kept message again, byte for byte (so
// with its Message-ID, which lets mailbox providers fold a duplicate), on
// an operator's word; note says who decided and why. Its outcome is
// recorded like any send's; a resend whose reply is lost is ambiguous
// again.
func Resend(ctx context.Context, db store.DB, mail Mailer, key, note string) (Result, error) {
	row, err := store.GetSend(ctx, db, key)
	if err != nil {
		return Result{}, err
	}
	if row.Status != store.SendAmbiguous {
		return Result{}, fmt.Errorf("send %s is %s, not ambiguous; only an ambiguous send can be sent again", key, row.Status)
	}
	if len(row.Raw) == 0 {
		return Result{}, fmt.Errorf("send %s has no kept message to send again (recorded before messages were kept); mark it sent or leave it", key)
	}
	token := uuid.NewString()
	if err := store.ReclaimAmbiguous(ctx, db, key, token, note); err != nil {
		return Result{}, err
	}
	res, err := transmit(ctx, db, mail, key, row.To, token, row.Raw, Options{})
	if err == nil && res.Outcome == Sent {
		return res, nil
	}
	if errors.Is(err, errAcceptedUnrecorded) {
		return res, fmt.Errorf("%w; once PostgreSQL is back, mark it sent: starter sends resolve %s -sent", err, key)
	}
	// Whatever this attempt did not achieve, the first transmission's fate
	// is still unknown: the send stays ambiguous, for another decision.
	why := res.Reason
	if err != nil {
		why = err.Error()
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if rerr := store.AdvanceSend(rctx, db, key, token, store.SendAmbiguous, "resend: "+why, append(all, store.SendFailed, store.SendRejected, store.SendAmbiguous)...); rerr != nil {
		return Result{}, errors.Join(fmt.Errorf("resend %s did not go through: %s", key, why), rerr)
	}
	return Result{Outcome: Ambiguous, Reason: why}, fmt.Errorf("resend %s did not go through, it stays ambiguous: %s", key, why)
}
