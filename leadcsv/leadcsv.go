// Package leadcsv reads leads from a CSV file, as marketers export them
// from spreadsheets and trade-show scanners: a header row names the
// columns, each row is a lead. A row that cannot be a lead is said with its
// row and column, and the reader goes on; the file is bounded in size,
// rows and columns.
package leadcsv

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"strings"
	"unicode/utf8"

	"github.com/nurture-dev/nurture/lead"
)

// Limits on an import file.
const (
	MaxBytes   = 512 << 20
	MaxRows    = 2_000_000
	MaxColumns = 200
)

// Row is one CSV row to enrol, numbered as a spreadsheet numbers it
// (the header is row 1).
type Row struct {
	// N is the row's number.
	N       int
	Profile lead.Profile
}

// RowError is a row's mistake, said with its row and column.
type RowError struct {
	Row    int
	Column string
	Msg    string
}

func (e RowError) String() string {
	if e.Column == "" {
		return fmt.Sprintf("row %d: %s", e.Row, e.Msg)
	}
	return fmt.Sprintf("row %d, column %s: %s", e.Row, e.Column, e.Msg)
}

// ColumnName is how a header matches a field: lower case, words joined
// by _ ("First Name" is first_name).
func ColumnName(h string) string {
	return strings.Join(strings.FieldsFunc(strings.ToLower(strings.TrimSpace(h)), func(r rune) bool {
		return r == ' ' || r == '-' || r == '_' || r == '.'
	}), "_")
}

// Reader reads a CSV of leads: a header row, then one lead a row. rename
// maps header names (as columnName says them) to fields. Rows that cannot
// be leads are reported, and the rest go on.
type Reader struct {
	r      *csv.Reader
	fields []string // the field each column fills; "" skips it
	source string
	row    int
}

func NewReader(r io.Reader, rename map[string]string, source string) (*Reader, error) {
	cr := csv.NewReader(io.LimitReader(r, MaxBytes+1))
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = false
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("the file is empty: it needs a header row (email, first_name, ...) and a row per lead")
	}
	if err != nil {
		return nil, fmt.Errorf("row 1 (the header): %w", err)
	}
	if len(header) > MaxColumns {
		return nil, fmt.Errorf("row 1 (the header): %d columns; at most %d", len(header), MaxColumns)
	}
	c := &Reader{r: cr, source: source, row: 1}
	seen := map[string]bool{}
	hasEmail := false
	for _, h := range header {
		name := ColumnName(strings.TrimPrefix(h, "\ufeff"))
		if to, ok := rename[name]; ok {
			name = to
		}
		if name != "" && seen[name] {
			return nil, fmt.Errorf("row 1 (the header): column %q comes twice", name)
		}
		seen[name] = true
		hasEmail = hasEmail || name == "email"
		c.fields = append(c.fields, name)
	}
	if !hasEmail {
		return nil, fmt.Errorf("row 1 (the header): no email column (the header has %s; name one with -map \"E-mail=email\")", strings.Join(header, ", "))
	}
	return c, nil
}

// Next reads the next row as a lead; a row that is not one comes back as
// its error. io.EOF ends the file.
func (c *Reader) Next() (Row, *RowError, error) {
	rec, err := c.r.Read()
	c.row++
	if errors.Is(err, io.EOF) {
		return Row{}, nil, io.EOF
	}
	var perr *csv.ParseError
	if errors.As(err, &perr) {
		// A broken quote spoils the rest of the file: stop there.
		return Row{}, nil, fmt.Errorf("row %d: %v", c.row, perr.Err)
	}
	if err != nil {
		return Row{}, nil, err
	}
	if c.row > MaxRows+1 {
		return Row{}, nil, fmt.Errorf("more than %d rows; split the file", MaxRows)
	}
	p := lead.Profile{Source: c.source, Fields: map[string]string{}}
	named := map[string]*string{"email": &p.Email, "first_name": &p.FirstName, "last_name": &p.LastName, "company": &p.Company,
		"title": &p.Title, "time_zone": &p.TimeZone, "external_id": &p.ExternalID, "source": &p.Source}
	for i, v := range rec {
		if i >= len(c.fields) {
			return Row{}, &RowError{Row: c.row, Msg: fmt.Sprintf("%d values for %d columns", len(rec), len(c.fields))}, nil
		}
		v = strings.TrimSpace(v)
		col := c.fields[i]
		if !utf8.ValidString(v) {
			return Row{}, &RowError{Row: c.row, Column: col, Msg: "not UTF-8 text (save the file as UTF-8)"}, nil
		}
		switch {
		case col == "" || v == "":
		case named[col] != nil:
			*named[col] = v
		default:
			p.Fields[col] = v
		}
	}
	if p.Email == "" {
		return Row{}, &RowError{Row: c.row, Column: "email", Msg: "empty: every lead needs an address"}, nil
	}
	if a, err := mail.ParseAddress(p.Email); err != nil || !strings.EqualFold(a.Address, p.Email) {
		return Row{}, &RowError{Row: c.row, Column: "email", Msg: fmt.Sprintf("%q is not an address", p.Email)}, nil
	}
	if err := p.Normalize(); err != nil {
		return Row{}, &RowError{Row: c.row, Msg: err.Error()}, nil
	}
	return Row{N: c.row, Profile: p}, nil, nil
}
