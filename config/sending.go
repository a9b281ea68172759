package config

import (
	"flag"
	"fmt"
	"math"
	"strconv"
)

// The send rate's defaults: a modest email provider account's rate (Amazon
// SES starts production accounts at 14 a second), no limit of a worker's
// own (the cluster's binds), and at most 120 emails a minute to one
// recipient domain, so a send window opening at 09:00 for 5,000 leads on
// gmail.com spreads them over 40 minutes instead of one burst (while the
// other domains' mail goes on at the cluster rate).
// DefaultWorkflowCacheSize is the SDK's own default: about 1 GB of a
// worker's memory when full (see the README's Performance).
const DefaultWorkflowCacheSize = 10000

const (
	DefaultSendRate          = 10
	DefaultSendRatePerWorker = 0
	DefaultSendRatePerDomain = 120
)

// registerSending declares SEND_RATE, SEND_RATE_PER_WORKER and
// SEND_RATE_PER_DOMAIN. A value in the environment that is not a number
// is kept as NaN (-1 for the per-domain count) for Check to report; a bad
// flag value is refused when the flags are parsed.
func (c *Config) registerSending(fs *flag.FlagSet, getenv Getenv) {
	rate := func(p *float64, name, env string, def float64, usage string) {
		*p = def
		if v := getenv(env); v != "" {
			*p = math.NaN()
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				*p = f
			}
		}
		fs.Var(rateValue{p}, name, usage+" ($"+env+")")
	}
	rate(&c.SendRate, "send-rate", "SEND_RATE", DefaultSendRate,
		"journey emails a `second` across every worker (the Temporal server enforces it on the send task queue; give every worker the same); 0 is no limit")
	rate(&c.SendRatePerWorker, "send-rate-per-worker", "SEND_RATE_PER_WORKER", DefaultSendRatePerWorker,
		"journey emails a `second` from this worker; 0 is no limit")
	registerCount(fs, getenv, &c.SendRatePerDomain, "send-rate-per-domain", "SEND_RATE_PER_DOMAIN", DefaultSendRatePerDomain,
		"journey emails a `minute` to one recipient domain (gmail.com, acme.com), across every worker; 0 is no limit")
}

// registerCount declares a whole-number setting of 0 or more, default def.
// A value in the environment that is not a whole number is kept as -1, for
// Check to report; a bad flag value is refused when the flags are parsed.
func registerCount(fs *flag.FlagSet, getenv Getenv, p *int, name, env string, def int, usage string) {
	*p = def
	if v := getenv(env); v != "" {
		*p = -1
		if n, err := strconv.Atoi(v); err == nil {
			*p = n
		}
	}
	fs.Var(countValue{p}, name, usage+" ($"+env+")")
}

// checkSending says what is wrong with the send rate's settings.
func (c *Config) checkSending(getenv Getenv) []string {
	var problems []string
	for _, r := range []struct {
		env string
		v   float64
	}{{"SEND_RATE", c.SendRate}, {"SEND_RATE_PER_WORKER", c.SendRatePerWorker}} {
		if checkRate(r.v) != nil {
			problems = append(problems, fmt.Sprintf("%s %q: emails a second, a number 0 or more (0 is no limit)", r.env, given(getenv, r.env, r.v)))
		}
	}
	if c.SendRatePerDomain < 0 {
		problems = append(problems, fmt.Sprintf("SEND_RATE_PER_DOMAIN %q: emails a minute to one domain, a whole number 0 or more (0 is no limit)", given(getenv, "SEND_RATE_PER_DOMAIN", float64(c.SendRatePerDomain))))
	}
	return problems
}

// given is the value of a setting as the operator wrote it, when it came
// from the environment.
func given(getenv Getenv, env string, v float64) string {
	if s := getenv(env); s != "" {
		return s
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

func checkRate(f float64) error {
	if math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
		return fmt.Errorf("%v is not a rate: a number 0 or more", f)
	}
	return nil
}

// rateValue is a float flag that refuses what is not a rate.
type rateValue struct{ p *float64 }

func (v rateValue) String() string {
	if v.p == nil { // the zero value flag.PrintDefaults makes
		return ""
	}
	return strconv.FormatFloat(*v.p, 'g', -1, 64)
}

func (v rateValue) Set(s string) error {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Errorf("%q is not a number", s)
	}
	if err := checkRate(f); err != nil {
		return err
	}
	*v.p = f
	return nil
}

// countValue is an int flag that refuses negatives.
type countValue struct{ p *int }

func (v countValue) String() string {
	if v.p == nil {
		return ""
	}
	return strconv.Itoa(*v.p)
}

func (v countValue) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return fmt.Errorf("%q is not a whole number 0 or more", s)
	}
	*v.p = n
	return nil
}
