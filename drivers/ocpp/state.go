package ocpp

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
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
	return writeFileAtomic(s.file, b)
}

func sameJSON(a, b map[string]any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			_ = os.Remove(tmp)
		}
	}()
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	ok = true
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
