package store_test

import (
	"errors"
	"strings"
	"testing"
	"unicode"

	"github.com/nurture-dev/nurture/store"
)

// FuzzSearchQuery: every search is a well-formed text-search query of
// letters and digits, or refused as having nothing to search for.
func FuzzSearchQuery(f *testing.F) {
	for _, s := range []string{"ada", "Ada Lovelace", "ada@analytical.test", "'; drop table leads; --", "a:* | !b", "&&&", "", "名前 テスト"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := store.SearchQuery(s)
		if errors.Is(err, store.ErrSearch) || q == "" {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, term := range strings.Split(q, " & ") {
			word, ok := strings.CutSuffix(term, ":*")
			if !ok || word == "" || strings.IndexFunc(word, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) >= 0 {
				t.Fatalf("%q made the term %q of %q", s, term, q)
			}
		}
	})
}
