package connector

import (
	"fmt"
	"sort"
	"sync"
)

var registry = struct {
	sync.Mutex
	m map[string]Factory
}{m: map[string]Factory{}}

// Register makes a connector type available. It is called from the init
// function of a driver package and panics on an empty or duplicate type.
func Register(typ string, f Factory) {
	registry.Lock()
	defer registry.Unlock()
	if typ == "" || f == nil {
		panic("connector: Register with empty type or nil factory")
	}
	if _, dup := registry.m[typ]; dup {
		panic(fmt.Sprintf("connector: type %q registered twice", typ))
	}
	registry.m[typ] = f
}

// Lookup returns the factory of a connector type.
func Lookup(typ string) (Factory, bool) {
	registry.Lock()
	defer registry.Unlock()
	f, ok := registry.m[typ]
	return f, ok
}

// Types lists the registered connector types, sorted.
func Types() []string {
	registry.Lock()
	defer registry.Unlock()
	out := make([]string, 0, len(registry.m))
	for t := range registry.m {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}
