package config_test

import (
	"flag"
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/nurture-dev/nurture/config"
)

// TestSendRateSettings: the defaults, the environment, flags over it, and
// values that are no rate, refused with what would be right.
func TestSendRateSettings(t *testing.T) {
	t.Parallel()
	parse := func(vars map[string]string, args ...string) (config.Config, error) {
		fs := flag.NewFlagSet("x", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		var c config.Config
		c.RegisterGroups(fs, env(vars), config.Sending)
		if err := fs.Parse(args); err != nil {
			return c, err
		}
		return c, c.Check(env(vars))
	}
	c, err := parse(nil)
	require.NoError(t, err)
	require.Equal(t, [3]float64{10, 0, 120}, [3]float64{c.SendRate, c.SendRatePerWorker, float64(c.SendRatePerDomain)}, "the documented defaults")

	c, err = parse(map[string]string{"SEND_RATE": "2.5", "SEND_RATE_PER_WORKER": "1", "SEND_RATE_PER_DOMAIN": "0"})
	require.NoError(t, err)
	require.Equal(t, [3]float64{2.5, 1, 0}, [3]float64{c.SendRate, c.SendRatePerWorker, float64(c.SendRatePerDomain)})

	c, err = parse(map[string]string{"SEND_RATE": "2.5"}, "-send-rate", "0", "-send-rate-per-domain", "30")
	require.NoError(t, err)
	require.Equal(t, [2]float64{0, 30}, [2]float64{c.SendRate, float64(c.SendRatePerDomain)}, "a flag overrides the environment")

	_, err = parse(map[string]string{"SEND_RATE": "fast", "SEND_RATE_PER_WORKER": "-1", "SEND_RATE_PER_DOMAIN": "1.5"})
	require.EqualError(t, err, `configuration: SEND_RATE "fast": emails a second, a number 0 or more (0 is no limit); `+
		`SEND_RATE_PER_WORKER "-1": emails a second, a number 0 or more (0 is no limit); `+
		`SEND_RATE_PER_DOMAIN "1.5": emails a minute to one domain, a whole number 0 or more (0 is no limit)`)
	_, err = parse(nil, "-send-rate", "-3")
	require.ErrorContains(t, err, `invalid value "-3" for flag -send-rate: -3 is not a rate: a number 0 or more`)
	_, err = parse(nil, "-send-rate-per-domain", "lots")
	require.ErrorContains(t, err, `invalid value "lots" for flag -send-rate-per-domain: "lots" is not a whole number 0 or more`)
}

func TestWorkflowCacheSize(t *testing.T) {
	t.Parallel()
	parse := func(vars map[string]string, args ...string) (config.Config, error) {
		fs := flag.NewFlagSet("worker", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		var c config.Config
		c.RegisterGroups(fs, env(vars), config.Worker)
		if err := fs.Parse(args); err != nil {
			return c, err
		}
		return c, c.Check(env(vars))
	}
	c, err := parse(nil)
	require.NoError(t, err)
	require.Equal(t, 10000, c.WorkflowCacheSize, "the SDK's own default")
	c, err = parse(map[string]string{"WORKFLOW_CACHE_SIZE": "2000"})
	require.NoError(t, err)
	require.Equal(t, 2000, c.WorkflowCacheSize)
	_, err = parse(map[string]string{"WORKFLOW_CACHE_SIZE": "lots"})
	require.EqualError(t, err, `configuration: WORKFLOW_CACHE_SIZE "lots": journeys a worker keeps in memory, a whole number 0 or more`)
	_, err = parse(nil, "-workflow-cache-size", "-1")
	require.ErrorContains(t, err, `invalid value "-1" for flag -workflow-cache-size`)
}
