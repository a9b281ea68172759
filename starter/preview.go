package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/uuid"

	"github.com/nurture-dev/nurture/email"
	"github.com/nurture-dev/nurture/journeys"
	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/store"
)

// previewUnsubscribe stands in for the signed unsubscribe link a real send
// carries: a preview or a test send must not unsubscribe anyone.
const previewUnsubscribe = "https://nurture.invalid/unsubscribe/preview"

// sampleLead registers the flags of the lead content is rendered for, with
// a plausible sample as the default.
func sampleLead(fs *flag.FlagSet) *lead.Profile {
	p := &lead.Profile{Fields: map[string]string{}}
	fs.StringVar(&p.Email, "email", "ada@example.test", "the sample lead's address")
	fs.StringVar(&p.FirstName, "first-name", "Ada", "first name")
	fs.StringVar(&p.LastName, "last-name", "Lovelace", "last name")
	fs.StringVar(&p.Company, "company", "Analytical Engines", "company")
	fs.StringVar(&p.Title, "title", "CTO", "job title")
	fs.Var(keyValues(p.Fields), "field", "profile field key=value (repeatable): industry=saas, employees=250, ...")
	return p
}

// contentOf loads a journey file and one of its content items.
func contentOf(path, id string) (*journeys.Journey, journeys.Content, error) {
	j, _, err := journeys.LoadFile(path)
	if err != nil {
		return nil, journeys.Content{}, err
	}
	item, ok := j.ContentItem(id)
	if !ok {
		var ids []string
		for _, c := range j.Content {
			ids = append(ids, c.ID)
		}
		return nil, item, fmt.Errorf("journey %s has no content %q; it has %s", j.ID, id, strings.Join(ids, ", "))
	}
	return j, item, nil
}

// personasOf lists the personas that see a version of their own, "" (every
// other lead) first.
func personasOf(j *journeys.Journey, item journeys.Content) []string {
	out := []string{""}
	for _, p := range j.Personas {
		if _, ok := item.Variants[p]; ok {
			out = append(out, p)
		}
	}
	return out
}

func render(item journeys.Content, p lead.Profile, persona string) (journeys.Rendered, error) {
	fields := map[string]string{}
	for k, v := range p.Fields {
		fields[k] = v
	}
	delete(fields, "persona")
	if persona != "" {
		fields["persona"] = persona
	}
	p.Fields = fields
	return item.RenderFor(p, previewUnsubscribe)
}

func personaName(p string) string {
	if p == "" {
		return "every lead without a persona of its own"
	}
	return "persona " + p
}

func runPreview(_ context.Context, env *environment, args []string) error {
	fs := flag.NewFlagSet("starter preview", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	p := sampleLead(fs)
	out := fs.String("out", ".nurture/preview", "folder the HTML parts are written to, one file per persona")
	fs.Usage = func() {
		fmt.Fprint(env.stderr, "usage: starter preview [flags] JOURNEY.yaml CONTENT\n\nRenders a content item's subject, text and HTML for each persona's variant,\nwith a sample lead (change it with the flags). Prints subject and text;\nwrites each HTML part to a file a browser opens. Needs no database.\n\nflags:\n")
		fs.PrintDefaults()
	}
	args, err := positional(fs, args, 2, "name the journey file and the content item")
	if err != nil {
		return err
	}
	j, item, err := contentOf(args[0], args[1])
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	for _, persona := range personasOf(j, item) {
		r, err := render(item, *p, persona)
		if err != nil {
			return fmt.Errorf("%s for %s: %w", item.ID, personaName(persona), err)
		}
		fmt.Fprintf(env.stdout, "== %s, for %s\nsubject: %s\n\n%s\n", item.ID, personaName(persona), r.Subject, strings.TrimRight(r.Text, "\n"))
		if r.HTML == "" {
			fmt.Fprintln(env.stdout, "(no HTML part)")
			continue
		}
		name := item.ID
		if persona != "" {
			name += "." + persona
		}
		file := filepath.Join(*out, name+".html")
		if err := os.WriteFile(file, []byte(r.HTML), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "HTML: %s\n\n", file)
	}
	return nil
}

func runTestSend(ctx context.Context, env *environment, args []string) error {
	fs, cfg := flags(env, "test-send", "JOURNEY.yaml CONTENT", "Mails a content item, rendered for a sample lead, to your own address through\nthe configured SMTP server, marked [TEST] in its subject and an X-Nurture-Test\nheader. It is recorded as a test (table test_sends): never counted in reports,\nsends or a lead's status. Links are not tracked; its unsubscribe link goes nowhere.")
	p := sampleLead(fs)
	to := fs.String("to", "", "your address (required)")
	persona := fs.String("persona", "", "render the variant of this persona")
	args, err := positional(fs, args, 2, "name the journey file and the content item")
	if err != nil {
		return err
	}
	if *to == "" {
		return misused(fs, errors.New("-to: say where the test goes"))
	}
	addr := lead.Profile{Email: *to}
	if err := addr.Normalize(); err != nil {
		return fmt.Errorf("-to: %w", err)
	}
	j, item, err := contentOf(args[0], args[1])
	if err != nil {
		return err
	}
	if *persona != "" {
		if _, ok := item.Variants[*persona]; !ok {
			return fmt.Errorf("content %q has no variant for persona %q; it has one for %s", item.ID, *persona, strings.Join(personasOf(j, item)[1:], ", "))
		}
	}
	r, err := render(item, *p, *persona)
	if err != nil {
		return fmt.Errorf("%s does not render for the sample lead: %w", item.ID, err)
	}
	conn, err := connect(ctx, env, cfg, false)
	if err != nil {
		return err
	}
	defer conn.Close()
	mail, err := email.New(cfg.SMTP)
	if err != nil {
		return err
	}
	defer mail.Close()
	msg := email.Message{To: addr.Email, Subject: "[TEST] " + r.Subject, Text: r.Text, HTML: r.HTML,
		MessageID: email.MessageID("test/"+uuid.NewString(), mail.Domain()), UnsubscribeURL: previewUnsubscribe,
		Headers: map[string]string{"X-Nurture-Test": "1", "X-Nurture-Journey": j.ID, "X-Nurture-Content": item.ID}}
	rec := store.TestSend{JourneyID: j.ID, ContentID: item.ID, Persona: *persona, To: addr.Email, Subject: msg.Subject, MessageID: msg.MessageID, Status: "sent"}
	sendErr := mail.Send(ctx, msg)
	if sendErr != nil {
		rec.Status, rec.Error = "failed", sendErr.Error()
	}
	if _, err := store.RecordTestSend(ctx, conn.db, rec); err != nil {
		return errors.Join(sendErr, err)
	}
	if sendErr != nil {
		return fmt.Errorf("test send of %s to %s: %w", item.ID, addr.Email, sendErr)
	}
	fmt.Fprintf(env.stdout, "sent a test of %s (%s) to %s, %s; recorded as a test, not counted in reports\n", item.ID, personaName(*persona), addr.Email, msg.MessageID)
	return nil
}
