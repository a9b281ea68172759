package webhook

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/nurture-dev/nurture/ingest"
	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/store"
)

// Form fields named email, first_name, last_name, company, title,
// time_zone and external_id fill the lead's profile; these two steer the
// submission; every other field goes to the profile's fields, the BANT
// answers (bant_budget, bant_authority, bant_need, bant_timeline) among
// them.
const (
	keySubmission = "submission_id"
	keyEvent      = "event"
)

// FormOut says what a form submission did.
type FormOut struct {
	LeadID  string `json:"lead_id"`
	Journey string `json:"journey"`
	// Started is true when the submission started a journey; false when
	// the lead was in one already (its profile was merged) or could not
	// re-enter (Detail says why; the profile was merged all the same).
	Started bool   `json:"started"`
	Detail  string `json:"detail,omitempty"`
	// Event is the engagement the form records (its "event" field), if any.
	Event *EventOut `json:"event,omitempty"`
}

// postForm takes a form submission, JSON or URL-encoded: the lead's
// profile and BANT answers, the form's name in the path. The form's rule
// is the entry rule of the journey that names the form as a source (its
// stage too); with none, the default journey's first stage. An unknown
// address creates the lead and enrols it; a known lead's profile is
// merged (and it is enrolled again only as its journey's re-entry rule
// allows). An "event" field (contact_form, demo_request, ...) is recorded
// too, once per submission_id.
func (s *Server) postForm(w http.ResponseWriter, r *http.Request, body []byte) {
	form := r.PathValue("form")
	if form == "" || len(form) > 100 || strings.ContainsAny(form, "\r\n") {
		s.fail(w, r, badRequest("the form's name (in the path) must be 1 to 100 characters"))
		return
	}
	values, err := formValues(r.Header.Get("Content-Type"), body)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p := lead.Profile{Source: form, Fields: map[string]string{}}
	named := map[string]*string{"email": &p.Email, "first_name": &p.FirstName, "last_name": &p.LastName, "company": &p.Company,
		"title": &p.Title, "time_zone": &p.TimeZone, "external_id": &p.ExternalID}
	for _, k := range slices.Sorted(maps.Keys(values)) {
		switch {
		case named[k] != nil:
			*named[k] = values[k]
		case k == keySubmission || k == keyEvent:
		default:
			p.Fields[k] = values[k]
		}
	}
	if p.Email == "" {
		s.fail(w, r, invalidf("email is required: the form must send the lead's address"))
		return
	}
	// The form's event is checked before anything is stored, so a refused
	// submission leaves no lead, no journey and no mail behind.
	var formEvent *EventIn
	if t := values[keyEvent]; t != "" {
		id := values[keySubmission]
		if id == "" {
			id = uuid.NewString()
		}
		formEvent = &EventIn{ID: "form:" + form + ":" + id, Type: t, Source: form}
		check := lead.Event{ID: formEvent.ID, Type: lead.EventType(t), Source: form, LeadID: lead.IDForEmail(p.Email), OccurredAt: s.now()}
		if err := check.Validate(); err != nil {
			s.fail(w, r, fmt.Errorf("%w: %w", ingest.ErrInvalid, err))
			return
		}
	}
	ctx := r.Context()
	journey, err := s.formJourney(ctx, form)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := FormOut{Journey: journey}
	res, err := s.Intake.Enroll(ctx, p, journey, "")
	switch {
	case errors.Is(err, ingest.ErrReentry), errors.Is(err, ingest.ErrConflict):
		// Not enrolled; the lead told us more about itself all the same.
		if uerr := store.UpsertLead(ctx, s.DB, res.Profile); uerr != nil {
			s.fail(w, r, uerr)
			return
		}
		out.Detail = "profile merged; not enrolled: " + strings.TrimPrefix(strings.TrimPrefix(err.Error(), ingest.ErrReentry.Error()+": "), ingest.ErrConflict.Error()+": ")
	case err != nil:
		s.fail(w, r, err)
		return
	default:
		out.Started = res.Started
		if !res.Started {
			out.Detail = "already in a journey; profile merged"
		}
	}
	out.LeadID = res.Profile.ID
	if formEvent != nil {
		formEvent.LeadID = res.Profile.ID
		ev, err := s.record(ctx, *formEvent, "")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		out.Event = &ev
	}
	status := http.StatusOK
	if out.Started {
		status = http.StatusCreated
	}
	writeJSON(w, status, out)
}

// formValues reads a JSON object of strings or a URL-encoded form; each
// key once.
func formValues(contentType string, body []byte) (map[string]string, error) {
	mt, _, _ := mime.ParseMediaType(contentType)
	switch mt {
	case "application/json":
		out := map[string]string{}
		if err := decodeJSON(body, &out); err != nil {
			return nil, err
		}
		return out, nil
	case "application/x-www-form-urlencoded":
		v, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, badRequest("the form body is not URL-encoded: %v", err)
		}
		out := map[string]string{}
		for k, vs := range v {
			if len(vs) > 1 {
				return nil, badRequest("field %q is sent %d times; send it once", k, len(vs))
			}
			if !utf8Valid([]byte(k)) || !utf8Valid([]byte(vs[0])) {
				return nil, badRequest("field %q is not valid UTF-8", k)
			}
			out[k] = vs[0]
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: Content-Type %q: send application/json or application/x-www-form-urlencoded", errUnsupported, contentType)
}

// errUnsupported is a body of a media type the endpoint does not read.
var errUnsupported = errors.New("unsupported media type")

// formJourney is the journey whose entry rules name the form as a source;
// the default journey when none does, or when several do (then the
// default if it is one of them).
func (s *Server) formJourney(ctx context.Context, form string) (string, error) {
	ids, err := store.JourneysWithSource(ctx, s.DB, form)
	if err != nil {
		return "", err
	}
	switch {
	case len(ids) == 1:
		return ids[0], nil
	case slices.Contains(ids, s.Intake.DefaultJourney), len(ids) == 0:
		return s.Intake.DefaultJourney, nil
	}
	return "", invalidf("form %q is named by the entry rules of several journeys (%s); name it in one", form, strings.Join(ids, ", "))
}
