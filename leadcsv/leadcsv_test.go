package leadcsv_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/nurture-dev/nurture/leadcsv"
)

func TestRowsAndTheirMistakes(t *testing.T) {
	t.Parallel()
	src := "\ufeffE-mail,First Name,Job Title,BANT Budget,Notes\n" +
		"Ada@Analytical.test,Ada,CTO,approved,booth 4\n" +
		"bob@,Bob,,,\n" +
		",Nobody,,,\n" +
		"x@y.test,X,,,,extra\n" +
		"grace@cobol.test,\"Hopper, Grace\",,,\n"
	r, err := leadcsv.NewReader(strings.NewReader(src), map[string]string{"e_mail": "email", "job_title": "title", "notes": ""}, "trade show")
	require.NoError(t, err)
	var got []string
	var leads []leadcsv.Row
	for {
		row, rerr, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		if rerr != nil {
			got = append(got, rerr.String())
			continue
		}
		leads = append(leads, row)
	}
	require.Equal(t, []string{`row 3, column email: "bob@" is not an address`, "row 4, column email: empty: every lead needs an address", "row 5: 6 values for 5 columns"}, got)
	require.Len(t, leads, 2)
	require.Equal(t, 2, leads[0].N)
	require.Equal(t, "ada@analytical.test", leads[0].Profile.Email)
	require.Equal(t, "CTO", leads[0].Profile.Title)
	require.Equal(t, map[string]string{"bant_budget": "approved"}, leads[0].Profile.Fields)
	require.Equal(t, "trade show", leads[0].Profile.Source)
	require.Equal(t, "Hopper, Grace", leads[1].Profile.FirstName)

	_, err = leadcsv.NewReader(strings.NewReader("email,Email\n"), nil, "")
	require.EqualError(t, err, `row 1 (the header): column "email" comes twice`)
	_, err = leadcsv.NewReader(strings.NewReader(""), nil, "")
	require.ErrorContains(t, err, "the file is empty")
	r, err = leadcsv.NewReader(strings.NewReader("email\n\"a@b.test\n"), nil, "")
	require.NoError(t, err)
	_, _, err = r.Next()
	require.ErrorContains(t, err, "row 2: extraneous or missing \" in quoted-field")
}

// FuzzReader: any file is read row by row or refused with words, never a
// panic; every lead read has a valid address.
func FuzzReader(f *testing.F) {
	f.Add([]byte("email,first_name,bant_budget\nada@x.test,Ada,yes\nbob@,Bob,\n"))
	f.Add([]byte("\ufeffE-mail;Name\n\"unterminated,\n"))
	f.Add([]byte("email,email\na@b.test,c@d.test\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, err := leadcsv.NewReader(bytes.NewReader(data), map[string]string{}, "fuzz")
		if err != nil {
			require.NotEmpty(t, err.Error())
			return
		}
		for range 10_000 {
			r, rerr, err := rows.Next()
			if errors.Is(err, io.EOF) || err != nil {
				return
			}
			if rerr != nil {
				require.NotEmpty(t, rerr.String())
				continue
			}
			require.NoError(t, r.Profile.Normalize(), "a lead read is valid")
		}
	})
}
