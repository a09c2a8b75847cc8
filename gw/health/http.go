package health

import (
	"context"
	"encoding/json"
	"net/http"
)

// Handler serves /healthz, /readyz, /status and /metrics.
//
// /healthz answers 200 while the gateway's main loops answer (liveness),
// whatever the state of the ThingsBoard connection; /readyz answers 200
// only while also connected to ThingsBoard. Both answer 503 otherwise,
// with the reason in the body.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		s.probe(w, r, false)
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		s.probe(w, r, true)
	})
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(s.src.Status())
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		WriteMetrics(w, s.src.Status())
	})
	return mux
}

func (s *Server) probe(w http.ResponseWriter, r *http.Request, needConnected bool) {
	ctx, cancel := context.WithTimeout(r.Context(), aliveTimeout)
	defer cancel()
	res := struct {
		Status    string `json:"status"`
		Connected bool   `json:"connected"`
		Error     string `json:"error,omitempty"`
	}{Status: "ok"}
	code := http.StatusOK
	if err := s.src.Alive(ctx); err != nil {
		res.Status, res.Error, code = "unhealthy", err.Error(), http.StatusServiceUnavailable
	}
	res.Connected = s.src.Status().Connected
	if needConnected && code == http.StatusOK && !res.Connected {
		res.Status, res.Error, code = "not ready", "not connected to ThingsBoard", http.StatusServiceUnavailable
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(res)
}
