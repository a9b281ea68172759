package journeys

import (
	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/scoring"
)

// Routing picks the owner of a hand-off: the first rule that matches the
// lead's profile names an owner, or a team whose members take hand-offs in
// turn; a lead no rule matches goes to Fallback.
//
//	routing:
//	  rules:
//	    - {field: country, one_of: [DE, AT, CH], team: dach}
//	    - {field: employees, range: {min: 1000}, owner: enterprise@acme.test}
//	  teams:
//	    dach: [anna@acme.test, ben@acme.test]
//	  fallback: sales@acme.test
type Routing struct {
	Rules []RouteRule `yaml:"rules" json:"rules"`
	// Teams by name: the addresses of their members, who take the team's
	// hand-offs in turn (the turn is kept in PostgreSQL, so it is fair
	// across workers and restarts).
	Teams map[string][]string `yaml:"teams,omitempty" json:"teams,omitempty"`
	// Fallback owns what no rule matches; the journey's sales address
	// when empty.
	Fallback string `yaml:"fallback,omitempty" json:"fallback,omitempty"`
}

// RouteRule matches a profile field as a fit rule does (exactly one of
// equals, one_of, contains or range) and names an owner or a team.
type RouteRule struct {
	Field    string         `yaml:"field" json:"field"`
	Equals   string         `yaml:"equals,omitempty" json:"equals,omitempty"`
	OneOf    []string       `yaml:"one_of,omitempty" json:"one_of,omitempty"`
	Contains []string       `yaml:"contains,omitempty" json:"contains,omitempty"`
	Range    *scoring.Range `yaml:"range,omitempty" json:"range,omitempty"`
	Owner    string         `yaml:"owner,omitempty" json:"owner,omitempty"`
	Team     string         `yaml:"team,omitempty" json:"team,omitempty"`
}

func (r RouteRule) matcher() scoring.FitRule {
	return scoring.FitRule{Field: r.Field, Equals: r.Equals, OneOf: r.OneOf, Contains: r.Contains, Range: r.Range}
}

// Route is where a hand-off of a lead goes: an owner, or a team and its
// members (one of whom takes it, in turn); both empty when nothing matched
// and there is no fallback.
type Route struct {
	Owner   string
	Team    string
	Members []string
}

// Route picks the route of a lead's hand-off.
func (rt *Routing) Route(p lead.Profile) Route {
	for _, r := range rt.Rules {
		if !r.matcher().Matches(p) {
			continue
		}
		if r.Team != "" {
			return Route{Team: r.Team, Members: rt.Teams[r.Team]}
		}
		return Route{Owner: r.Owner}
	}
	return Route{Owner: rt.Fallback}
}
