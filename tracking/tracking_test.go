package tracking_test

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"

	"github.com/nurture-dev/nurture/journeys"
	"github.com/nurture-dev/nurture/tracking"
)

const (
	unsub   = "https://hooks.test/unsubscribe/v1.k.UNSUB.MAC"
	tracker = "https://hooks.test/c/"
	openURL = "https://hooks.test/o/v1.k.OPEN.MAC"
)

// track is what the sender does: links to the receiver (the unsubscribe
// link, links already tracked) stay; the rest go through the tracker. The
// tracked URL carries the target unescaped, with & and quotes, so the
// tests see that attribute values are escaped.
func track(target string) (string, error) {
	if strings.HasPrefix(target, "https://hooks.test/") {
		return target, nil
	}
	return tracker + "?to=" + target + `&q="'`, nil
}

func tracked(target string) string { u, _ := track(target); return u }

func TestHTML(t *testing.T) {
	t.Parallel()
	esc := html.EscapeString
	for _, tc := range []struct {
		name, in, want string
	}{
		{"double quotes", `<a href="https://acme.test/a">A</a>`, `<a href="` + esc(tracked("https://acme.test/a")) + `">A</a>`},
		{"single quotes", `<a href='http://acme.test/a'>A</a>`, `<a href="` + esc(tracked("http://acme.test/a")) + `">A</a>`},
		{"no quotes", `<a href=https://acme.test/a>A</a>`, `<a href="` + esc(tracked("https://acme.test/a")) + `">A</a>`},
		{"no quotes, ending in a slash", `<a href=https://acme.test/>A</a>`, `<a href="` + esc(tracked("https://acme.test/")) + `">A</a>`},
		{"self-closing", `<a href="https://acme.test/"/>`, `<a href="` + esc(tracked("https://acme.test/")) + `"/>`},
		{"entities in the href", `<a href="https://acme.test/?a=1&amp;b=2&#38;c=&quot;">A</a>`, `<a href="` + esc(tracked(`https://acme.test/?a=1&b=2&c="`)) + `">A</a>`},
		{"upper case", `<A HREF="HTTPS://ACME.TEST/A">A</A>`, `<A HREF="` + esc(tracked("HTTPS://ACME.TEST/A")) + `">A</A>`},
		{"area", `<map><AREA shape=rect href="https://acme.test/m"></map>`, `<map><AREA shape=rect href="` + esc(tracked("https://acme.test/m")) + `"></map>`},
		{"every other byte of the tag kept",
			"<a  class=\"btn\"\tdata-x='1'  HREF = \"https://acme.test/\"target=_blank\n>A</a>",
			"<a  class=\"btn\"\tdata-x='1'  HREF = \"" + esc(tracked("https://acme.test/")) + "\"target=_blank\n>A</a>"},
		{"spaces and line breaks a browser drops", "<a href=\" https://acme.test/a\nb \">A</a>", `<a href="` + esc(tracked("https://acme.test/ab")) + `">A</a>`},
		{"only the first of two hrefs counts", `<a href="https://acme.test/1" href="https://acme.test/2">A</a>`,
			`<a href="` + esc(tracked("https://acme.test/1")) + `" href="https://acme.test/2">A</a>`},
		{"noscript is markup to a mail client", `<noscript><a href="https://acme.test/">A</a></noscript>`,
			`<noscript><a href="` + esc(tracked("https://acme.test/")) + `">A</a></noscript>`},
		{"inside a table", `<table><tr><td><a href="https://acme.test/">A</a></td></tr></table>`,
			`<table><tr><td><a href="` + esc(tracked("https://acme.test/")) + `">A</a></td></tr></table>`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tracking.HTML(tc.in, track)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestHTMLLeavesAlone(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		`<a href="mailto:sales@acme.test?subject=Hi">mail</a>`,
		`<a href="tel:+441234567">call</a>`,
		`<a href="#top">top</a>`,
		`<a href="/pricing">relative</a>`,
		`<a href="pricing.html">relative</a>`,
		`<a href="//acme.test/x">scheme-relative</a>`,
		`<a href="javascript:alert(1)">js</a>`,
		`<a href="ftp://acme.test/f">ftp</a>`,
		`<a href>no value</a><a href="">empty</a>`,
		`<a name="x" data-href="https://acme.test/">not an href</a>`,
		`<link href="https://acme.test/style.css"><img src="https://acme.test/i.png"><base href="https://acme.test/">`,
		`<a href="` + unsub + `">Unsubscribe</a>`,
		`<a href=' ` + unsub + `'>Unsubscribe</a>`,
		`<a href="https://hooks.test/c/v1.k.ALREADY.MAC">already tracked</a>`,
		`<!-- <a href="https://acme.test/in-a-comment"> -->`,
		`<script>document.write('<a href="https://acme.test/s">')</script>`,
		`<style>/* <a href="https://acme.test/s"> */ a[href^="https://"] { color: red }</style>`,
		`<textarea><a href="https://acme.test/t"></textarea><title><a href="https://acme.test/t"></title>`,
		`<p>https://acme.test/ in HTML text is text</p>`,
		`<!DOCTYPE html><html><head><meta charset="utf-8"></head><body><p>Hi &amp; bye</p></body></html>`,
		``,
		`<a href="https://acme.test/unfinished`,
	} {
		got, err := tracking.HTML(in, track)
		require.NoError(t, err, in)
		require.Equal(t, in, got)
	}
}

func TestHTMLTracksEachTargetOnce(t *testing.T) {
	t.Parallel()
	var asked []string
	link := tracking.Stable(func(target string) (string, error) {
		asked = append(asked, target)
		return fmt.Sprintf("%s%d", tracker, len(asked)), nil
	})
	got, err := tracking.HTML(`<a href="https://acme.test/a">1</a><a href="https://acme.test/b">2</a><a href='https://acme.test/a'>3</a>`, link)
	require.NoError(t, err)
	require.Equal(t, `<a href="https://hooks.test/c/1">1</a><a href="https://hooks.test/c/2">2</a><a href="https://hooks.test/c/1">3</a>`, got)
	text, err := tracking.Text("https://acme.test/b and https://acme.test/a", link)
	require.NoError(t, err)
	require.Equal(t, "https://hooks.test/c/2 and https://hooks.test/c/1", text, "the same tracked link in both parts")
	require.Equal(t, []string{"https://acme.test/a", "https://acme.test/b"}, asked)
}

func TestHTMLRefuses(t *testing.T) {
	t.Parallel()
	failing := errors.New("no key")
	for _, tc := range []struct {
		name string
		in   string
		link tracking.Link
		want error
	}{
		{"over MaxSize", `<a href="https://acme.test/">` + strings.Repeat("x", tracking.MaxSize), track, tracking.ErrTooLarge},
		{"growing past four times that", strings.Repeat(`<a href=http://a.b/>x</a>`, tracking.MaxSize/26), func(string) (string, error) {
			return tracker + strings.Repeat("t", 300), nil
		}, tracking.ErrTooLarge},
		{"a link that cannot be made", `<a href="https://acme.test/">`, func(string) (string, error) { return "", failing }, failing},
		// In SVG a <style> holds markup, which the tokenizer reads as text.
		{"links the tokenizer cannot see", `<svg><style><a href="https://acme.test/">A</a></style></svg>`, track, tracking.ErrUnfollowable},
		{"nested deeper than the parser takes", strings.Repeat("<div>", 600) + `<a href="https://acme.test/">A</a>`, track, tracking.ErrUnfollowable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tracking.HTML(tc.in, tc.link)
			require.ErrorIs(t, err, tc.want)
			require.Equal(t, tc.in, got, "a refused document is returned as it was")
		})
	}
}

func TestPixel(t *testing.T) {
	t.Parallel()
	img := `<img src="` + openURL + `" width="1" height="1" alt="" style="display:none">`
	for _, tc := range []struct{ name, in, want string }{
		{"before </body>", `<html><body><p>Hi</p></body></html>`, `<html><body><p>Hi</p>` + img + `</body></html>`},
		{"upper case", `<BODY><p>Hi</p></BODY >`, `<BODY><p>Hi</p>` + img + `</BODY >`},
		{"at the end without one", `<p>Hi</p>`, `<p>Hi</p>` + img},
		{"not in a comment or a script", `<body><!-- </body> --><script>"</body>"</script></body>`, `<body><!-- </body> --><script>"</body>"</script>` + img + `</body>`},
		{"empty", ``, img},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tracking.Pixel(tc.in, openURL)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
	got, err := tracking.Pixel(`<p>Hi`, `https://hooks.test/o/"&<`)
	require.NoError(t, err)
	require.Equal(t, `<p>Hi<img src="https://hooks.test/o/&#34;&amp;&lt;" width="1" height="1" alt="" style="display:none">`, got, "the URL is escaped")

	for _, in := range []string{`<p>Hi <!-- unfinished`, `<p>Hi <a href="x`, `<p><script>unfinished`, strings.Repeat("x", 4*tracking.MaxSize+1)} {
		got, err := tracking.Pixel(in, openURL)
		require.Error(t, err, "an image appended there would not be one")
		require.Equal(t, in, got)
	}
}

func TestText(t *testing.T) {
	t.Parallel()
	tr := tracked
	for _, tc := range []struct{ name, in, want string }{
		{"bare", "Read it: https://acme.test/a\n", "Read it: " + tr("https://acme.test/a") + "\n"},
		{"trailing punctuation", "See https://acme.test/a. Or https://acme.test/b, https://acme.test/c; https://acme.test/d: https://acme.test/e! https://acme.test/f?",
			"See " + tr("https://acme.test/a") + ". Or " + tr("https://acme.test/b") + ", " + tr("https://acme.test/c") + "; " + tr("https://acme.test/d") + ": " + tr("https://acme.test/e") + "! " + tr("https://acme.test/f") + "?"},
		{"punctuation inside", "https://acme.test/a.b?c=1,2;d=3!x", tr("https://acme.test/a.b?c=1,2;d=3!x")},
		{"closing brackets and quotes", `(https://acme.test/a) <https://acme.test/b> [https://acme.test/c] "https://acme.test/d" 'https://acme.test/e'`,
			`(` + tr("https://acme.test/a") + `) <` + tr("https://acme.test/b") + `> [` + tr("https://acme.test/c") + `] "` + tr("https://acme.test/d") + `" '` + tr("https://acme.test/e") + `'`},
		{"brackets the URL opened", "(see https://en.wikipedia.org/wiki/Go_(language)). http://[::1]:8080/x",
			"(see " + tr("https://en.wikipedia.org/wiki/Go_(language)") + "). " + tr("http://[::1]:8080/x")},
		{"any case", "HTTPS://ACME.TEST/A", tr("HTTPS://ACME.TEST/A")},
		{"the unsubscribe link stays", "Unsubscribe: " + unsub + "\n", "Unsubscribe: " + unsub + "\n"},
		{"not inside a word or a scheme alone", "xhttp://acme.test/ https:// http:/acme.test", "xhttp://acme.test/ https:// http:/acme.test"},
		{"stops at a non-breaking space", "https://acme.test/a\u00a0next", tr("https://acme.test/a") + "\u00a0next"},
		{"no URL", "Hi Ada", "Hi Ada"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tracking.Text(tc.in, track)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
	in := strings.Repeat("x", tracking.MaxSize+1)
	got, err := tracking.Text(in, track)
	require.ErrorIs(t, err, tracking.ErrTooLarge)
	require.Equal(t, in, got)
}

// TestShippedContent tracks every email of the shipped journeys: every
// link but the unsubscribe link is tracked, and nothing else changes.
func TestShippedContent(t *testing.T) {
	t.Parallel()
	for _, file := range []string{"b2b-nurture.yaml", "recycle-nurture.yaml"} {
		j, _, err := journeys.LoadShipped(file)
		require.NoError(t, err)
		for _, c := range j.Content {
			r, err := c.Render(journeys.TemplateData{FirstName: "Ada", Company: "Analytical Engines", UnsubscribeURL: unsub})
			require.NoError(t, err)
			got, err := tracking.HTML(r.HTML, track)
			require.NoError(t, err, c.ID)
			requireTracked(t, got)
			require.Contains(t, got, `href="`+unsub+`"`, c.ID)
			text, err := tracking.Text(r.Text, track)
			require.NoError(t, err, c.ID)
			require.Contains(t, text, unsub, c.ID)
			require.Equal(t, strings.Count(r.Text, "https://")-strings.Count(r.Text, unsub), strings.Count(text, tracker), c.ID+": every URL but the unsubscribe link tracked")
		}
	}
}

// requireTracked parses a document as a mail client does and checks that
// every http(s) link in it goes through the tracker or is the
// unsubscribe link.
func requireTracked(t testing.TB, doc string) {
	t.Helper()
	root, err := html.ParseWithOptions(strings.NewReader(doc), html.ParseOptionEnableScripting(false))
	require.NoError(t, err)
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if c.Type == html.ElementNode && (c.Data == "a" || c.Data == "area") {
				for _, at := range c.Attr {
					if at.Namespace != "" || at.Key != "href" {
						continue
					}
					if target, ok := tracking.Target(at.Val); ok && target != unsub && !strings.HasPrefix(target, tracker) {
						t.Fatalf("<%s href=%q> is not tracked in %q", c.Data, at.Val, doc)
					}
				}
			}
			walk(c)
		}
	}
	walk(root)
}

// TestLongDocument is an email of almost 1 MiB, the most a send rewrites,
// with nearly 10,000 links to 500 targets.
func TestLongDocument(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	for i := 0; b.Len() < tracking.MaxSize-200; i++ {
		fmt.Fprintf(&b, "<p>Paragraph %d: <a href=\"https://acme.test/%d?utm_source=nurture&amp;utm_medium=email\">read more</a></p>\n", i, i%500)
	}
	doc := b.String()
	start := time.Now()
	got, err := tracking.HTML(doc, tracking.Stable(track))
	took := time.Since(start)
	require.NoError(t, err)
	requireTracked(t, got)
	got, err = tracking.Pixel(got, openURL)
	require.NoError(t, err)
	require.True(t, strings.HasSuffix(strings.TrimSpace(got), `style="display:none">`))
	t.Logf("%d bytes with %d links rewritten in %s", len(doc), strings.Count(doc, "<a "), took)
}

func FuzzHTML(f *testing.F) {
	for _, s := range []string{
		`<a href="https://acme.test/a">A</a>`, `<A HREF='http://x'>`, `<a href=http://x/>`, `<area href="https://x?a&amp;b">`,
		`<svg><style><a href="http://x">`, `<svg><a href="http://x"></a></svg>`, `<math><mi><a href="http://x">`,
		`<noscript><a href="http://x"></noscript>`, `<script><a href="http://x"></script>`, `<!-- <a href="http://x"> -->`,
		`<a href="` + unsub + `">`, `<a href="http://x" href="http://y">`, `<a href=" http://x ">`, `<table><a href="http://x"><tr>`,
		`<select><a href="http://x"></select>`, `<template><a href="http://x"></template>`, `<a href="http://x`, `</body><a href=http://x>`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		kept, _ := tracking.HTML(src, func(target string) (string, error) { return target, nil })
		require.Equal(t, src, kept, "links kept as they are: not a byte changes")
		out, err := tracking.HTML(src, func(target string) (string, error) {
			if target == unsub {
				return target, nil
			}
			return tracker + "?to=" + url.QueryEscape(target), nil
		})
		if err != nil {
			require.Equal(t, src, out, "a refused document is returned as it was")
			return
		}
		requireTracked(t, out)
		withPixel, err := tracking.Pixel(out, openURL)
		if err != nil {
			require.Equal(t, out, withPixel)
			return
		}
		requireTracked(t, withPixel)
		require.Contains(t, withPixel, openURL)
	})
}

func FuzzText(f *testing.F) {
	for _, s := range []string{"See https://acme.test/a.", "(https://x/(y)) <http://z>", unsub, "HTTP://X]", "http://a\xffb"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		kept, err := tracking.Text(src, func(target string) (string, error) { return target, nil })
		require.NoError(t, err)
		require.Equal(t, src, kept)
		out, err := tracking.Text(src, func(target string) (string, error) {
			if target == unsub {
				return target, nil
			}
			return tracker + "?to=" + url.QueryEscape(target), nil
		})
		if err != nil {
			require.Equal(t, src, out)
			return
		}
		// Every URL a reader of the result finds is tracked or the
		// unsubscribe link.
		_, err = tracking.Text(out, func(target string) (string, error) {
			if target != unsub && !strings.HasPrefix(target, tracker) {
				return "", fmt.Errorf("%q is not tracked in %q", target, out)
			}
			return target, nil
		})
		require.NoError(t, err)
	})
}

func BenchmarkTypicalEmail(b *testing.B) {
	j, _, err := journeys.LoadShipped("b2b-nurture.yaml")
	require.NoError(b, err)
	c, _ := j.ContentItem("product-comparison")
	r, err := c.Render(journeys.TemplateData{FirstName: "Ada", UnsubscribeURL: unsub})
	require.NoError(b, err)
	doc := "<html><body>" + strings.Repeat(r.HTML, 20) + "</body></html>" // ~7 KB, 60 links, 3 targets
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		out, err := tracking.HTML(doc, tracking.Stable(track))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := tracking.Pixel(out, openURL); err != nil {
			b.Fatal(err)
		}
	}
}
