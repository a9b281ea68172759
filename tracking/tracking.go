// Package tracking rewrites the links of an email so that a click goes
// through nurture's click redirect, and adds the open pixel. It is pure: the
// caller says what a link becomes (package links signs them), this package
// finds the links.
//
// In HTML, the href of every <a> and <area> whose URL is absolute http or
// https is rewritten; mailto:, tel:, #anchors, relative URLs and links the
// caller keeps (the unsubscribe link) stay as written. Every byte that is
// not a rewritten href stays exactly as it was: comments, <script> and
// <style> content, other attributes, the quoting and case of the source.
// The document is read as a mail client reads it, with scripting off, so
// links inside <noscript> are tracked too; a rewrite is checked by parsing
// its result, and a document whose links cannot all be followed that way
// (markup inside SVG or MathML that the tokenizer and the parser read
// differently) is refused rather than half tracked.
//
// In plain text, bare http(s) URLs are rewritten; a URL ends at white
// space, at < > " ' and at a ) or ] it did not open, and trailing . , ; : ! ?
// are left outside it.
//
// Work is bounded: documents over MaxSize are refused. A refusal returns the
// input unchanged with an error, so the caller can log it and send the mail
// untracked.
package tracking

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/html"
)

// MaxSize is the largest document rewritten: a message part of 1 MiB is
// already far past what mail clients show (Gmail clips HTML at about
// 100 KB).
const MaxSize = 1 << 20

// maxGrowth bounds the rewritten document: every link becomes a signed URL
// of a few hundred bytes, so a document of nothing but tiny links could
// otherwise grow twenty-fold.
const maxGrowth = 4 * MaxSize

// Errors for documents that are left as they were.
var (
	// ErrTooLarge: the document is over MaxSize, or would grow past four
	// times that.
	ErrTooLarge = errors.New("document too large to track its links")
	// ErrUnfollowable: the tokenizer and the HTML parser disagree on where
	// the document's links are, so some could be left untracked.
	ErrUnfollowable = errors.New("document's links cannot all be found")
)

// Link returns what a link to target becomes. Returning target itself
// leaves the link exactly as it was written; an error refuses the whole
// document.
type Link func(target string) (string, error)

// Stable makes a Link that asks link once per target, so the same URL
// gets the same tracked URL everywhere in one email (both its parts).
// It is not safe for concurrent use.
func Stable(link Link) Link {
	seen := map[string]string{}
	return func(target string) (string, error) {
		if u, ok := seen[target]; ok {
			return u, nil
		}
		u, err := link(target)
		if err != nil {
			return "", err
		}
		seen[target] = u
		return u, nil
	}
}

// Target reports whether an href value is an absolute http or https URL,
// and returns it as a browser follows it: without the leading and
// trailing spaces and control characters, and the tabs and line breaks
// inside it, that the WHATWG URL parser drops.
func Target(href string) (string, bool) {
	s := strings.TrimFunc(href, func(r rune) bool { return r <= ' ' })
	if strings.ContainsAny(s, "\t\n\r") {
		s = strings.Map(func(r rune) rune {
			if r == '\t' || r == '\n' || r == '\r' {
				return -1
			}
			return r
		}, s)
	}
	if !hasPrefixFold(s, "http:") && !hasPrefixFold(s, "https:") {
		return "", false
	}
	return s, true
}

func hasPrefixFold(s, prefix string) bool {
	if len(s) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		if lowerASCII(s[i]) != prefix[i] {
			return false
		}
	}
	return true
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// HTML rewrites the href of every <a> and <area> that Target accepts to
// link(target).
func HTML(src string, link Link) (string, error) {
	if len(src) > MaxSize {
		return src, fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, len(src), MaxSize)
	}
	var out strings.Builder
	out.Grow(len(src) + len(src)/4)
	// What the parser must find afterwards: every link either rewritten
	// (by its new value) or kept (by its target).
	rewritten, kept := map[string]bool{}, map[string]bool{}
	z := html.NewTokenizer(strings.NewReader(src))
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			if z.Err() != io.EOF {
				return src, fmt.Errorf("read html: %w", z.Err())
			}
			out.Write(z.Raw()) // an unfinished tag or comment at the end
			break
		}
		raw := z.Raw()
		if tt != html.StartTagToken && tt != html.SelfClosingTagToken {
			out.Write(raw)
			continue
		}
		name, hasAttr := z.TagName()
		if string(name) == "noscript" {
			// Mail clients run no scripts, so they read <noscript> as
			// markup; so do we.
			z.NextIsNotRawText()
		}
		href, ok := "", false
		if hasAttr && (string(name) == "a" || string(name) == "area") {
			href, ok = hrefOf(z)
		}
		target, track := Target(href)
		if !ok || !track {
			out.Write(raw)
			continue
		}
		u, err := link(target)
		if err != nil {
			return src, fmt.Errorf("tracking a link: %w", err)
		}
		if u == target {
			kept[target] = true
			out.Write(raw)
			continue
		}
		start, end, found := hrefSpan(raw)
		if !found {
			// hrefSpan reads attributes as the tokenizer does; it cannot
			// miss one the tokenizer found.
			return src, fmt.Errorf("%w: the href of an <%s> tag not located", ErrUnfollowable, name)
		}
		out.Write(raw[:start])
		out.WriteByte('"')
		out.WriteString(html.EscapeString(u))
		out.WriteByte('"')
		out.Write(raw[end:])
		rewritten[u] = true
		if out.Len() > maxGrowth {
			return src, fmt.Errorf("%w: the tracked document would be over %d bytes", ErrTooLarge, maxGrowth)
		}
	}
	res := out.String()
	if err := check(res, func(href string) bool {
		t, ok := Target(href)
		return !ok || rewritten[href] || kept[t]
	}); err != nil {
		return src, err
	}
	return res, nil
}

// hrefOf is the decoded value of the tag's href attribute.
func hrefOf(z *html.Tokenizer) (string, bool) {
	for {
		k, v, more := z.TagAttr()
		if string(k) == "href" {
			return string(v), true
		}
		if !more {
			return "", false
		}
	}
}

// parse reads a document as a mail client does, with scripting off. The
// parser refuses documents nested over 512 elements deep.
func parse(doc string) (*html.Node, error) {
	root, err := html.ParseWithOptions(strings.NewReader(doc), html.ParseOptionEnableScripting(false))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnfollowable, err)
	}
	return root, nil
}

// each calls fn for every element under n, in document order, until fn
// returns false.
func each(n *html.Node, fn func(*html.Node) bool) bool {
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.ElementNode && !fn(c) {
			return false
		}
		if !each(c, fn) {
			return false
		}
	}
	return true
}

// check parses a rewritten document and asks ok about the href of every
// link in it.
func check(doc string, ok func(href string) bool) error {
	root, err := parse(doc)
	if err != nil {
		return err
	}
	var bad error
	each(root, func(n *html.Node) bool {
		if n.Data != "a" && n.Data != "area" {
			return true
		}
		for _, at := range n.Attr {
			if at.Namespace == "" && at.Key == "href" && !ok(at.Val) {
				// Not the URL: it may hold the lead's address, and
				// this error is logged.
				bad = fmt.Errorf("%w: an <%s> link the tokenizer did not reach", ErrUnfollowable, n.Data)
				return false
			}
		}
		return true
	})
	return bad
}

// hrefSpan finds the value of the first href attribute of a start tag's
// raw bytes, reading them exactly as html.Tokenizer does (readTag and its
// helpers in x/net/html's token.go), which exposes no offsets. The span
// includes the quotes of a quoted value.
func hrefSpan(raw []byte) (start, end int, ok bool) {
	n := len(raw)
	i := 2 // past '<' and the tag name's first letter
	space := func(c byte) bool { return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f' }
	skipSpace := func() {
		for i < n && space(raw[i]) {
			i++
		}
	}
	// The tag name.
	for i < n {
		c := raw[i]
		i++
		if space(c) {
			break
		}
		if c == '/' || c == '>' {
			i--
			break
		}
	}
	skipSpace()
	for i < n {
		if raw[i] == '>' {
			return 0, 0, false
		}
		// The attribute's key.
		ks := i
		for i < n {
			c := raw[i]
			i++
			if c == '=' && ks+1 == i {
				continue // an '=' that starts a key is part of it
			}
			if c == '=' || c == '/' || c == '>' || space(c) {
				i--
				break
			}
		}
		ke := i
		// Its value.
		vs, ve, quoted := i, i, false
		skipSpace()
		if i < n {
			c := raw[i]
			i++
			switch {
			case c == '/':
			case c != '=':
				i--
			default:
				skipSpace()
				if i < n {
					q := raw[i]
					i++
					switch q {
					case '>':
						i--
					case '"', '\'':
						vs = i
						for i < n && raw[i] != q {
							i++
						}
						ve = i
						if i < n {
							i++
						}
						quoted = true
					default:
						vs = i - 1
						for i < n && !space(raw[i]) && raw[i] != '>' {
							i++
						}
						ve = i
					}
				}
			}
		}
		if ke-ks == 4 && strings.EqualFold(string(raw[ks:ke]), "href") && isASCII(raw[ks:ke]) {
			if quoted {
				return vs - 1, ve + 1, true
			}
			return vs, ve, true
		}
		skipSpace()
	}
	return 0, 0, false
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// Pixel adds an open pixel, an invisible image of openURL, just before
// </body>, or at the end of a document that has none. It takes any
// document HTML returns.
func Pixel(src, openURL string) (string, error) {
	if len(src) > maxGrowth {
		return src, fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, len(src), maxGrowth)
	}
	img := `<img src="` + html.EscapeString(openURL) + `" width="1" height="1" alt="" style="display:none">`
	at := len(src)
	z := html.NewTokenizer(strings.NewReader(src))
	offset := 0
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			break
		}
		if tt == html.StartTagToken {
			if name, _ := z.TagName(); string(name) == "noscript" {
				z.NextIsNotRawText()
			}
		}
		if tt == html.EndTagToken {
			if name, _ := z.TagName(); string(name) == "body" {
				at = offset
				break
			}
		}
		offset += len(z.Raw())
	}
	res := src[:at] + img + src[at:]
	root, err := parse(res)
	if err != nil {
		return src, err
	}
	found := !each(root, func(n *html.Node) bool {
		if n.Data != "img" || n.Namespace != "" {
			return true
		}
		for _, at := range n.Attr {
			if at.Namespace == "" && at.Key == "src" && at.Val == openURL {
				return false
			}
		}
		return true
	})
	if !found {
		// The document ends inside a comment, a tag or raw text, where an
		// image would not be one.
		return src, fmt.Errorf("%w: no place for the open pixel", ErrUnfollowable)
	}
	return res, nil
}

// Text rewrites the bare http(s) URLs of a plain-text part to link(url).
func Text(src string, link Link) (string, error) {
	if len(src) > MaxSize {
		return src, fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, len(src), MaxSize)
	}
	var out strings.Builder
	done := 0 // src[:done] is in out
	for i := 0; i < len(src); {
		j := urlStart(src, i)
		if j < 0 {
			break
		}
		end := urlEnd(src, j)
		target := src[j:end]
		if k := strings.Index(target, "://"); k+3 == len(target) {
			i = end // a scheme and nothing else
			continue
		}
		u, err := link(target)
		if err != nil {
			return src, fmt.Errorf("tracking a link: %w", err)
		}
		if u != target {
			out.WriteString(src[done:j])
			out.WriteString(u)
			done = end
			if out.Len() > maxGrowth {
				return src, fmt.Errorf("%w: the tracked text would be over %d bytes", ErrTooLarge, maxGrowth)
			}
		}
		i = end
	}
	if done == 0 {
		return src, nil
	}
	out.WriteString(src[done:])
	return out.String(), nil
}

// urlStart finds the next "http://" or "https://" (any case) from i that
// does not continue a word.
func urlStart(s string, i int) int {
	for {
		k := indexFold(s[i:], "http")
		if k < 0 {
			return -1
		}
		j := i + k
		rest := s[j+4:]
		if (j == 0 || !isWordByte(s[j-1])) && (strings.HasPrefix(rest, "://") || hasPrefixFold(rest, "s://")) {
			return j
		}
		i = j + 4
	}
}

func isWordByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// indexFold is strings.Index for an ASCII lower-case needle, ignoring
// ASCII case.
func indexFold(s, needle string) int {
	for i := 0; i+len(needle) <= len(s); i++ {
		if lowerASCII(s[i]) == needle[0] && hasPrefixFold(s[i:], needle) {
			return i
		}
	}
	return -1
}

// urlEnd is where the URL that starts at j ends.
func urlEnd(s string, j int) int {
	parens, brackets := 0, 0
	end := len(s)
scan:
	for k := j; k < len(s); {
		r, size := utf8.DecodeRuneInString(s[k:])
		switch {
		case r == utf8.RuneError && size == 1, unicode.IsSpace(r), unicode.IsControl(r),
			r == '<', r == '>', r == '"', r == '\'':
			end = k
			break scan
		case r == '(':
			parens++
		case r == ')':
			if parens == 0 {
				end = k
				break scan
			}
			parens--
		case r == '[':
			brackets++
		case r == ']':
			if brackets == 0 {
				end = k
				break scan
			}
			brackets--
		}
		k += size
	}
	for end > j && strings.IndexByte(".,;:!?", s[end-1]) >= 0 {
		end--
	}
	return end
}
