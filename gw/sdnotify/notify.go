package sdnotify

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"time"
)

// Notify sends state (e.g. "READY=1" or "STOPPING=1\nSTATUS=draining")
// to the service manager. It reports false, with no error, when the
// process is not run by one ($NOTIFY_SOCKET unset). A socket name
// starting with '@' is in the abstract namespace.
func Notify(state string) (bool, error) {
	return notify(os.Getenv("NOTIFY_SOCKET"), state)
}

func notify(socket, state string) (bool, error) {
	if socket == "" {
		return false, nil
	}
	if socket[0] != '/' && socket[0] != '@' {
		return false, fmt.Errorf("sdnotify: NOTIFY_SOCKET %q: not a unix socket path", socket)
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: socket, Net: "unixgram"})
	if err != nil {
		return false, fmt.Errorf("sdnotify: %w", err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(state)); err != nil {
		return false, fmt.Errorf("sdnotify: %w", err)
	}
	return true, nil
}

// WatchdogInterval is the watchdog period the service manager expects
// keep-alives within ($WATCHDOG_USEC, when $WATCHDOG_PID is unset or this
// process), or 0 when there is no watchdog. Send WATCHDOG=1 at half of it.
func WatchdogInterval() time.Duration {
	return watchdogInterval(os.Getenv("WATCHDOG_USEC"), os.Getenv("WATCHDOG_PID"), os.Getpid())
}

func watchdogInterval(usec, pid string, self int) time.Duration {
	if usec == "" {
		return 0
	}
	if pid != "" {
		p, err := strconv.Atoi(pid)
		if err != nil || p != self {
			return 0
		}
	}
	n, err := strconv.ParseInt(usec, 10, 64)
	if err != nil || n <= 0 {
		return 0
	}
	return time.Duration(n) * time.Microsecond
}
