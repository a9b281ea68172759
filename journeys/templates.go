package journeys

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template/parse"
	"unicode/utf8"
)

// Trial rendering. A template that parses can still fail on a lead's data
// ({{slice .FirstName 0 3}} for a lead called Al), and a failed render
// stops that lead's journey. So validation renders every subject, body
// and task title — each persona variant too — with sample leads chosen to
// break templates: every field filled in; every field empty and no extra
// fields; one-letter fields; names and fields in other scripts. A failure
// names the field and the value that broke it, found by trying the full
// lead with one field at a time changed to the failing lead's.
//
// It also keeps templates bounded, since they run in workers for every
// lead: {{define}}, {{template}} and {{block}} could recurse without end,
// and {{range}} over anything but .Fields (a number, say) could loop a
// billion times, so they are refused; one render may write at most
// maxRendered bytes.

// sentinelURL is the unsubscribe link the samples carry: a body whose
// output holds it has the link, in whatever form the template writes it.
const sentinelURL = "https://unsubscribe.invalid/nurture-validation-check"

// maxRendered bounds the output of one trial render. Gmail clips an email
// over about 100 KB (hiding what is below, the unsubscribe link too), so a
// body past this is a mistake.
const maxRendered = 256 << 10

// maxTrialOutput bounds what all trial renders of one file may write: the
// largest valid journeys write a few MiB.
const maxTrialOutput = 64 << 20

// templateFieldList is what TemplateData offers, in the order the docs
// list it.
const templateFieldList = ".FirstName, .LastName, .Email, .Company, .Title, .Fields and .UnsubscribeURL"

// sample is a lead templates are tried with, and how to say which.
type sample struct {
	about string
	data  TemplateData
}

// sampleLeads are the leads templates are tried with, the full one first.
// A lead always has an e-mail address (it is the lead), so Email is never
// empty.
func sampleLeads() []sample {
	return []sample{
		{"a lead with every field filled in", TemplateData{FirstName: "Ada", LastName: "Lovelace", Email: "ada@example.com", Company: "Analytical Engines", Title: "CTO",
			Fields: map[string]string{"industry": "software", "persona": "technical", "country": "GB"}, UnsubscribeURL: sentinelURL}},
		{"a lead whose fields are one letter long", TemplateData{FirstName: "A", LastName: "B", Email: "a@b.co", Company: "C", Title: "D",
			Fields: map[string]string{}, UnsubscribeURL: sentinelURL}},
		{"a lead whose name and company are in other scripts", TemplateData{FirstName: "Zoë", LastName: "Łódź-Müller", Email: "zoë@例え.jp", Company: "東京 Systems 🚀", Title: "Directrice générale",
			Fields: map[string]string{"industry": "Ingeniería", "city": "東京"}, UnsubscribeURL: sentinelURL}},
		{"a lead whose fields are all empty", TemplateData{Email: "x@example.com", UnsubscribeURL: sentinelURL}},
	}
}

// leadField is a field a failure can be pinned on, with how to say it.
type leadField struct {
	name string
	get  func(TemplateData) string
	set  func(*TemplateData, TemplateData)
}

func leadFields() []leadField {
	return []leadField{
		{"first name", func(d TemplateData) string { return d.FirstName }, func(d *TemplateData, s TemplateData) { d.FirstName = s.FirstName }},
		{"last name", func(d TemplateData) string { return d.LastName }, func(d *TemplateData, s TemplateData) { d.LastName = s.LastName }},
		{"e-mail", func(d TemplateData) string { return d.Email }, func(d *TemplateData, s TemplateData) { d.Email = s.Email }},
		{"company", func(d TemplateData) string { return d.Company }, func(d *TemplateData, s TemplateData) { d.Company = s.Company }},
		{"title", func(d TemplateData) string { return d.Title }, func(d *TemplateData, s TemplateData) { d.Title = s.Title }},
		{"fields", func(d TemplateData) string { return describeFields(d.Fields) }, func(d *TemplateData, s TemplateData) { d.Fields = s.Fields }},
	}
}

func describeFields(f map[string]string) string {
	if len(f) == 0 {
		return ""
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(f)) {
		parts = append(parts, fmt.Sprintf("%s: %q", k, f[k]))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// who says which lead a template fails for: the one field that, changed
// from the full sample to the failing one's, makes it fail; else the
// failing sample as a whole.
func who(failing sample, fails func(TemplateData) bool) string {
	full := sampleLeads()[0].data
	for _, f := range leadFields() {
		d := full
		f.set(&d, failing.data)
		if f.get(d) == f.get(full) || !fails(d) {
			continue
		}
		v := f.get(d)
		switch {
		case f.name == "fields" && v == "":
			return "a lead with no extra fields"
		case f.name == "fields":
			return "a lead whose fields are " + v
		case v == "":
			return "a lead whose " + f.name + " is empty"
		case utf8.RuneCountInString(v) == 1:
			return fmt.Sprintf("a lead whose %s is %q (one letter)", f.name, v)
		}
		return fmt.Sprintf("a lead whose %s is %q", f.name, v)
	}
	return failing.about
}

// part is one template to try: where it is in the file, what to call it,
// and whether it is a body that must carry the unsubscribe link.
type part struct {
	path string
	what string // content "x" html
	src  string
	html bool
	body bool
}

// tryTemplate parses, checks and trial-renders one template.
func (v *validator) tryTemplate(p part) {
	if p.src == "" {
		return
	}
	if v.trialOutput > maxTrialOutput {
		if !v.trialsStopped {
			v.trialsStopped = true
			v.errorf(p.path, "%s and the templates after it were not tried: the file's templates write more than %d MiB in all for the sample leads; is something repeated many times?", p.what, maxTrialOutput>>20)
		}
		return
	}
	t, err := parseTemplate("template", p.src, p.html)
	if err != nil {
		v.templateError(p, err, "")
		return
	}
	if msg, ok := unbounded(t); !ok {
		v.errorf(p.path, "%s: %s", p.what, msg)
		return
	}
	render := func(d TemplateData) (string, error) {
		out, err := t.render(d)
		v.trialOutput += len(out)
		return out, err
	}
	fails := func(d TemplateData) bool { _, err := render(d); return err != nil }
	samples := sampleLeads()
	outs := make([]string, len(samples))
	for i, s := range samples {
		out, err := render(s.data)
		if err != nil {
			lead := ""
			if i > 0 {
				lead = who(s, fails)
			}
			v.templateError(p, err, lead)
			return
		}
		outs[i] = out
	}
	for i, out := range outs {
		if !utf8.ValidString(out) {
			broken := func(d TemplateData) bool { out, err := render(d); return err == nil && !utf8.ValidString(out) }
			v.errorf(p.path, "%s cuts a character in half for %s (slice and index count bytes, not letters); use the whole field, or printf \"%%.3s\" which counts letters", p.what, who(samples[i], broken))
			return
		}
	}
	if !p.body {
		return
	}
	link := `{{.UnsubscribeURL}}`
	if p.html {
		link = `<a href="{{.UnsubscribeURL}}">Unsubscribe</a>`
	}
	for i, out := range outs {
		if strings.Contains(out, sentinelURL) {
			continue
		}
		if i == 0 {
			v.errorf(p.path, "%s has no unsubscribe link: add %s; every email needs a visible one-click way out (RFC 8058, and the bulk-sender rules of Gmail and Yahoo)", p.what, link)
			return
		}
		missing := func(d TemplateData) bool {
			out, err := render(d)
			return err == nil && !strings.Contains(out, sentinelURL)
		}
		v.errorf(p.path, "%s has no unsubscribe link for %s: keep %s outside any {{if}} or {{with}}; every email needs one", p.what, who(samples[i], missing), link)
		return
	}
}

// templateError reports a template that failed, at the line and column in
// the file when they can be worked out.
func (v *validator) templateError(p part, err error, lead string) {
	words, line, col := templateWords(err)
	msg := p.what + ": " + words
	if lead != "" {
		msg = fmt.Sprintf("%s: fails for %s: %s", p.what, lead, words)
	}
	if fl, fc, ok := v.templatePosition(p, line, col); ok {
		v.problemAt(fl, fc, false, "%s", msg)
		return
	}
	if line > 0 && strings.Contains(p.src, "\n") {
		msg += fmt.Sprintf(" (line %d of the template)", line)
	}
	v.errorf(p.path, "%s", msg)
}

// templatePosition maps a line and column in a template to the file: exact
// for a literal block (|) and for a plain value on one line; the others
// (quoted, folded) move text around, and are reported where they start.
func (v *validator) templatePosition(p part, line, col int) (int, int, bool) {
	at, ok := v.pos.value[p.path]
	if !ok || line < 1 {
		return 0, 0, false
	}
	tlines := strings.Split(p.src, "\n")
	if line > len(tlines) {
		return 0, 0, false
	}
	runeCol := func(l string) int {
		if col < 0 || col > len(l) {
			return 0
		}
		return utf8.RuneCountInString(l[:col])
	}
	switch {
	case at.Literal:
		// The block's indentation is the file line's, less what the
		// template line keeps of it.
		fileLine := at.Line + line
		tl := tlines[line-1]
		indent := v.indentOf(fileLine) - (len(tl) - len(strings.TrimLeft(tl, " ")))
		if indent < 0 {
			return 0, 0, false
		}
		return fileLine, indent + 1 + runeCol(tl), true
	case at.Plain && len(tlines) == 1:
		return at.Line, at.Column + runeCol(tlines[0]), true
	}
	return 0, 0, false
}

// indentOf is the indentation of a line of the file, in characters, or -1
// when there is no such line.
func (v *validator) indentOf(line int) int {
	if v.lines == nil {
		v.lines = strings.Split(string(v.src), "\n")
	}
	if line < 1 || line > len(v.lines) {
		return -1
	}
	l := v.lines[line-1]
	return len(l) - len(strings.TrimLeft(l, " "))
}

// unbounded says why a template could run without end, or write without
// end, if it could.
func unbounded(t *parsedTemplate) (string, bool) {
	if t.defines > 1 {
		return "{{define}} and {{block}} are not available in journey content; write the text where it is needed", false
	}
	return checkNode(t.root, false)
}

func checkNode(n parse.Node, inRange bool) (string, bool) {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return "", true
		}
		for _, c := range n.Nodes {
			if msg, ok := checkNode(c, inRange); !ok {
				return msg, false
			}
		}
	case *parse.TemplateNode:
		return "{{template}} is not available in journey content; write the text where it is needed", false
	case *parse.ActionNode:
		return checkNode(n.Pipe, inRange)
	case *parse.PipeNode:
		if n == nil {
			return "", true
		}
		for _, c := range n.Cmds {
			if msg, ok := checkNode(c, inRange); !ok {
				return msg, false
			}
		}
	case *parse.CommandNode:
		if id, ok := n.Args[0].(*parse.IdentifierNode); ok && id.Ident == "printf" {
			if msg, ok := checkPrintf(n.Args[1:]); !ok {
				return msg, false
			}
		}
		for _, a := range n.Args {
			if msg, ok := checkNode(a, inRange); !ok {
				return msg, false
			}
		}
	case *parse.IfNode:
		return checkBranch(&n.BranchNode, inRange)
	case *parse.WithNode:
		return checkBranch(&n.BranchNode, inRange)
	case *parse.RangeNode:
		if inRange {
			return "{{range}} inside {{range}} is not available in journey content", false
		}
		if !overFields(n.Pipe) {
			return "{{range}} can only go over .Fields, like {{range $name, $value := .Fields}}", false
		}
		return checkBranch(&n.BranchNode, true)
	}
	return "", true
}

func checkBranch(b *parse.BranchNode, inRange bool) (string, bool) {
	// checkNode takes a nil *PipeNode or *ListNode (an if without else).
	for _, n := range []parse.Node{b.Pipe, b.List, b.ElseList} {
		if msg, ok := checkNode(n, inRange); !ok {
			return msg, false
		}
	}
	return "", true
}

// maxWidth bounds printf's widths and precisions: fmt pads up to a million
// characters for each verb, which many verbs in many templates turn into
// gigabytes before any output limit sees a byte.
const maxWidth = 100

// checkPrintf checks that printf has its format written in quotes, with
// widths and precisions of at most maxWidth.
func checkPrintf(args []parse.Node) (string, bool) {
	if len(args) == 0 {
		return "printf needs its format first, in quotes, like {{printf \"%.3s\" .FirstName}}", false
	}
	f, ok := args[0].(*parse.StringNode)
	if !ok {
		return "printf needs its format first, in quotes, like {{printf \"%.3s\" .FirstName}}", false
	}
	format := f.Text
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			continue
		}
		i++
		n := 0
		for ; i < len(format); i++ {
			c := format[i]
			switch {
			case c >= '0' && c <= '9':
				n = min(n*10+int(c-'0'), 10*maxWidth)
				if n > maxWidth {
					return fmt.Sprintf("printf width or precision above %d in %q; an email needs no more", maxWidth, shorten(format)), false
				}
				continue
			case c == '*':
				return fmt.Sprintf("printf takes its widths written in the format (no *) in %q", shorten(format)), false
			case c == '.' || c == '+' || c == '-' || c == '#' || c == ' ' || c == '[' || c == ']':
				n = 0
				continue
			}
			break
		}
	}
	return "", true
}

func overFields(p *parse.PipeNode) bool {
	if p == nil || len(p.Cmds) != 1 || len(p.Cmds[0].Args) != 1 {
		return false
	}
	f, ok := p.Cmds[0].Args[0].(*parse.FieldNode)
	return ok && len(f.Ident) == 1 && f.Ident[0] == "Fields"
}

// Template errors. Go's text and html templates say what went wrong in Go's
// terms (can't evaluate field Firstname in type journeys.TemplateData);
// these say it in a marketer's, with what would be right.
var (
	execError  = regexp.MustCompile(`^template: [^:]*:(\d+):(\d+): executing "[^"]*" at <(.*?)>: (.*)$`)
	parseError = regexp.MustCompile(`^template: [^:]*:(\d+):(?:(\d+):)? (.*)$`)
	htmlError  = regexp.MustCompile(`^html/template:[^:]*:(?:(\d+):)?(?:(\d+):)? (.*)$`)
	goState    = regexp.MustCompile(`\{state\w*[^}]*\}`)
)

// templateWords turns a template error into words, with the line and (byte)
// column in the template when Go gives them; 0 when it does not.
func templateWords(err error) (string, int, int) {
	msg := err.Error()
	var te *tooLong
	if errors.As(err, &te) {
		return fmt.Sprintf("writes more than %d KiB; Gmail cuts emails off at about 100 KB, the unsubscribe link with them", maxRendered>>10), 0, 0
	}
	if m := execError.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		col, _ := strconv.Atoi(m[2])
		return execWords("{{"+m[3]+"}}", m[4]), line, col
	}
	if m := htmlError.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return htmlWords(m[3]), line, -1
	}
	if m := parseError.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return parseWords(m[3]), line, -1
	}
	return "the template does not work: " + goState.ReplaceAllString(msg, ""), 0, 0
}

var (
	unknownField  = regexp.MustCompile(`^can't evaluate field (\w+) in type journeys\.TemplateData`)
	fieldOfText   = regexp.MustCompile(`^can't evaluate field (\w+) in type`)
	outOfRange    = regexp.MustCompile(`^error calling (slice|index): .*out of range`)
	calling       = regexp.MustCompile(`^error calling (\w+): (.*)$`)
	wrongArgs     = regexp.MustCompile(`^wrong number of args for (\w+): want (.*) got (\d+)`)
	notAFunction  = regexp.MustCompile(`^(\w+) has arguments but cannot be invoked as function`)
	nilPointer    = regexp.MustCompile(`^nil pointer evaluating`)
	badCharacter  = regexp.MustCompile(`^bad character U\+[0-9A-F]+ '(.*)'`)
	undefinedFunc = regexp.MustCompile(`^function "(.*)" not defined`)
	undefinedVar  = regexp.MustCompile(`^undefined variable "(.*)"`)
	missingValue  = regexp.MustCompile(`^missing value for (\w+)`)
	unexpected    = regexp.MustCompile(`^unexpected (.*?) in (?:operand|command|input)`)
	notText       = regexp.MustCompile(`^ends in a non-text context: \{(\w+) \w+ \w+ \w+ \S+ \w+ (\w+)`)
	branches      = regexp.MustCompile(`^\{\{(\w+)\}\} branches end in different contexts`)
	ambiguousURL  = regexp.MustCompile(`^(.*) appears in an ambiguous context within a URL`)
)

const templateFuncs = "and, or, not, eq, ne, lt, le, gt, ge, len, index, slice, print, printf, println, html, js and urlquery"

func execWords(action, reason string) string {
	switch {
	case unknownField.MatchString(reason):
		name := unknownField.FindStringSubmatch(reason)[1]
		msg := "unknown field ." + name + ";"
		if near := nearestOf(name, []string{"FirstName", "LastName", "Email", "Company", "Title", "Fields", "UnsubscribeURL"}); near != "" {
			msg += " did you mean ." + near + "?"
		}
		return msg + " templates can use " + templateFieldList
	case fieldOfText.MatchString(reason):
		return fmt.Sprintf("%s: .%s is not there; a lead's fields are %s, and the extra fields are read with {{index .Fields \"industry\"}}",
			action, fieldOfText.FindStringSubmatch(reason)[1], templateFieldList)
	case outOfRange.MatchString(reason):
		return action + " goes past the end of the text; use the whole field, or printf \"%.3s\" to keep at most 3 letters"
	case strings.Contains(reason, "incompatible types for comparison"):
		return action + " compares text with a number; put the number in quotes"
	case wrongArgs.MatchString(reason):
		m := wrongArgs.FindStringSubmatch(reason)
		return fmt.Sprintf("%s: %s takes %s values, not %s", action, m[1], m[2], m[3])
	case notAFunction.MatchString(reason):
		return fmt.Sprintf("%s: .%s is a value, not a function; remove what follows it (a space inside a name splits it)", action, notAFunction.FindStringSubmatch(reason)[1])
	case nilPointer.MatchString(reason):
		return action + " reads a value the lead does not have"
	case strings.HasPrefix(reason, "range can't iterate over"):
		return action + ": {{range}} can only go over .Fields"
	case calling.MatchString(reason):
		m := calling.FindStringSubmatch(reason)
		return fmt.Sprintf("%s: %s cannot be used on this value", action, m[1])
	}
	return action + " fails: " + goState.ReplaceAllString(strings.ReplaceAll(reason, "journeys.TemplateData", "the lead"), "")
}

func parseWords(reason string) string {
	switch {
	case strings.HasPrefix(reason, "unclosed action"):
		return "a {{ is not closed; end it with }}"
	case reason == "bad character U+007D '}'":
		return "a single } inside {{ }}; an action ends with two braces, }}"
	case badCharacter.MatchString(reason):
		return fmt.Sprintf("unexpected character '%s' inside {{ }}", badCharacter.FindStringSubmatch(reason)[1])
	case reason == "unexpected EOF":
		return "the template ends inside an {{if}}, {{range}} or {{with}}; add its {{end}}"
	case reason == "unexpected {{end}}":
		return "this {{end}} closes nothing: no {{if}}, {{range}} or {{with}} is open"
	case reason == "unexpected {{else}}":
		return "this {{else}} is outside an {{if}}, {{range}} or {{with}}"
	case undefinedFunc.MatchString(reason):
		return fmt.Sprintf("unknown function %q (a space inside a {{.Name}} splits it in two); templates can use %s", undefinedFunc.FindStringSubmatch(reason)[1], templateFuncs)
	case undefinedVar.MatchString(reason):
		return fmt.Sprintf("the variable %s is not set; set it first, like {{%s := .FirstName}}", undefinedVar.FindStringSubmatch(reason)[1], undefinedVar.FindStringSubmatch(reason)[1])
	case strings.HasPrefix(reason, "unclosed comment"):
		return "a comment {{/* is not closed with */}}"
	case strings.HasPrefix(reason, "unterminated quoted string") || strings.HasPrefix(reason, "unterminated raw quoted string"):
		return "a quoted text inside {{ }} is not closed"
	case reason == "unexpected right paren":
		return "a ) inside {{ }} closes nothing"
	case reason == "unclosed left paren":
		return "a ( inside {{ }} is not closed"
	case missingValue.MatchString(reason):
		return fmt.Sprintf("{{%s}} needs something to test, like {{%s .Company}}", missingValue.FindStringSubmatch(reason)[1], missingValue.FindStringSubmatch(reason)[1])
	case unexpected.MatchString(reason):
		return fmt.Sprintf("unexpected %s inside {{ }}", unexpected.FindStringSubmatch(reason)[1])
	case strings.Contains(reason, "{{break}}") || strings.Contains(reason, "{{continue}}"):
		return reason
	}
	return "the template does not parse: " + reason
}

func htmlWords(reason string) string {
	if m := notText.FindStringSubmatch(reason); m != nil {
		switch state, element := m[1], m[2]; {
		case state == "stateHTMLCmt":
			return "an HTML comment <!-- is not closed with -->"
		case element == "elementScript" || element == "elementStyle" || strings.HasPrefix(state, "stateJS") || strings.HasPrefix(state, "stateCSS"):
			return "a <script> or <style> is not closed"
		case state == "stateRCDATA":
			return "a <textarea> or <title> is not closed"
		}
		return "the HTML ends inside a tag or an attribute: a < or a quote is not closed"
	}
	if m := branches.FindStringSubmatch(reason); m != nil {
		return fmt.Sprintf("the branches of this {{%s}} leave the HTML in different states (one opens a tag, an attribute or a quote that the other does not); close them inside each branch", m[1])
	}
	if m := ambiguousURL.FindStringSubmatch(reason); m != nil {
		return m[1] + " sits where it is unclear whether it is part of the link; put it inside the quotes of href, or in a query parameter"
	}
	if strings.Contains(reason, "unquoted attr") {
		return "put the attribute's value in quotes, like href=\"{{.UnsubscribeURL}}\""
	}
	return "the HTML template does not work: " + goState.ReplaceAllString(reason, "")
}
