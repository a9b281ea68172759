package journeys

import (
	"errors"
	"regexp"
	"strings"

	"github.com/goccy/go-yaml"
)

// syntaxWords rewords the YAML parser's syntax errors, matched by how they
// start, in a marketer's words with what would be right. The parser stops
// at the first: a file that does not parse gets one problem.
var syntaxWords = []struct{ prefix, words string }{
	{"sequence end token ']' not found", "a list opened with [ here is not closed; add the ] that ends it"},
	{"could not find '[' character corresponding to ']'", "this ] closes no list; remove it, or add the [ that opens the list"},
	{"could not find flow mapping end token '}'", "a { here is not closed; add the } that ends it"},
	{"could not find '{' character corresponding to '}'", "this } closes nothing; remove it, or add the { that opens it"},
	{"',' or ']' must be specified", "items of a [list] are separated by commas and it ends with ]"},
	{"',' or '}' must be specified", "pairs in {key: value, ...} are separated by commas and it ends with }"},
	{"expected sequence element, but found ','", "two commas in a row, or a comma where a list item should be"},
	{"could not find end character of double-quoted text", "the text in double quotes that starts here is not closed; add the closing \""},
	{"could not find end character of single-quoted text", "the text in single quotes that starts here is not closed; add the closing '"},
	{"found unknown escape character", "in double quotes a backslash starts an escape like \\n; write \\\\ for a backslash, or use single quotes"},
	{"mapping value is not allowed in this context", "unexpected colon: a value that contains \": \" must be in quotes, or this line is indented wrongly"},
	{"map key definition includes an implicit line break", "a key must be on one line"},
	{"found character '\t' that cannot start any token", "a tab: YAML indents with spaces, never tabs"},
	{"value is not allowed in this context", "this line does not fit here: check its indentation against the lines above (the keys of one mapping, and the items of one list, line up)"},
	{"value cannot be placed after document separator", "nothing may follow --- on its line"},
	{"block sequence entries are not allowed in this context", "a list item (\"- \") cannot start here: start the list on the next line, indented, or write it as [a, b]"},
	{"sequence entries are not allowed after anchor on the same line", "a list item cannot follow an &anchor on its line; put the anchor after the key"},
	{"'@' is a reserved character", "a value cannot start with @; put it in quotes"},
	{"'`' is a reserved character", "a value cannot start with a backquote (`); put it in quotes"},
	{"unexpected directive value. document not started", "a value cannot start with %; put it in quotes"},
	{"found an invalid key for this map", "a key must be a plain name, like wait or email_click"},
	{"could not find value for mapping key", "this key has no value after its colon, and the next line does not give it one"},
	{"unexpected map key", "a key is not expected here; check the indentation"},
	{"could not find anchor value", "an anchor (&name) must be followed by the value it names"},
	{"could not find alias value", "an alias (*name) needs the name of an anchor"},
	{"anchors cannot be used consecutively", "two anchors in a row; a value takes one"},
	{"undefined anchor name", "an anchor (&name) needs a name"},
	{"undefined alias name", "an alias (*name) needs a name"},
	{"tag is not allowed", "journey files do not use YAML tags (!name); remove it"},
	{"specified not scalar tag", "journey files do not use YAML tags (!name); remove it"},
	{"anchor is not allowed", "an anchor (&name) cannot go here"},
	{"unknown YAML version", "journey files are YAML 1.2; remove the %YAML line"},
}

// syntaxProblem turns a parser error into a problem at its position.
func syntaxProblem(file string, err error) Problem {
	var yerr yaml.Error
	if errors.As(err, &yerr) {
		msg := yerr.GetMessage()
		words := "the YAML does not parse here: " + msg
		for _, s := range syntaxWords {
			if strings.HasPrefix(msg, s.prefix) {
				words = s.words
				break
			}
		}
		if strings.HasPrefix(msg, "mapping key ") && strings.Contains(msg, "already defined") {
			words = "this key is written twice in the same mapping; keep one"
		}
		return at(file, yerr.GetToken(), words)
	}
	return Problem{File: file, Line: 1, Column: 1, Message: "the YAML does not parse: " + err.Error()}
}

// decodeKinds rewords what the decoder says when a value cannot go where it
// is. The shape walk reports these first, in its own words; this is for a
// case it does not foresee, so that Go's words never reach a marketer.
var decodeKinds = regexp.MustCompile(`^(?:cannot unmarshal .* of type (\S+)|(\w+) was used where (sequence|mapping) is expected)`)

func decodeProblem(file string, err error) Problem {
	var yerr yaml.Error
	if !errors.As(err, &yerr) {
		return Problem{File: file, Line: 1, Column: 1, Message: err.Error()}
	}
	msg := "this value cannot be read here; see journeys/journey.schema.json for what each key takes"
	if m := decodeKinds.FindStringSubmatch(yerr.GetMessage()); m != nil {
		switch {
		case m[3] == "sequence":
			msg = "expected a list here"
		case m[3] == "mapping":
			msg = "expected key: value lines here"
		case strings.HasPrefix(m[1], "int"):
			msg = "expected a whole number here"
		case strings.HasPrefix(m[1], "float"):
			msg = "expected a number here"
		case m[1] == "bool":
			msg = "expected true or false here"
		case m[1] == "string" || strings.Contains(m[1], "."):
			msg = "expected a single value here"
		}
	}
	return at(file, yerr.GetToken(), msg)
}
