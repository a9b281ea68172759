package webhook

import (
	"context"
	"net/http"
	"time"

	"go.temporal.io/sdk/client"
)

// healthz says the process is up; nothing more.
func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz says whether PostgreSQL and Temporal answer, each within 2 s: a
// load balancer sends no traffic to a receiver that would answer 503.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	out := map[string]string{"postgres": "ok", "temporal": "ok"}
	status := http.StatusOK
	if err := s.DB.Ping(ctx); err != nil {
		out["postgres"], status = "unreachable: "+err.Error(), http.StatusServiceUnavailable
	}
	if _, err := s.Temporal.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		out["temporal"], status = "unreachable: "+err.Error(), http.StatusServiceUnavailable
	}
	if status != http.StatusOK {
		w.Header().Set("Retry-After", "5")
	}
	writeJSON(w, status, out)
}
