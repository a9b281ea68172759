// Package faults is nurture's fault suite. Its tests inject real faults
// and count what survived from the outside, at the SMTP server and in
// PostgreSQL, never from nurture's own account of itself:
//
//   - a worker process killed with SIGKILL, again and again, while it sends
//     to an SMTP server that answers each message 200 ms late;
//   - an SMTP server that receives messages and drops its reply;
//   - PostgreSQL, and separately the SMTP server, unreachable for longer
//     than any retry (a TCP proxy in front of them is cut for 65 s; the
//     PostgreSQL that other tests share is never stopped);
//   - the Temporal server killed with SIGKILL and restarted on its file
//     while engagement pours in;
//   - events racing the end of their lead's journey.
//
// For each it reports the sends the journeys made, the messages the SMTP
// server received, duplicates, sends lost outside the ambiguous window,
// ambiguous sends listed for operators, workflows failed, and leads whose
// stored state disagrees with their workflow. They run with go test
// ./faults (or -run Fault anywhere), take about three minutes, and are
// skipped with -short. FAULT_REPORT=path appends each fault's figures to a
// file as a Markdown table row; the README's "What survives what" table
// comes from it.
package faults
