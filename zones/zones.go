// Package zones loads IANA time zones from a copy of the zone database
// compiled into the binary (tzdata 2025c, the zoneinfo.zip that ships with
// Go 1.26), never from the host.
//
// Send windows, wait_until dates and the journey clock decide when a lead
// is mailed; a workflow replayed on another worker must reach the same
// decision. time.LoadLocation prefers the host's /usr/share/zoneinfo (and
// $ZONEINFO) over the time/tzdata copy, so two workers on images with
// different tzdata releases could disagree about when a window opens, and
// a replay could take another branch. Every part of nurture that turns a
// zone name into a *time.Location goes through Load instead.
//
// To move to a newer tzdata, copy $(go env GOROOT)/lib/time/zoneinfo.zip
// here after a Go upgrade; the change alters send times of running leads
// only where the zone's rules changed.
package zones

import (
	"archive/zip"
	"bytes"
	_ "embed"
	"fmt"
	"io"
	"sync"
	"time"
)

//go:embed zoneinfo.zip
var zoneinfo []byte

// Version is the IANA tzdata release compiled in.
const Version = "2025c"

// index opens the compiled-in archive once. It is package state, but only
// a memo of constant, embedded data: every caller would build the same
// value, and *time.Location values are immutable and safe to share.
var index = sync.OnceValues(func() (map[string]*zip.File, error) {
	r, err := zip.NewReader(bytes.NewReader(zoneinfo), int64(len(zoneinfo)))
	if err != nil {
		return nil, fmt.Errorf("read the compiled-in zone database: %w", err)
	}
	files := make(map[string]*zip.File, len(r.File))
	for _, f := range r.File {
		files[f.Name] = f
	}
	return files, nil
})

// loaded memoizes decoded zones by name.
var loaded sync.Map

// Load returns the named zone ("Europe/Berlin") from the compiled-in
// database; "" and "UTC" are UTC.
func Load(name string) (*time.Location, error) {
	if name == "" || name == "UTC" {
		return time.UTC, nil
	}
	if loc, ok := loaded.Load(name); ok {
		return loc.(*time.Location), nil
	}
	files, err := index()
	if err != nil {
		return nil, err
	}
	f, ok := files[name]
	if !ok {
		return nil, fmt.Errorf("time zone %q is not an IANA zone name (like Europe/Berlin or America/New_York)", name)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("read time zone %q: %w", name, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("read time zone %q: %w", name, err)
	}
	loc, err := time.LoadLocationFromTZData(name, data)
	if err != nil {
		return nil, fmt.Errorf("decode time zone %q: %w", name, err)
	}
	loaded.Store(name, loc)
	return loc, nil
}

// First is the first of the named zones that loads, else UTC: a lead's
// zone, else its journey's. Empty names are passed over.
func First(names ...string) *time.Location {
	for _, name := range names {
		if name == "" {
			continue
		}
		if loc, err := Load(name); err == nil {
			return loc
		}
	}
	return time.UTC
}
