package ftp

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/tbgw/tbgw/drivers/kit/atomicfile"
)

// fileState is what the connector remembers about one remote file across
// restarts: how far a PARTIAL read got (byte offset of the first line not
// yet sent, and the TABLE header read at offset 0), and the size and
// modification time of the version a FULL read last sent completely.
type fileState struct {
	Off    int64  `json:"off,omitempty"`
	Header string `json:"header,omitempty"`
	Size   int64  `json:"size,omitempty"`
	MTime  int64  `json:"mtime,omitempty"` // Unix ns
}

// stateStore persists fileStates in one JSON file (0600) written
// atomically after every accepted batch.
type stateStore struct {
	path  string
	files map[string]*fileState // key: path pattern + "\x00" + file path
}

func loadState(path string) (*stateStore, error) {
	st := &stateStore{path: path, files: map[string]*fileState{}}
	if path == "" {
		return st, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &st.files); err != nil {
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	for k, v := range st.files {
		if v == nil {
			delete(st.files, k)
		}
	}
	return st, nil
}

func stateKey(pattern, file string) string { return pattern + "\x00" + file }

func (st *stateStore) get(key string) *fileState {
	f := st.files[key]
	if f == nil {
		f = &fileState{}
		st.files[key] = f
	}
	return f
}

// prune forgets the files of pattern that are not in present.
func (st *stateStore) prune(pattern string, present map[string]bool) bool {
	changed := false
	prefix := pattern + "\x00"
	for k := range st.files {
		if len(k) > len(prefix) && k[:len(prefix)] == prefix && !present[k[len(prefix):]] {
			delete(st.files, k)
			changed = true
		}
	}
	return changed
}

func (st *stateStore) save() error {
	if st.path == "" {
		return nil
	}
	b, err := json.Marshal(st.files)
	if err != nil {
		return err
	}
	if err := atomicfile.MkdirPrivate(filepath.Dir(st.path)); err != nil {
		return err
	}
	return atomicfile.Write(st.path, b, 0o600)
}
