package journeys

import (
	"bytes"
	"fmt"
	htmltemplate "html/template"
	"text/template"
	"text/template/parse"

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
		t, err := parseTemplate(c.ID+".html", c.HTML, true)
		if err != nil {
			return r, fmt.Errorf("content %q html: %w", c.ID, err)
		}
		if r.HTML, err = t.execute(data, maxSent); err != nil {
			return r, fmt.Errorf("content %q html: %w", c.ID, err)
		}
	}
	return r, nil
}

// maxSent bounds each part of an email rendered for sending. Validation
// trial-renders within maxRendered; a lead's own data (up to the profile
// limits of package lead) may add some, but a version published before
// the template limits existed must not build a message no server takes:
// past this, the send is a content error.
const maxSent = 1 << 20

func renderText(name, src string, data TemplateData) (string, error) {
	t, err := parseTemplate(name, src, false)
	if err != nil {
		return "", fmt.Errorf("content %s: %w", name, err)
	}
	out, err := t.execute(data, maxSent)
	if err != nil {
		return "", fmt.Errorf("content %s: %w", name, err)
	}
	return out, nil
}

// parsedTemplate is a text or an HTML template, parsed once: validation
// renders each with several sample leads.
type parsedTemplate struct {
	text *template.Template
	html *htmltemplate.Template
	root *parse.ListNode
	// defines counts the templates the source defines, itself included.
	defines int
}

// parseTemplate parses a subject, a text body or a task title as text, an
// HTML body as HTML (which escapes lead data for its context).
func parseTemplate(name, src string, html bool) (*parsedTemplate, error) {
	if html {
		t, err := htmltemplate.New(name).Option("missingkey=zero").Parse(src)
		if err != nil {
			return nil, err
		}
		return &parsedTemplate{html: t, root: t.Tree.Root, defines: len(t.Templates())}, nil
	}
	t, err := template.New(name).Option("missingkey=zero").Parse(src)
	if err != nil {
		return nil, err
	}
	return &parsedTemplate{text: t, root: t.Tree.Root, defines: len(t.Templates())}, nil
}

// execute renders the template; a limit of zero or more stops it past that
// many bytes with a *tooLong error.
func (t *parsedTemplate) execute(data TemplateData, limit int) (string, error) {
	var b bytes.Buffer
	w := &cappedWriter{b: &b, limit: limit}
	var err error
	if t.html != nil {
		err = t.html.Execute(w, data)
	} else {
		err = t.text.Execute(w, data)
	}
	if w.over {
		return "", &tooLong{}
	}
	return b.String(), err
}

// render is execute with the validation limit.
func (t *parsedTemplate) render(data TemplateData) (string, error) {
	return t.execute(data, maxRendered)
}

type tooLong struct{}

func (*tooLong) Error() string { return "the template writes too much" }

// cappedWriter stops a render that writes more than its limit: the
// template engine gives up at the first failed write.
type cappedWriter struct {
	b     *bytes.Buffer
	limit int
	over  bool
}

func (w *cappedWriter) Write(p []byte) (int, error) {
	if w.limit >= 0 && w.b.Len()+len(p) > w.limit {
		w.over = true
		return 0, &tooLong{}
	}
	return w.b.Write(p)
}

// RenderFor renders the item as a lead gets it: the variant of the lead's
// persona (its profile field "persona", read at send time, so a persona
// learned during the journey counts), filled with the lead's data.
func (c Content) RenderFor(p lead.Profile, unsubscribeURL string) (Rendered, error) {
	return c.ForPersona(p.Fields["persona"]).Render(DataFor(p, unsubscribeURL))
}

// RenderTaskTitle fills a task step's title template for a lead.
func RenderTaskTitle(title string, p lead.Profile) (string, error) {
	r, err := Content{ID: "task", Subject: title}.Render(DataFor(p, ""))
	return r.Subject, err
}
