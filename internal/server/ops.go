package server

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/ocellus/ocellus/internal/store"
)

// OpsPrefix is the path prefix of Ocellus's own, non-AWS endpoints
// (health; metrics and the console later). No S3 bucket can take it:
// bucket names cannot contain '_'.
const OpsPrefix = "/_ocellus/"

// health is the answer of GET /_ocellus/health.
type health struct {
	Status  string            `json:"status"` // "ok" or "degraded"
	Started time.Time         `json:"started"`
	Uptime  float64           `json:"uptimeSeconds"`
	Checks  map[string]string `json:"checks"` // component -> "ok" or what is wrong
	// FreeBytes is the free space of the data volume.
	FreeBytes uint64 `json:"freeBytes"`
}

// serveHealth answers GET /_ocellus/health. It is unauthenticated and
// reveals nothing about any account.
func (s *Server) serveHealth(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	h := s.health(r.Context())
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if h.Status != "ok" {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	json.NewEncoder(w).Encode(h)
}

func (s *Server) health(ctx context.Context) health {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	now := s.cfg.Now()
	h := health{Status: "ok", Started: s.started.UTC(), Uptime: now.Sub(s.started).Seconds(), Checks: map[string]string{}}
	fail := func(name string, err error) {
		h.Status = "degraded"
		h.Checks[name] = err.Error()
	}
	// The database answers a real read (an account that owns nothing).
	if _, err := s.store.ListProjects(ctx, store.ProjectFilter{Account: "health", Limit: 1}); err != nil {
		fail("database", err)
	} else {
		h.Checks["database"] = "ok"
	}
	if free, err := s.space.Free(); err != nil {
		fail("dataVolume", err)
	} else if err := s.space.Check(0); err != nil {
		h.FreeBytes = free
		fail("dataVolume", err)
	} else {
		h.FreeBytes = free
		h.Checks["dataVolume"] = "ok"
	}
	return h
}
