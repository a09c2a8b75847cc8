// Package quietsock does a TCP connection's reads and writes as plain
// non-blocking system calls that bypass the Go runtime's system-call
// bookkeeping.
//
// Every system call a goroutine makes through the syscall package (which
// is what net.Conn does) first tells the runtime it may block: if the
// runtime's monitor thread (sysmon) was asleep because the process was
// idle, that wakes it, and it then polls every 20 µs until the process is
// idle again, each poll a sleep and a context switch. A gateway at
// everyday rates is idle between its rounds and makes a handful of socket
// calls in each, so most of those polls are spent on calls that cannot
// block at all: a read or write of a non-blocking socket returns at once,
// with data or with EAGAIN. Here such calls are made as raw system calls;
// when the socket has nothing to read or no room to write, the goroutine
// waits on the runtime's network poller exactly as net.Conn does
// (syscall.RawConn), so deadlines and Close behave as before.
//
// Non-goals: anything but TCP on Linux (Wrap returns other connections
// unchanged), and calls that can block (file I/O, fsync), which must go
// through the runtime so that it can hand the thread's work to another.
package quietsock
