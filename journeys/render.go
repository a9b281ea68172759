package journeys

import (
	"bytes"
	"fmt"
	htmltemplate "html/template"
	"text/template"

	"github.com/nurture-dev/nurture/lead"
)

// TemplateData is what content templates can use: {{.FirstName}},
// {{.Company}}, {{index .Fields "industry"}}, {{.UnsubscribeURL}}.
// A template that names anything else fails validation.
type TemplateData struct {
	FirstName      string
	LastName       string
	Email          string
	Company        string
	Title          string
	Fields         map[string]string
	UnsubscribeURL string
}

// DataFor builds the template data of a lead.
func DataFor(p lead.Profile, unsubscribeURL string) TemplateData {
	return TemplateData{
		FirstName: p.FirstName, LastName: p.LastName, Email: p.Email,
		Company: p.Company, Title: p.Title, Fields: p.Fields,
		UnsubscribeURL: unsubscribeURL,
	}
}

// Rendered is a content item filled in for one lead.
type Rendered struct {
	Subject string
	HTML    string
	Text    string
}

// Render fills a content item's templates.
func (c Content) Render(data TemplateData) (Rendered, error) {
	var r Rendered
	var err error
	if r.Subject, err = renderText(c.ID+".subject", c.Subject, data); err != nil {
		return r, err
	}
	if c.Text != "" {
		if r.Text, err = renderText(c.ID+".text", c.Text, data); err != nil {
			return r, err
		}
	}
	if c.HTML != "" {
		t, err := htmltemplate.New(c.ID + ".html").Option("missingkey=zero").Parse(c.HTML)
		if err != nil {
			return r, fmt.Errorf("content %q html: %w", c.ID, err)
		}
		var b bytes.Buffer
		if err := t.Execute(&b, data); err != nil {
			return r, fmt.Errorf("content %q html: %w", c.ID, err)
		}
		r.HTML = b.String()
	}
	return r, nil
}

func renderText(name, src string, data TemplateData) (string, error) {
	t, err := template.New(name).Option("missingkey=zero").Parse(src)
	if err != nil {
		return "", fmt.Errorf("content %s: %w", name, err)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		return "", fmt.Errorf("content %s: %w", name, err)
	}
	return b.String(), nil
}
