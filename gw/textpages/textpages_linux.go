package textpages

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"reflect"
	"strconv"

	"golang.org/x/sys/unix"
)

// Release unmaps the read-only mappings (text, read-only data, line
// tables) of the running executable with madvise(MADV_DONTNEED). It
// returns how many bytes of address space it released (resident or not).
func Release() (int, error) {
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return 0, fmt.Errorf("textpages: %w", err)
	}
	// The executable is the file mapped at this function's code.
	pc := uint64(reflect.ValueOf(Release).Pointer())
	var file []byte
	for _, m := range parse(maps) {
		if m.lo <= pc && pc < m.hi {
			file = m.file
			break
		}
	}
	if file == nil {
		return 0, fmt.Errorf("textpages: no mapping holds the program's code")
	}
	n := 0
	for _, m := range parse(maps) {
		if !bytes.Equal(m.file, file) || bytes.IndexByte(m.perms, 'w') >= 0 {
			continue
		}
		if _, _, e := unix.Syscall(unix.SYS_MADVISE, uintptr(m.lo), uintptr(m.hi-m.lo), unix.MADV_DONTNEED); e != 0 {
			return n, fmt.Errorf("textpages: madvise %x-%x: %w", m.lo, m.hi, e)
		}
		n += int(m.hi - m.lo)
	}
	return n, nil
}

// mapping is one line of /proc/self/maps; file is its device and inode
// ("fe:00 10027183"), which name the file even after it was replaced.
type mapping struct {
	lo, hi uint64
	perms  []byte
	file   []byte
}

// parse reads /proc/<pid>/maps lines ("lo-hi perms offset dev inode path").
// Anonymous mappings (inode 0) are left out.
func parse(maps []byte) []mapping {
	var out []mapping
	sc := bufio.NewScanner(bytes.NewReader(maps))
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		if len(f) < 5 || string(f[4]) == "0" {
			continue
		}
		lo, hi, ok := bytes.Cut(f[0], []byte("-"))
		if !ok {
			continue
		}
		l, err1 := strconv.ParseUint(string(lo), 16, 64)
		h, err2 := strconv.ParseUint(string(hi), 16, 64)
		if err1 != nil || err2 != nil || h <= l {
			continue
		}
		file := append(append(append([]byte(nil), f[3]...), ' '), f[4]...)
		out = append(out, mapping{lo: l, hi: h, perms: append([]byte(nil), f[1]...), file: file})
	}
	return out
}
