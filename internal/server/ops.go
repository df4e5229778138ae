package server

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/ocellus/ocellus/internal/store"
)

// OpsPrefix is the path prefix of Ocellus's own, non-AWS endpoints
// (health, metrics; the console later). No S3 bucket can take it: bucket
// names cannot contain '_'.
const OpsPrefix = "/_ocellus/"

// ClusterPrefix is where nodes of one database send each other forwarded
// requests (control.ClusterPath is under it).
const ClusterPrefix = OpsPrefix + "cluster/"

// health is the answer of the health endpoints.
type health struct {
	Status  string    `json:"status"` // "ok" or "degraded"
	Node    string    `json:"node"`
	Started time.Time `json:"started"`
	Uptime  float64   `json:"uptimeSeconds"`
	// Checks maps a component to "ok" or what is wrong with it (the
	// readiness check only).
	Checks map[string]string `json:"checks,omitempty"`
	// FreeBytes is the free space of the data volume (readiness only).
	FreeBytes uint64 `json:"freeBytes,omitempty"`
}

// serveHealth answers GET /_ocellus/health and /_ocellus/health/ready, the
// readiness check: 200 when this node can serve requests (the database
// answers a read, the data volume is outside its reserve, the S3 endpoint
// answers), else 503 with what is wrong. A load balancer sends traffic
// only to ready nodes. It is unauthenticated and reveals nothing about
// any account.
func (s *Server) serveHealth(w http.ResponseWriter, r *http.Request) {
	if !getOrHead(w, r) {
		return
	}
	s.writeHealth(w, s.ready(r.Context()))
}

// serveLive answers GET /_ocellus/health/live, the liveness check: 200
// whenever the process serves HTTP at all, whatever its dependencies say,
// so that an orchestrator restarts a hung process but not one waiting for
// its database.
func (s *Server) serveLive(w http.ResponseWriter, r *http.Request) {
	if !getOrHead(w, r) {
		return
	}
	s.writeHealth(w, s.live())
}

func getOrHead(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return false
	}
	return true
}

func (s *Server) writeHealth(w http.ResponseWriter, h health) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if h.Status != "ok" {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	json.NewEncoder(w).Encode(h)
}

func (s *Server) live() health {
	return health{Status: "ok", Node: s.cfg.NodeID, Started: s.started.UTC(), Uptime: s.cfg.Now().Sub(s.started).Seconds()}
}

func (s *Server) ready(ctx context.Context) health {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	h := s.live()
	h.Checks = map[string]string{}
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
	if err := s.s3Ready(ctx); err != nil {
		fail("s3", err)
	} else {
		h.Checks["s3"] = "ok"
	}
	return h
}
