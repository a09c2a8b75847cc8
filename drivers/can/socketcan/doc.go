// Package socketcan talks to Linux SocketCAN interfaces (can0, vcan0, ...)
// through raw system calls: CAN_RAW sockets for receiving and sending
// classic and CAN FD frames, with kernel receive filters and error frames,
// and CAN_BCM for periodic transmission timed by the kernel.
//
// Sockets are non-blocking and registered with Go's network poller
// (os.NewFile + syscall.RawConn): a blocked Read parks its goroutine, it
// does not hold a thread or spin, and it returns when its context ends.
//
// The frame layout (struct can_frame, struct canfd_frame) is portable
// code; the sockets exist on Linux only. On other systems [Open] and
// [OpenBCM] return an error, so the rest of tbgw still builds there.
//
// Non-goals: configuring interfaces (bitrate, up/down: that is
// "ip link"), ISO-TP, J1939.
package socketcan
