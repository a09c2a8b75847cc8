//go:build !linux

package mqtt

import "net"

// lowWater is Linux only (see lowat_linux.go): elsewhere a raised
// SO_RCVLOWAT does not spare poller wake-ups or is not honoured by poll.
func lowWater(net.Conn) func(n int) { return nil }

func onEmpty(net.Conn, func()) bool { return false }
