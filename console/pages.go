package console

import (
	"cmp"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nurture-dev/nurture/ingest"
	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/store"
	"github.com/nurture-dev/nurture/workflows"
)

// funcs are the templates' helpers.
var funcs = template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
	"whenp": func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
	"money": func(v float64) string { return fmt.Sprintf("$%.2f", v) },
	"per": func(cost float64, n int) string {
		if n == 0 {
			return "–"
		}
		return fmt.Sprintf("$%.2f", cost/float64(n))
	},
	"pct": percent,
	"days": func(d *float64) string {
		if d == nil {
			return "–"
		}
		return fmt.Sprintf("%.1f days", *d)
	},
	"name":   leadName,
	"bant":   bant,
	"signed": func(n int) string { return fmt.Sprintf("%+d", n) },
	"verdictForm": func(leadID string, handoffID int64, csrf string) map[string]any {
		return map[string]any{"LeadID": leadID, "HandoffID": handoffID, "CSRF": csrf}
	},
	"taskForm": func(t store.Task, csrf string) map[string]any {
		return map[string]any{"Task": t, "CSRF": csrf}
	},
	"refreshChoices": func() []int { return []int{5, 30, 300} },
	"ago": func(t, now time.Time) string {
		return now.Sub(t).Round(time.Second).String()
	},
}

// leadName is how a lead is called on a page: its name, else its address.
func leadName(p lead.Profile) string { return cmp.Or(p.Name(), p.Email) }

// bant lists the budget, authority, need and timeline answers a lead gave
// (form fields named bant_*), in that order.
func bant(p lead.Profile) [][2]string {
	var out [][2]string
	for _, k := range []string{"budget", "authority", "need", "timeline"} {
		if v := p.Field("bant_" + k); v != "" {
			out = append(out, [2]string{k, v})
		}
	}
	return out
}

// journeys lists every journey with its versions and the leads on each.
func (c *Console) journeys(w http.ResponseWriter, r *http.Request) {
	vs, err := store.ListJourneys(r.Context(), c.opt.DB)
	if err != nil {
		c.failed(w, r, err)
		return
	}
	type journeyRow struct {
		ID, Name string
		Versions []store.VersionInfo
		Paused   *store.Pause
	}
	var rows []*journeyRow
	byID := map[string]*journeyRow{}
	for _, v := range vs {
		j := byID[v.JourneyID]
		if j == nil {
			j = &journeyRow{ID: v.JourneyID, Name: v.Name}
			byID[v.JourneyID] = j
			rows = append(rows, j)
			p, paused, err := store.JourneyPaused(r.Context(), c.opt.DB, v.JourneyID)
			if err != nil {
				c.failed(w, r, err)
				return
			}
			if paused {
				j.Paused = &p
			}
		}
		j.Versions = append(j.Versions, v)
	}
	c.render(w, r, http.StatusOK, "journeys", map[string]any{"Title": "Journeys", "Journeys": rows})
}

// journey shows one journey version and its diagram.
func (c *Console) journey(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	version, _ := strconv.Atoi(r.URL.Query().Get("version"))
	j, v, err := store.LoadJourney(r.Context(), c.opt.DB, id, version)
	if errors.Is(err, store.ErrNotFound) {
		c.refuse(w, r, http.StatusNotFound, fmt.Sprintf("There is no journey %q (version %d).", id, version))
		return
	}
	if err != nil {
		c.failed(w, r, err)
		return
	}
	var diagram strings.Builder
	if err := j.Mermaid(&diagram); err != nil {
		c.failed(w, r, err)
		return
	}
	vs, err := store.ListJourneys(r.Context(), c.opt.DB)
	if err != nil {
		c.failed(w, r, err)
		return
	}
	vs = slices.DeleteFunc(vs, func(x store.VersionInfo) bool { return x.JourneyID != id })
	p, paused, err := store.JourneyPaused(r.Context(), c.opt.DB, id)
	if err != nil {
		c.failed(w, r, err)
		return
	}
	data := map[string]any{"Title": j.Name, "Journey": j, "Version": v, "Versions": vs, "Diagram": diagram.String()}
	if paused {
		data["Paused"] = p
	}
	c.render(w, r, http.StatusOK, "journey", data)
}

func (c *Console) pause(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, _, err := store.LoadJourney(r.Context(), c.opt.DB, id, 0); errors.Is(err, store.ErrNotFound) {
		c.refuse(w, r, http.StatusNotFound, fmt.Sprintf("There is no journey %q.", id))
		return
	} else if err != nil {
		c.failed(w, r, err)
		return
	}
	reason := strings.TrimSpace(r.PostForm.Get("reason"))
	if reason == "" {
		c.refuse(w, r, http.StatusUnprocessableEntity, "Say why the journey is paused: the reason is kept and shown.")
		return
	}
	reason = fmt.Sprintf("%s (%s)", truncate(reason, 500), viewerOf(r).Account.Name)
	changed, err := store.PauseJourney(r.Context(), c.opt.DB, id, reason)
	if err != nil {
		c.failed(w, r, err)
		return
	}
	msg := fmt.Sprintf("Journey %s is paused: no email of it goes out until it is resumed. Sends that fall due wait; leads keep their place.", id)
	if !changed {
		msg = fmt.Sprintf("Journey %s was paused already.", id)
	}
	c.render(w, r, http.StatusOK, "message", map[string]any{"Title": "Paused", "Message": msg, "Back": Prefix + "/journeys/" + id})
}

func (c *Console) resume(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	changed, err := store.ResumeJourney(r.Context(), c.opt.DB, id)
	if err != nil {
		c.failed(w, r, err)
		return
	}
	msg := fmt.Sprintf("Journey %s is resumed: sends that waited go out, within their send windows.", id)
	if !changed {
		msg = fmt.Sprintf("Journey %s was not paused.", id)
	}
	c.render(w, r, http.StatusOK, "message", map[string]any{"Title": "Resumed", "Message": msg, "Back": Prefix + "/journeys/" + id})
}

// funnel shows the report of a journey as pictures.
func (c *Console) funnel(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	vs, err := store.ListVersions(r.Context(), c.opt.DB)
	if err != nil {
		c.failed(w, r, err)
		return
	}
	var ids []string
	for _, v := range vs {
		if !slices.Contains(ids, v.JourneyID) {
			ids = append(ids, v.JourneyID)
		}
	}
	data := map[string]any{"Title": "Funnel", "Journeys": ids, "Periods": periods, "Now": c.opt.Now()}
	if len(ids) == 0 {
		c.render(w, r, http.StatusOK, "funnel", data)
		return
	}
	k := reportKey{journey: q.Get("journey"), period: q.Get("period")}
	if k.journey == "" {
		k.journey = ids[0]
	}
	if !slices.Contains(ids, k.journey) {
		c.refuse(w, r, http.StatusNotFound, fmt.Sprintf("There is no journey %q.", k.journey))
		return
	}
	if k.period == "" {
		k.period = defaultPeriod
	}
	if !slices.ContainsFunc(periods, func(p period) bool { return p.Key == k.period }) {
		c.refuse(w, r, http.StatusBadRequest, fmt.Sprintf("Period %q: choose 7d, 30d, 90d, 365d or all.", k.period))
		return
	}
	if s := q.Get("version"); s != "" {
		if k.version, err = strconv.Atoi(s); err != nil || k.version < 0 {
			c.refuse(w, r, http.StatusBadRequest, fmt.Sprintf("Version %q: a version number, or nothing for every version.", s))
			return
		}
	}
	if s := q.Get("refresh"); s != "" {
		// The page reloads itself: a funnel on a wall screen, or the demo's.
		n, err := strconv.Atoi(s)
		if err != nil || n < 2 || n > 3600 {
			c.refuse(w, r, http.StatusBadRequest, fmt.Sprintf("Refresh %q: seconds between reloads, 2 to 3600.", s))
			return
		}
		data["Refresh"] = n
	}
	rep, err := c.reports.get(r.Context(), k)
	if err != nil {
		c.failed(w, r, err)
		return
	}
	var versions []int
	for _, v := range vs {
		if v.JourneyID == k.journey {
			versions = append(versions, v.Version)
		}
	}
	var charts []funnelChart
	for _, one := range rep.reports {
		charts = append(charts, chart(one))
	}
	data["Journey"], data["Version"], data["Period"], data["Versions"] = k.journey, k.version, k.period, versions
	data["Charts"], data["ComputedAt"] = charts, rep.at
	if rep.failed != nil {
		data["Stale"] = true
	}
	c.render(w, r, http.StatusOK, "funnel", data)
}

// leadFilterOf reads the lead list's filters from the query.
func leadFilterOf(r *http.Request) (store.LeadFilter, error) {
	q := r.URL.Query()
	f := store.LeadFilter{Search: strings.TrimSpace(q.Get("q")), JourneyID: q.Get("journey"), Stage: q.Get("stage"), Lifecycle: q.Get("lifecycle"), Limit: pageSize + 1}
	if len(f.Search) > maxSearch {
		return f, fmt.Errorf("the search is over %d characters", maxSearch)
	}
	if a := q.Get("after"); a != "" {
		at, id, ok := strings.Cut(a, "~")
		t, err := time.Parse(time.RFC3339Nano, at)
		if !ok || err != nil || id == "" {
			return f, fmt.Errorf("after %q is not a place in the list (follow the Next link)", a)
		}
		f.After = &store.LeadCursor{UpdatedAt: t, ID: id}
	}
	return f, nil
}

// lifecycles are the lifecycle filter's choices.
var lifecycles = append([]workflows.Lifecycle{"new"}, workflows.Lifecycles()...)

// leads is the lead search.
func (c *Console) leads(w http.ResponseWriter, r *http.Request) {
	f, err := leadFilterOf(r)
	if err != nil {
		c.refuse(w, r, http.StatusBadRequest, err.Error())
		return
	}
	rows, err := store.FindLeads(r.Context(), c.opt.DB, f)
	if errors.Is(err, store.ErrSearch) {
		c.refuse(w, r, http.StatusBadRequest, err.Error()+".")
		return
	}
	if err != nil {
		c.failed(w, r, err)
		return
	}
	data := map[string]any{"Title": "Leads", "Filter": f, "Lifecycles": lifecycles, "Stages": []string{"interest", "consideration", "evaluation"}}
	if len(rows) > pageSize {
		rows = rows[:pageSize]
		last := rows[len(rows)-1]
		next := r.URL.Query()
		next.Set("after", last.UpdatedAt.UTC().Format(time.RFC3339Nano)+"~"+last.Profile.ID)
		data["Next"] = Prefix + "/leads?" + next.Encode()
	}
	data["Leads"] = rows
	c.render(w, r, http.StatusOK, "leads", data)
}

// lead is a lead's page: profile, state, score breakdown, hand-off rule,
// timeline, and what the viewer may do.
func (c *Console) lead(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	st, err := c.opt.Intake.State(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		c.refuse(w, r, http.StatusNotFound, "There is no such lead.")
		return
	}
	if err != nil {
		c.failed(w, r, err)
		return
	}
	items, err := store.LeadTimeline(r.Context(), c.opt.DB, id, 200)
	if err != nil {
		c.failed(w, r, err)
		return
	}
	handoffs, err := store.ListHandoffs(r.Context(), c.opt.DB, id)
	if err != nil {
		c.failed(w, r, err)
		return
	}
	data := map[string]any{"Title": leadName(st.Row.Profile), "State": st, "Timeline": items, "Handoffs": handoffs}
	if t, err := store.OpenTask(r.Context(), c.opt.DB, id); err == nil {
		data["Task"] = t
	}
	if !st.Live && !errors.Is(st.LiveErr, workflows.ErrNoJourney) {
		data["LiveProblem"] = st.LiveErr.Error()
	}
	c.render(w, r, http.StatusOK, "lead", data)
}

// answer shows how an action went: done, or why not.
func (c *Console) answer(w http.ResponseWriter, r *http.Request, title string, err error, done string) {
	back := Prefix + "/leads/" + r.PathValue("id")
	if err == nil {
		c.render(w, r, http.StatusOK, "message", map[string]any{"Title": title, "Message": done, "Back": back})
		return
	}
	status := http.StatusServiceUnavailable
	msg := err.Error()
	switch {
	case errors.Is(err, workflows.ErrRefused):
		status, msg = http.StatusConflict, strings.TrimPrefix(msg, workflows.ErrRefused.Error()+": ")
	case errors.Is(err, ingest.ErrConflict), errors.Is(err, workflows.ErrNoJourney):
		status = http.StatusConflict
	case errors.Is(err, ingest.ErrUnknownLead), errors.Is(err, store.ErrNotFound):
		status = http.StatusNotFound
	case errors.Is(err, errInvalid):
		status = http.StatusUnprocessableEntity
	case errors.Is(err, workflows.ErrRemovalWaiting):
		status = http.StatusAccepted
	}
	if status == http.StatusServiceUnavailable {
		c.opt.Log.Warn("console: action failed", "route", r.Pattern, "error", err)
		msg = unavailable
	}
	c.render(w, r, status, "message", map[string]any{"Title": title + ": not done", "Error": msg, "Back": back})
}

var errInvalid = errors.New("invalid")

// verdict gives sales' verdict to the lead's journey, as the Update every
// edge uses, and shows the journey's answer.
func (c *Console) verdict(w http.ResponseWriter, r *http.Request) {
	f := r.PostForm
	handoff, _ := strconv.ParseInt(f.Get("handoff"), 10, 64)
	fb := workflows.SalesFeedback{HandoffID: handoff, Verdict: workflows.Verdict(f.Get("verdict")), Reason: strings.TrimSpace(f.Get("reason")),
		Owner: "console: " + viewerOf(r).Account.Name}
	if err := fb.Validate(); err != nil {
		c.answer(w, r, "Verdict", fmt.Errorf("%w: %w", errInvalid, err), "")
		return
	}
	res, err := c.opt.Intake.Verdict(r.Context(), r.PathValue("id"), fb)
	done := fmt.Sprintf("Hand-off #%d: %s. The lead is now %s", res.HandoffID, res.Verdict, res.Lifecycle)
	if res.Verdict == workflows.VerdictRecycle {
		done += fmt.Sprintf(", back in nurture in %s at stage %s", res.JourneyID, res.Stage)
	}
	c.answer(w, r, "Verdict", err, done+".")
}

// taskOutcome says what came of the lead's open task.
func (c *Console) taskOutcome(w http.ResponseWriter, r *http.Request) {
	f := r.PostForm
	task, _ := strconv.ParseInt(f.Get("task"), 10, 64)
	o := workflows.TaskOutcome{TaskID: task, Outcome: f.Get("outcome"), Note: strings.TrimSpace(f.Get("note"))}
	if err := o.Validate(); err != nil {
		c.answer(w, r, "Task outcome", fmt.Errorf("%w: %w", errInvalid, err), "")
		return
	}
	res, err := workflows.SendTaskOutcome(r.Context(), c.opt.Temporal, r.PathValue("id"), o)
	done := fmt.Sprintf("Task #%d: outcome %s taken.", res.TaskID, res.Outcome)
	if res.Next != "" {
		done += fmt.Sprintf(" The lead goes on to step %q.", res.Next)
	}
	c.answer(w, r, "Task outcome", err, done)
}

// remove takes the lead out of its journey.
func (c *Console) remove(w http.ResponseWriter, r *http.Request) {
	m := workflows.Removal{Reason: fmt.Sprintf("%s (%s)", strings.TrimSpace(r.PostForm.Get("reason")), viewerOf(r).Account.Name)}
	if strings.TrimSpace(r.PostForm.Get("reason")) == "" {
		c.answer(w, r, "Remove", fmt.Errorf("%w: say why the lead is removed: the reason is kept with its exit", errInvalid), "")
		return
	}
	res, err := workflows.RemoveLead(r.Context(), c.opt.Temporal, r.PathValue("id"), m, 10*time.Second)
	c.answer(w, r, "Remove", err, fmt.Sprintf("Removed from %s at step %q (stage %s, was %s).", res.JourneyID, res.Step, res.Stage, res.Lifecycle))
}

// inbox is the sales inbox: hand-offs waiting for a verdict, newest first,
// and open tasks.
func (c *Console) inbox(w http.ResponseWriter, r *http.Request) {
	before, _ := strconv.ParseInt(r.URL.Query().Get("before"), 10, 64)
	waiting, err := store.WaitingHandoffs(r.Context(), c.opt.DB, before, pageSize+1, 5)
	if err != nil {
		c.failed(w, r, err)
		return
	}
	data := map[string]any{"Title": "Sales inbox"}
	if len(waiting) > pageSize {
		waiting = waiting[:pageSize]
		data["Next"] = fmt.Sprintf("%s/inbox?before=%d", Prefix, waiting[len(waiting)-1].Handoff.ID)
	}
	tasksBefore, _ := strconv.ParseInt(r.URL.Query().Get("tasks_before"), 10, 64)
	tasks, err := store.WaitingTasks(r.Context(), c.opt.DB, tasksBefore, pageSize+1)
	if err != nil {
		c.failed(w, r, err)
		return
	}
	if len(tasks) > pageSize {
		tasks = tasks[:pageSize]
		data["NextTasks"] = fmt.Sprintf("%s/inbox?tasks_before=%d", Prefix, tasks[len(tasks)-1].Task.ID)
	}
	data["Waiting"], data["Tasks"] = waiting, tasks
	c.render(w, r, http.StatusOK, "inbox", data)
}

// attention lists what needs an operator: ambiguous sends, enrolments and
// events Temporal has not confirmed, suppressed addresses, and the last
// check for leads whose journey should run and does not.
func (c *Console) attention(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ambiguous, err := store.ListSends(ctx, c.opt.DB, "", pageSize, store.SendAmbiguous)
	if err != nil {
		c.failed(w, r, err)
		return
	}
	now := c.opt.Now()
	pending, err := store.ListPendingEnrolments(ctx, c.opt.DB, now.Add(-2*time.Minute), pageSize)
	if err != nil {
		c.failed(w, r, err)
		return
	}
	undelivered, err := store.ListUndelivered(ctx, c.opt.DB, now.Add(-2*time.Minute), pageSize)
	if err != nil {
		c.failed(w, r, err)
		return
	}
	crm, err := store.FailingCRMPosts(ctx, c.opt.DB, pageSize)
	if err != nil {
		c.failed(w, r, err)
		return
	}
	suppressed, total, more, err := store.ListSuppressions(ctx, c.opt.DB, pageSize)
	if err != nil {
		c.failed(w, r, err)
		return
	}
	c.render(w, r, http.StatusOK, "attention", map[string]any{"Title": "Attention", "Ambiguous": ambiguous, "Pending": pending,
		"Undelivered": undelivered, "CRM": crm, "Suppressed": suppressed, "SuppressedTotal": total, "SuppressedMore": more, "Check": c.checks.state(), "Now": now})
}

func (c *Console) check(w http.ResponseWriter, r *http.Request) {
	msg := "The check runs in the background; this page shows its findings when it is done."
	if !c.checks.start() {
		msg = "A check is running already; this page shows its findings when it is done."
	}
	c.render(w, r, http.StatusAccepted, "message", map[string]any{"Title": "Checking", "Message": msg, "Back": Prefix + "/attention"})
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8Start(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }
