package gw

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/tbgw/tbgw/gw/config"
	"github.com/tbgw/tbgw/gw/storage"
)

// StorageConfig resolves the storage block of cfg against the data
// directory: relative data_folder_path and data_file_path are joined to
// dataDir, and a path that names a file rather than a directory (an
// upstream "./data/data.db", the SQLite database of the Python gateway)
// is replaced by its directory, as upstream does. The notes say what was
// changed or found: upstream storage files in the log's directory are
// left alone and not read (their unsent events are not carried over).
func StorageConfig(cfg *config.Config, dataDir string) (storage.Config, []string) {
	sc := cfg.Storage
	if sc.Type == "" {
		sc.Type = "memory"
	}
	var notes []string
	for _, p := range []struct {
		key  string
		v    *string
		used bool
	}{
		{"data_folder_path", &sc.DataFolderPath, sc.Type == "file"},
		{"data_file_path", &sc.DataFilePath, sc.Type == "sqlite"},
	} {
		orig := *p.v
		if orig == "" {
			orig = storage.DefaultDataPath
		}
		abs := orig
		if !filepath.IsAbs(abs) {
			abs = filepath.Join(dataDir, abs)
		}
		if !strings.HasSuffix(orig, "/") && namesFile(abs) {
			if p.used {
				notes = append(notes, fmt.Sprintf("storage.%s %q names a file; the write-ahead log uses its directory %s", p.key, orig, filepath.Dir(abs)))
			}
			abs = filepath.Dir(abs)
		}
		*p.v = abs
		if p.used {
			if left := upstreamFiles(abs); len(left) > 0 {
				notes = append(notes, fmt.Sprintf("%s holds storage files of the Python gateway (%s): tbgw does not read them, so the events they hold are not sent; remove them once not needed",
					abs, strings.Join(left, ", ")))
			}
		}
	}
	return sc, notes
}

// namesFile reports whether p is an existing non-directory, or a missing
// path whose name looks like a database file (upstream's data.db).
func namesFile(p string) bool {
	fi, err := os.Stat(p)
	if err == nil {
		return !fi.IsDir()
	}
	ext := filepath.Ext(p)
	return errors.Is(err, fs.ErrNotExist) && (ext == ".db" || ext == ".sqlite" || ext == ".sqlite3")
}

// upstreamFiles lists the Python gateway's storage files in dir: the
// SQLite database (data.db and its journals) and the file storage's
// data_*.txt and state_file.txt.
func upstreamFiles(dir string) []string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		n := e.Name()
		if e.IsDir() {
			continue
		}
		if strings.HasPrefix(n, "data.db") || n == "state_file.txt" ||
			(strings.HasPrefix(n, "data_") && strings.HasSuffix(n, ".txt")) {
			out = append(out, n)
		}
	}
	return out
}

// UsableDir reports why dir cannot hold the gateway's state, without
// writing anything: it must be a directory this process may write into,
// or be missing under one it may create it in.
func UsableDir(dir string) error {
	p := dir
	for {
		fi, err := os.Stat(p)
		if err == nil {
			if !fi.IsDir() {
				return fmt.Errorf("data directory %s: %s is not a directory", dir, p)
			}
			if err := unix.Access(p, unix.W_OK|unix.X_OK); err != nil {
				if p == dir {
					return fmt.Errorf("data directory %s is not writable: %w", dir, err)
				}
				return fmt.Errorf("data directory %s is missing and cannot be created in %s: %w", dir, p, err)
			}
			return nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("data directory %s: %w", dir, err)
		}
		parent := filepath.Dir(p)
		if parent == p {
			return fmt.Errorf("data directory %s: no existing parent", dir)
		}
		p = parent
	}
}
