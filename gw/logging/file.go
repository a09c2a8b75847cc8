package logging

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// rotatingFile is a log file rotated when a write would take it past
// maxBytes and when the time period of when/interval has passed (both as
// upstream's TimedRotatingFileHandler with maxBytes). Backups are
// <name>.1 (newest) to <name>.<backups>; with backups 0 a rotation
// truncates. Rotation is checked on write only: no timer runs.
type rotatingFile struct {
	path     string
	maxBytes int64
	backups  int
	period   time.Duration // 0: no time rotation
	midnight bool
	weekday  int // 0-6 for W0-W6, -1 otherwise
	now      func() time.Time

	f    *os.File
	size int64
	next time.Time // next time rotation
}

// parseWhen maps upstream's when/interval to a period; "" means none.
func parseWhen(when string, interval int) (time.Duration, error) {
	if interval <= 0 {
		interval = 1
	}
	n := time.Duration(interval)
	switch w := strings.ToUpper(when); {
	case w == "":
		return 0, nil
	case w == "S":
		return n * time.Second, nil
	case w == "M":
		return n * time.Minute, nil
	case w == "H":
		return n * time.Hour, nil
	case w == "D":
		return n * 24 * time.Hour, nil
	case w == "MIDNIGHT":
		return 24 * time.Hour, nil
	case len(w) == 2 && w[0] == 'W' && w[1] >= '0' && w[1] <= '6':
		return 7 * 24 * time.Hour, nil
	}
	return 0, fmt.Errorf("unknown rotation interval when=%q", when)
}

func openRotating(path string, spec HandlerSpec, now func() time.Time) (*rotatingFile, error) {
	period, err := parseWhen(spec.When, spec.Interval)
	if err != nil {
		return nil, err
	}
	w := strings.ToUpper(spec.When)
	r := &rotatingFile{path: path, maxBytes: spec.MaxBytes, backups: max(spec.BackupCount, 0),
		period: period, midnight: w == "MIDNIGHT", weekday: -1, now: now}
	if len(w) == 2 && w[0] == 'W' {
		r.weekday = int(w[1] - '0')
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	if err := r.open(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *rotatingFile) open() error {
	f, err := os.OpenFile(r.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	r.f, r.size = f, fi.Size()
	r.next = r.nextRollover(r.now())
	if r.period > 0 && r.size > 0 && fi.ModTime().Before(r.next.Add(-r.period)) {
		r.next = r.now() // older than the current period: rotate on the first write
	}
	return nil
}

func (r *rotatingFile) nextRollover(t time.Time) time.Time {
	switch {
	case r.period == 0:
		return time.Time{}
	case r.midnight:
		y, m, d := t.Date()
		return time.Date(y, m, d+1, 0, 0, 0, 0, t.Location())
	case r.weekday >= 0:
		y, m, d := t.Date()
		days := (r.weekday + 1 - int(t.Weekday()) + 7) % 7 // Python: W0 = Monday
		if days == 0 {
			days = 7
		}
		return time.Date(y, m, d+days, 0, 0, 0, 0, t.Location())
	}
	return t.Add(r.period)
}

func (r *rotatingFile) Write(p []byte) (int, error) {
	if r.f == nil {
		if err := r.open(); err != nil {
			return 0, err
		}
	}
	if r.size > 0 && (r.maxBytes > 0 && r.size+int64(len(p)) > r.maxBytes ||
		!r.next.IsZero() && !r.now().Before(r.next)) {
		if err := r.rotate(); err != nil {
			return 0, err
		}
	}
	n, err := r.f.Write(p)
	r.size += int64(n)
	return n, err
}

// rotate shifts the backups and starts a new file.
func (r *rotatingFile) rotate() error {
	r.f.Close()
	r.f = nil
	if r.backups == 0 {
		if err := os.Truncate(r.path, 0); err != nil && !os.IsNotExist(err) {
			return err
		}
	} else {
		os.Remove(fmt.Sprintf("%s.%d", r.path, r.backups))
		for i := r.backups - 1; i >= 1; i-- {
			os.Rename(fmt.Sprintf("%s.%d", r.path, i), fmt.Sprintf("%s.%d", r.path, i+1))
		}
		if err := os.Rename(r.path, r.path+".1"); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	return r.open()
}

func (r *rotatingFile) Close() error {
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	return err
}
