package ocpp

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sync"

	"github.com/tbgw/tbgw/drivers/kit/atomicfile"
)

// profileStore remembers the BootNotification profile of every charge
// point, so a charger that reconnects without booting again (the normal
// case) keeps its device name, also across gateway restarts when the
// connector has a data directory.
type profileStore struct {
	mu   sync.Mutex
	file string // "" = memory only
	m    map[string]map[string]any
	err  error
}

func newProfileStore(dir string) *profileStore {
	s := &profileStore{m: map[string]map[string]any{}}
	if dir == "" {
		return s
	}
	s.file = filepath.Join(dir, "ocpp-profiles.json")
	if b, err := os.ReadFile(s.file); err == nil {
		_ = json.Unmarshal(b, &s.m) // a damaged file only loses names
	}
	return s
}

func (s *profileStore) get(id string) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[id]
}

// put stores a profile and, when it changed, writes the file (0600,
// atomically).
func (s *profileStore) put(id string, p map[string]any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.m[id]; ok && sameJSON(old, p) {
		return nil
	}
	s.m[id] = p
	if s.file == "" {
		return nil
	}
	b, err := json.Marshal(s.m)
	if err != nil {
		return err
	}
	if err := atomicfile.MkdirPrivate(filepath.Dir(s.file)); err != nil {
		return err
	}
	return atomicfile.Write(s.file, b, 0o600)
}

func sameJSON(a, b map[string]any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}
