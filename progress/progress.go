// Package progress names what a lead's journey records as it goes: each
// record of its score, stage and lifecycle says, typed, what happened, so
// reports and timelines never parse the words of its reason. The workflow
// writes them (through an activity), the store keeps them, and reports,
// timelines and the demo read them; none of these needs another's package
// to name them.
package progress

// Kind says what a progress record records.
type Kind string

// What a journey records.
const (
	Enrolled Kind = "enrolled"
	// Scored: the score changed (engagement, decay, an adjust step); the
	// lifecycle may have moved to or back from MQL with it.
	Scored Kind = "scored"
	// MQL: the score changed and made the lead an MQL.
	MQL Kind = "mql"
	// Stage: the lead entered a buying stage as the journey moved on, or a
	// set_stage step put it there.
	Stage     Kind = "stage"
	HandedOff Kind = "handed_off"
	Verdict   Kind = "verdict"
	Exited    Kind = "exited"
	// Goal: the journey reached its goal (named in the exit reason).
	Goal Kind = "goal"
	// Migrated: the lead moved to another version of its journey (starter
	// migrate); the record's version is the new one.
	Migrated Kind = "migrated"
)
