package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/smtpsink"
	"github.com/nurture-dev/nurture/workflows"
)

func TestZZDumpHistory(t *testing.T) {
	ctx := context.Background()
	s := startSystem(t, "", 1)
	p, err := s.enroll(ctx, lead.Profile{Email: "x@y.test"})
	require.NoError(t, err)
	_, err = s.sink.Wait(ctx, func(m []smtpsink.Message) bool { return len(m) >= 1 })
	require.NoError(t, err)
	time.Sleep(time.Second)
	it := s.client.GetWorkflowHistory(ctx, workflows.WorkflowID(p.ID), "", false, 0)
	var out []string
	for it.HasNext() {
		ev, _ := it.Next()
		x := strings.TrimPrefix(ev.GetEventType().String(), "EVENT_TYPE_")
		if m := ev.GetMarkerRecordedEventAttributes(); m != nil {
			x += "(" + m.GetMarkerName()
			if d, ok := m.GetDetails()["change-id"]; ok { x += " " + string(d.GetPayloads()[0].GetData()) }
			if d, ok := m.GetDetails()["type"]; ok { x += " " + string(d.GetPayloads()[0].GetData()) }
			x += ")"
		}
		if a := ev.GetActivityTaskScheduledEventAttributes(); a != nil { x += "(" + a.GetActivityType().GetName() + ")" }
		out = append(out, x)
	}
	t.Log("\n" + strings.Join(out, "\n"))
}
