// Package health serves the state of a running gateway on the device
// itself: a unix socket that `tbgw status` reads (one JSON document per
// connection), and an optional HTTP endpoint with /healthz (liveness),
// /readyz (connected to ThingsBoard), /status (the same JSON) and
// /metrics (the gateway's counters in the Prometheus text format).
//
// Both are off unless configured, and the HTTP endpoint binds to the
// loopback interface unless an address says otherwise. Nothing runs
// between requests: no timers, no sampling; every answer reads the
// gateway's counters at that moment.
//
// Non-goals: authentication (keep it on loopback or a unix socket),
// histograms, and any control of the gateway (it is read-only).
package health
