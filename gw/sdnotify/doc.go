// Package sdnotify tells a service manager about the gateway's state over
// the notification socket named by $NOTIFY_SOCKET (systemd's sd_notify
// protocol: one datagram of newline-separated VAR=value assignments on a
// unix datagram socket): READY=1 once started, WATCHDOG=1 while healthy,
// STOPPING=1 when shutting down, STATUS= free text.
//
// Non-goals: file descriptor passing (FDSTORE), socket activation, and
// the other sd-daemon calls. Without $NOTIFY_SOCKET every call does
// nothing, so the gateway behaves the same under BusyBox init or procd.
package sdnotify
