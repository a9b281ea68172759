package main

import (
	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/workflows"
)

// demoLead is a sample lead and what it does, in journey days after
// enrolment (its source picks its start stage, by the journey's entry
// rules); verdict is what "sales" answers when it is handed off.
type demoLead struct {
	profile lead.Profile
	script  []scripted
	verdict workflows.Verdict
	reason  string
	// task is what "sales" reports for a task the journey gives.
	task string
}

type scripted struct {
	day float64
	typ lead.EventType
}

func sampleLeads() []demoLead {
	return []demoLead{
		{
			profile: lead.Profile{Email: "ada@analytical.test", FirstName: "Ada", LastName: "Lovelace", Company: "Analytical Engines", Title: "CTO", TimeZone: "Europe/London", Source: "whitepaper form",
				Fields: map[string]string{"persona": "executive", "industry": "manufacturing", "employees": "1200", "bant_authority": "yes"}},
			script: []scripted{{0.4, lead.EmailOpen}, {1.0, lead.EmailClick}, {1.5, lead.WhitepaperDownload}, {2.0, lead.WebinarSignup},
				{3.5, lead.CaseStudyView}, {4.5, lead.PricingPageView}, {5.0, lead.DemoRequest}},
			verdict: workflows.VerdictAccepted, reason: "budget approved, meeting booked",
		},
		{
			profile: lead.Profile{Email: "grace@cobol.test", FirstName: "Grace", LastName: "Hopper", Company: "Cobol Systems", Title: "VP Engineering", TimeZone: "America/New_York", Source: "webinar list",
				Fields: map[string]string{"persona": "technical"}},
			script: []scripted{{0.5, lead.EmailOpen}},
		},
		{
			profile: lead.Profile{Email: "linus@kernel.test", FirstName: "Linus", Company: "Kernel Co", Title: "Developer", TimeZone: "Europe/Helsinki", Source: "blog signup"},
			script:  []scripted{{1.0, lead.EmailOpen}, {2.0, lead.Unsubscribe}},
		},
		{
			// Her source puts her at evaluation, by the journey's entry rule.
			profile: lead.Profile{Email: "margaret@apollo.test", FirstName: "Margaret", LastName: "Hamilton", Company: "Apollo Guidance", Title: "Director of Software", TimeZone: "America/Chicago", Source: "demo request form",
				Fields: map[string]string{"persona": "technical", "employees": "800"}},
			script: []scripted{{0.5, lead.EmailOpen}, {0.7, lead.EmailClick}, {1.0, lead.PricingPageView}, {1.5, lead.ContactForm},
				{2.0, lead.DemoRequest}},
			verdict: workflows.VerdictRecycle, reason: "no budget until next quarter",
			task: "not_now",
		},
		{
			profile: lead.Profile{Email: "alan@bletchley.test", FirstName: "Alan", LastName: "Turing", Company: "Bletchley Labs", Title: "Head of Research", TimeZone: "Europe/London", Source: "trade show"},
			script:  []scripted{{0.2, lead.HardBounce}},
		},
	}
}
