package textpages

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"
	"testing"
)

// residentKB sums the Rss of the test binary's read-only file mappings.
func residentKB(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	kb, ours := 0, false
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 5 && strings.Contains(f[0], "-") && !strings.HasSuffix(f[0], ":") {
			ours = len(f) >= 6 && strings.HasPrefix(strings.Join(f[5:], " "), exe) && !strings.Contains(f[1], "w")
			continue
		}
		if ours && len(f) >= 2 && f[0] == "Rss:" {
			n, err := strconv.Atoi(f[1])
			if err != nil {
				t.Fatal(err)
			}
			kb += n
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return kb
}

func TestReleaseUnmapsTheBinary(t *testing.T) {
	before := residentKB(t)
	n, err := Release()
	if err != nil {
		t.Fatal(err)
	}
	after := residentKB(t)
	t.Logf("released %d bytes of address space; resident read-only pages of the binary %d kB before, %d kB after", n, before, after)
	if n == 0 {
		t.Fatal("no mapping released")
	}
	if after >= before {
		t.Fatalf("resident %d kB after, %d kB before", after, before)
	}
	// The program keeps running on the pages it faults back in.
	if _, err := Release(); err != nil {
		t.Fatal(err)
	}
}

func TestParse(t *testing.T) {
	maps := []byte(`00400000-00b77000 r-xp 00000000 fe:00 10027183                           /usr/bin/tbgw (deleted)
00b77000-012c2000 r--p 00777000 fe:00 10027183                           /usr/bin/tbgw (deleted)
012c2000-0132b000 rw-p 00ec2000 fe:00 10027183                           /usr/bin/tbgw (deleted)
0132b000-03377000 rw-p 00000000 00:00 0 
7ffd1000-7ffd3000 r-xp 00000000 00:00 0                          [vdso]
garbage
`)
	got := parse(maps)
	if len(got) != 3 {
		t.Fatalf("got %d mappings, want the 3 of the file: %+v", len(got), got)
	}
	if got[0].lo != 0x400000 || got[0].hi != 0xb77000 || string(got[0].perms) != "r-xp" || string(got[0].file) != "fe:00 10027183" {
		t.Fatalf("first mapping %+v", got[0])
	}
	if string(got[2].perms) != "rw-p" {
		t.Fatalf("third mapping %+v", got[2])
	}
}
