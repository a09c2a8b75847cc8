package logging

import (
	"log/slog"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// UnderJournal reports whether f (standard error) is connected to the
// systemd journal: $JOURNAL_STREAM names its device and inode
// (sd-daemon(3), systemd.exec(5)).
func UnderJournal(f *os.File) bool {
	js := os.Getenv("JOURNAL_STREAM")
	dev, ino, ok := strings.Cut(js, ":")
	if !ok || f == nil {
		return false
	}
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return false
	}
	d, err1 := strconv.ParseUint(dev, 10, 64)
	i, err2 := strconv.ParseUint(ino, 10, 64)
	return err1 == nil && err2 == nil && uint64(st.Dev) == d && uint64(st.Ino) == i
}

// priorityPrefix is the sd-daemon prefix of a level: <7> debug, <6> info,
// <4> warning, <3> error, <2> critical.
func priorityPrefix(l slog.Level) string {
	switch {
	case l >= slog.LevelError+4:
		return "<2>"
	case l >= slog.LevelError:
		return "<3>"
	case l >= slog.LevelWarn:
		return "<4>"
	case l >= slog.LevelInfo:
		return "<6>"
	}
	return "<7>"
}
