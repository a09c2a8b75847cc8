package wal

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	twal "github.com/tidwall/wal"
)

// Names inside the log directory.
const (
	segPrefix = "seg-"                 // segment directories: seg-<first seq, 20 digits>
	segFile   = "00000000000000000001" // tidwall's file for entries from index 1
	tmpSuffix = ".tmp"
	brokenDir = "broken" // damaged bytes kept for inspection
	newerDir  = "newer"  // segments of a later format, kept whole for an upgrade
	maxBroken = 8        // broken files kept; older ones are removed
)

// segment is one tidwall log directory holding up to about SegmentBytes.
type segment struct {
	first uint64 // sequence number of the first record
	dir   string
	bytes int64 // size of the segment file
	gone  bool  // directory removed or set aside by a repair (under Log.mu)

	// Writer side, set only for the tail segment.
	tl    *twal.Log
	fd    *os.File // read-only descriptor used for fsync
	count uint64   // records in the tail
	fresh bool     // made from a spare: header not written yet
}

func segName(first uint64) string { return fmt.Sprintf("%s%020d", segPrefix, first) }

func parseSegName(name string) (uint64, bool) {
	if len(name) != len(segPrefix)+20 || !strings.HasPrefix(name, segPrefix) {
		return 0, false
	}
	n, err := strconv.ParseUint(name[len(segPrefix):], 10, 64)
	return n, err == nil && n > 0
}

func (s *segment) file() string { return filepath.Join(s.dir, segFile) }

// twalOptions configure tidwall for one segment per log: it never cuts a
// segment of its own, never fsyncs (the writer does), never copies reads.
func twalOptions() *twal.Options {
	return &twal.Options{
		NoSync:           true,
		SegmentSize:      math.MaxInt,
		LogFormat:        twal.Binary,
		SegmentCacheSize: 1,
		NoCopy:           true,
		DirPerms:         0o750,
		FilePerms:        0o640,
	}
}

// listSegments returns the segments in dir, oldest first, and removes the
// leftovers of interrupted segment creation and cursor writes.
func listSegments(dir string) ([]*segment, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var segs []*segment
	for _, e := range ents {
		name := e.Name()
		if strings.HasSuffix(name, tmpSuffix) {
			if err := os.RemoveAll(filepath.Join(dir, name)); err != nil {
				return nil, err
			}
			continue
		}
		first, ok := parseSegName(name)
		if !ok || !e.IsDir() {
			continue
		}
		s := &segment{first: first, dir: filepath.Join(dir, name)}
		fi, err := os.Stat(s.file())
		if err != nil || fi.Size() == 0 {
			// Segments are created whole (renamed into place), so an
			// empty one is the remainder of an interrupted removal.
			if err := os.RemoveAll(s.dir); err != nil {
				return nil, err
			}
			continue
		}
		s.bytes = fi.Size()
		segs = append(segs, s)
	}
	sort.Slice(segs, func(i, j int) bool { return segs[i].first < segs[j].first })
	return segs, nil
}

// createSegment makes a new segment starting at first: built under a
// temporary name with its header, fsynced, renamed into place, and the log
// directory fsynced, so a segment directory either exists complete or not
// at all. The result is open for appending.
func createSegment(dir string, first uint64) (*segment, error) {
	final := filepath.Join(dir, segName(first))
	tmp := final + tmpSuffix
	if err := os.RemoveAll(tmp); err != nil {
		return nil, err
	}
	if err := func() error {
		tl, err := twal.Open(tmp, twalOptions())
		if err != nil {
			return err
		}
		err = tl.Write(1, appendHeader(nil, header{version: FormatVersion, first: first}))
		if cerr := tl.Close(); err == nil { // tidwall's Close fsyncs the file
			err = cerr
		}
		if err == nil {
			err = syncDir(tmp)
		}
		if err == nil {
			err = os.Rename(tmp, final)
		}
		if err == nil {
			err = syncDir(dir)
		}
		return err
	}(); err != nil {
		os.RemoveAll(tmp)
		os.RemoveAll(final)
		return nil, fmt.Errorf("create segment %s: %w", final, err)
	}
	s := &segment{first: first, dir: final}
	if err := s.openTail(0); err != nil {
		os.RemoveAll(final)
		return nil, err
	}
	return s, nil
}

// Spares are empty segment directories made ahead of time, so that
// starting a segment on the append path costs one rename and one directory
// fsync. A spare holds an empty, fsynced segment file; the header is
// written together with the first records (an empty segment file found on
// Open is removed: nothing in it was ever acknowledged).
const sparePrefix = "spare-"

// makeSpare creates a spare in dir.
func makeSpare(dir string) (string, error) {
	sp := filepath.Join(dir, sparePrefix+stamp()+tmpSuffix)
	if err := os.Mkdir(sp, 0o750); err != nil {
		return "", err
	}
	err := func() error {
		f, err := os.OpenFile(filepath.Join(sp, segFile), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o640)
		if err != nil {
			return err
		}
		err = f.Sync()
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = syncDir(sp)
		}
		if err == nil {
			err = syncDir(dir)
		}
		return err
	}()
	if err != nil {
		os.RemoveAll(sp)
		return "", err
	}
	return sp, nil
}

// activateSpare renames a spare into place as the segment starting at
// first and opens it for appending.
func activateSpare(dir, spare string, first uint64) (*segment, error) {
	final := filepath.Join(dir, segName(first))
	if err := os.Rename(spare, final); err != nil {
		os.RemoveAll(spare)
		return nil, fmt.Errorf("create segment %s: %w", final, err)
	}
	s := &segment{first: first, dir: final, fresh: true}
	err := syncDir(dir)
	if err == nil {
		err = s.openTail(0)
	}
	if err != nil {
		os.RemoveAll(final)
		return nil, fmt.Errorf("create segment %s: %w", final, err)
	}
	return s, nil
}

// openTail opens s for appending; it must hold exactly count records (and
// a header unless s is fresh).
func (s *segment) openTail(count uint64) error {
	tl, err := twal.Open(s.dir, twalOptions())
	if err != nil {
		return fmt.Errorf("open segment %s: %w", s.dir, err)
	}
	want := count + 1
	if s.fresh {
		want = 0
	}
	if last, err := tl.LastIndex(); err != nil || last != want {
		tl.Close()
		return fmt.Errorf("open segment %s: %d entries, want %d", s.dir, last, want)
	}
	fd, err := os.Open(s.file())
	if err != nil {
		tl.Close()
		return err
	}
	fi, err := fd.Stat()
	if err != nil {
		tl.Close()
		fd.Close()
		return err
	}
	s.tl, s.fd, s.count, s.bytes = tl, fd, count, fi.Size()
	return nil
}

// closeTail closes the writer's handles (tidwall's Close fsyncs).
func (s *segment) closeTail() error {
	var err error
	if s.tl != nil {
		err = s.tl.Close()
		s.tl = nil
	}
	if s.fd != nil {
		if cerr := s.fd.Close(); err == nil {
			err = cerr
		}
		s.fd = nil
	}
	return err
}

// errBadSegment means a segment's header is unreadable: the segment was
// moved aside whole.
var errBadSegment = errors.New("segment header damaged")

// repair checks the segment file and mends it in place: damaged bytes after
// the last intact record are cut off, damaged records before it become
// tombstones. The damaged bytes are kept in the broken directory. It
// returns the plan applied (plan.cut < 0: nothing was wrong); the file's
// new size is p.size, which the caller records.
func (s *segment) repair(logDir string) (repairPlan, error) {
	img, err := os.ReadFile(s.file())
	if err != nil {
		return repairPlan{}, err
	}
	p, err := planRepair(img, s.first)
	if errors.Is(err, errNewer) {
		return p, s.setAside(logDir, err)
	}
	if err != nil {
		keepBroken(logDir, filepath.Base(s.dir)+"-whole", img)
		os.RemoveAll(s.dir)
		return p, fmt.Errorf("%w: %s: %v", errBadSegment, s.dir, err)
	}
	if p.cut < 0 {
		return p, nil
	}
	keepBroken(logDir, fmt.Sprintf("%s-at-%d", filepath.Base(s.dir), p.cut), img[p.cut:])
	if p.img == nil {
		err = truncateSync(s.file(), int64(p.size))
	} else {
		err = writeFileAtomic(s.dir, segFile, p.img, true)
	}
	if err != nil {
		return p, fmt.Errorf("repair segment %s: %w", s.dir, err)
	}
	return p, nil
}

// removeSegment deletes a segment directory: renamed away first, so that an
// interrupted removal leaves a temporary name that Open cleans up.
func removeSegment(s *segment) error {
	tmp := s.dir + tmpSuffix
	if err := os.Rename(s.dir, tmp); err != nil {
		if os.IsNotExist(err) {
			return nil // set aside or removed by a repair
		}
		return err
	}
	return os.RemoveAll(tmp)
}

// setAside moves a segment written in a newer format, untouched, to the
// newer directory, where a later release can take it back.
func (s *segment) setAside(logDir string, why error) error {
	nd := filepath.Join(logDir, newerDir)
	if err := os.MkdirAll(nd, 0o750); err != nil {
		return err
	}
	if err := os.Rename(s.dir, filepath.Join(nd, filepath.Base(s.dir))); err != nil {
		return err
	}
	return fmt.Errorf("%w: %s moved to %s: %v", errBadSegment, s.dir, nd, why)
}

func truncateSync(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	err = f.Truncate(size)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func stamp() string { return strconv.FormatInt(time.Now().UnixNano(), 36) }

// keepBroken saves damaged bytes for inspection, keeping the newest
// maxBroken files. Failing to do so is not an error: the log must open.
func keepBroken(logDir, name string, data []byte) {
	bd := filepath.Join(logDir, brokenDir)
	if os.MkdirAll(bd, 0o750) != nil {
		return
	}
	if ents, err := os.ReadDir(bd); err == nil && len(ents) >= maxBroken {
		sort.Slice(ents, func(i, j int) bool {
			a, _ := ents[i].Info()
			b, _ := ents[j].Info()
			return a != nil && b != nil && a.ModTime().Before(b.ModTime())
		})
		for _, e := range ents[:len(ents)-maxBroken+1] {
			os.RemoveAll(filepath.Join(bd, e.Name()))
		}
	}
	os.WriteFile(filepath.Join(bd, name+"-"+stamp()+".broken"), data, 0o640)
}
