package odbc

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/tbgw/tbgw/drivers/kit/atomicfile"
)

// iterState is the persisted iterator: upstream's file content ("name",
// "value", "total") plus the key of the query it belongs to.
type iterState struct {
	Name  string `json:"name"`
	Value any    `json:"value"`
	Total uint64 `json:"total"`
	Key   string `json:"key"`
}

// iterFile names the iterator file as upstream does: the SHA-1 of driver,
// server, database, connector name and column, in the data directory.
func iterFile(dir string, t *target, name, column string) string {
	h := sha1.Sum([]byte(t.kind + t.server + t.db + name + column))
	return filepath.Join(dir, hex.EncodeToString(h[:])+".json")
}

// iterKey identifies the polling query an iterator value belongs to; a
// changed query or column starts from the configured value again.
func iterKey(query, column string) string {
	h := sha1.Sum([]byte(query + "\x00" + column))
	return hex.EncodeToString(h[:8])
}

func loadIter(path, key string) (*iterState, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var st iterState
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&st); err != nil {
		return nil, fmt.Errorf("iterator file %s: %w", path, err)
	}
	if st.Key != key || st.Value == nil {
		return nil, nil
	}
	if n, ok := st.Value.(json.Number); ok {
		if i, err := n.Int64(); err == nil {
			st.Value = i
		} else if f, err := n.Float64(); err == nil {
			st.Value = f
		}
	}
	return &st, nil
}

// jsonValue makes an iterator value JSON-friendly (times as RFC 3339,
// bytes as text).
func jsonValue(v any) any {
	switch x := v.(type) {
	case time.Time:
		return x.Format(time.RFC3339Nano)
	case []byte:
		return string(x)
	}
	return v
}

func saveIter(path string, st *iterState) error {
	cp := *st
	cp.Value = jsonValue(st.Value)
	b, err := json.Marshal(&cp)
	if err != nil {
		return err
	}
	if err := atomicfile.MkdirPrivate(filepath.Dir(path)); err != nil {
		return err
	}
	return atomicfile.Write(path, b, 0o600)
}
