package gw

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/tbgw/tbgw/drivers/kit/atomicfile"
)

// Files written by remote configuration (tb_gateway.json, connector files,
// logs.json, statistics.json and their backups) keep the mode and owner of
// the file they replace, so an operator's 0600 (or 0640 with a group)
// stays as it was; new files are 0600 as they may hold credentials.

// newFileMode is the mode of configuration files remote configuration
// creates.
const newFileMode os.FileMode = 0o600

// writeConfigFile replaces path atomically, keeping its mode and, where
// permitted, its owner and group.
func writeConfigFile(path string, data []byte) error {
	mode := newFileMode
	fi, err := os.Stat(path)
	if err == nil {
		mode = fi.Mode().Perm()
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := atomicfile.Write(path, data, mode); err != nil {
		return err
	}
	if fi != nil {
		keepOwner(path, fi)
	}
	return nil
}

// keepOwner gives path the owner and group of fi where the process may
// (root, or a group it is member of); otherwise it leaves them.
func keepOwner(path string, fi os.FileInfo) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return
	}
	if now, err := os.Stat(path); err == nil {
		if ns, ok := now.Sys().(*syscall.Stat_t); ok && ns.Uid == st.Uid && ns.Gid == st.Gid {
			return
		}
	}
	if os.Chown(path, int(st.Uid), int(st.Gid)) != nil {
		_ = os.Chown(path, -1, int(st.Gid))
	}
}

// backup copies path to backup/<stem>.backup.<unix ns>.json with the mode
// of path, keeping the newest maxBackups per file.
func (g *Gateway) backup(path string) error {
	src, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	dir := filepath.Join(g.cfg.Dir, "backup")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	stem := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	name := filepath.Join(dir, fmt.Sprintf("%s.backup.%d.json", stem, g.now().UnixNano()))
	if err := atomicfile.Write(name, src, fi.Mode().Perm()); err != nil {
		return err
	}
	keepOwner(name, fi)
	old, _ := filepath.Glob(filepath.Join(dir, stem+".backup.*.json"))
	sort.Strings(old)
	for len(old) > maxBackups {
		os.Remove(old[0])
		old = old[1:]
	}
	return nil
}
