package simulate

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/lexer"
	"github.com/goccy/go-yaml/token"

	"github.com/nurture-dev/nurture/lead"
)

// MaxCaseBytes bounds a case file: a lead, a script and expectations.
const MaxCaseBytes = 64 << 10

// Case is a simulation kept in a file beside a journey:
//
//	journey: b2b-nurture        # the journey it is for (checked)
//	lead:
//	  email: ada@analytical.test
//	  first_name: Ada
//	  title: CTO
//	  persona: executive
//	  time_zone: Europe/London
//	  fields: {employees: "1200"}
//	stage: evaluation           # optional: start further on
//	start: 2026-11-23T09:00:00Z # optional: when journey time starts
//	script:
//	  - 12h email_click
//	  - 3d whitepaper_download
//	  - 10d 14:00 pricing_page_view
//	expect:
//	  - handoff-by=30d
type Case struct {
	Journey string   `yaml:"journey"`
	Lead    LeadSpec `yaml:"lead"`
	Stage   string   `yaml:"stage"`
	Start   string   `yaml:"start"`
	Script  []string `yaml:"script"`
	Expect  []string `yaml:"expect"`

	// Parsed from the above.
	Actions      []Action      `yaml:"-"`
	Expectations []Expectation `yaml:"-"`
	StartAt      time.Time     `yaml:"-"`
}

// LeadSpec is the made-up lead of a case.
type LeadSpec struct {
	Email     string            `yaml:"email"`
	FirstName string            `yaml:"first_name"`
	LastName  string            `yaml:"last_name"`
	Company   string            `yaml:"company"`
	Title     string            `yaml:"title"`
	TimeZone  string            `yaml:"time_zone"`
	Source    string            `yaml:"source"`
	Persona   string            `yaml:"persona"`
	Fields    map[string]string `yaml:"fields"`
}

// Profile is the lead as a journey sees it.
func (s LeadSpec) Profile() lead.Profile {
	p := lead.Profile{Email: s.Email, FirstName: s.FirstName, LastName: s.LastName, Company: s.Company, Title: s.Title,
		TimeZone: s.TimeZone, Source: s.Source, Fields: map[string]string{}}
	for k, v := range s.Fields {
		p.Fields[k] = v
	}
	if s.Persona != "" {
		p.Fields["persona"] = s.Persona
	}
	return p
}

// ParseCase reads a case file. Anchors and aliases are refused (a case is
// small and has no use for them, and they are how a small YAML file
// becomes a huge one); every other mistake says where it is.
func ParseCase(name string, src []byte) (Case, error) {
	var c Case
	if len(src) > MaxCaseBytes {
		return c, fmt.Errorf("%s is %d bytes; a simulation case is at most %d", name, len(src), MaxCaseBytes)
	}
	if err := refuseAliases(name, src); err != nil {
		return c, err
	}
	if err := decodeStrict(src, &c); err != nil {
		return c, fmt.Errorf("%s: %w", name, err)
	}
	p := c.Lead.Profile()
	if err := p.Normalize(); err != nil {
		return c, fmt.Errorf("%s: lead: %w", name, err)
	}
	var errs []error
	if c.Start != "" {
		t, err := ParseStart(c.Start)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: start: %w", name, err))
		}
		c.StartAt = t
	}
	actions, err := ParseScript(name+": script", strings.Join(c.Script, "\n"))
	if err != nil {
		errs = append(errs, err)
	}
	c.Actions = actions
	for i, s := range c.Expect {
		e, err := ParseExpectation(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: expect[%d]: %w", name, i, err))
			continue
		}
		c.Expectations = append(c.Expectations, e)
	}
	return c, errors.Join(errs...)
}

// refuseAliases refuses anchors and aliases: a case or a model is small
// and has no use for them, and they are how a small YAML file becomes a
// huge one.
func refuseAliases(name string, src []byte) error {
	for _, tk := range lexer.Tokenize(string(src)) {
		if tk.Type == token.AnchorType || tk.Type == token.AliasType {
			return fmt.Errorf("%s:%d:%d: anchors and aliases (& and *) are not used here; write the value out", name, tk.Position.Line, tk.Position.Column)
		}
	}
	return nil
}

// decodeStrict decodes with unknown keys refused; the YAML reader's panics
// on malformed input become errors.
func decodeStrict(src []byte, v any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = errors.New("the YAML reader could not read this file; look for unusual syntax")
		}
	}()
	if err := yaml.UnmarshalWithOptions(src, v, yaml.Strict()); err != nil {
		return errors.New(yaml.FormatError(err, false, false))
	}
	return nil
}

// ParseStart reads a start time: RFC 3339, or a date (midnight UTC).
func ParseStart(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return t, fmt.Errorf("%q: write a date (2026-11-23) or a time (2026-11-23T09:00:00Z)", s)
	}
	return t, nil
}
