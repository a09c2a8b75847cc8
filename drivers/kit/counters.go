package kit

import (
	"sort"
	"sync"
	"sync/atomic"
)

// Counters are a connector's own named counters (polls, timeouts,
// reconnects, dropped items...). A connector that returns them from
// Stats() (connector.Statser) has them reported with the gateway's
// statistics. The zero value is ready; it is safe for concurrent use.
type Counters struct {
	m sync.Map // name -> *atomic.Uint64
}

// Counter returns the counter name, creating it at zero. Keep the result
// to add to it without a map look-up on hot paths.
func (c *Counters) Counter(name string) *atomic.Uint64 {
	if v, ok := c.m.Load(name); ok {
		return v.(*atomic.Uint64)
	}
	v, _ := c.m.LoadOrStore(name, new(atomic.Uint64))
	return v.(*atomic.Uint64)
}

// Add adds n to the counter name.
func (c *Counters) Add(name string, n uint64) { c.Counter(name).Add(n) }

// Get returns the value of the counter name.
func (c *Counters) Get(name string) uint64 {
	if v, ok := c.m.Load(name); ok {
		return v.(*atomic.Uint64).Load()
	}
	return 0
}

// Stats returns a snapshot of every counter.
func (c *Counters) Stats() map[string]uint64 {
	out := map[string]uint64{}
	c.m.Range(func(k, v any) bool {
		out[k.(string)] = v.(*atomic.Uint64).Load()
		return true
	})
	return out
}

// Names lists the counters, sorted.
func (c *Counters) Names() []string {
	var out []string
	c.m.Range(func(k, _ any) bool { out = append(out, k.(string)); return true })
	sort.Strings(out)
	return out
}
