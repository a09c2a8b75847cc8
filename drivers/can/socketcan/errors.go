package socketcan

import "strings"

// Error classes in the identifier of an error frame (linux/can/error.h).
const (
	ErrTxTimeout  = 0x001
	ErrLostArb    = 0x002
	ErrController = 0x004
	ErrProtocol   = 0x008
	ErrTransceiv  = 0x010
	ErrAck        = 0x020
	ErrBusOff     = 0x040
	ErrBusError   = 0x080
	ErrRestarted  = 0x100
	ErrCounters   = 0x200
	errAllClasses = 0x3ff
)

// Controller problems in data[1] of an ErrController frame.
const (
	ctrlRxOverflow = 0x01
	ctrlTxOverflow = 0x02
	ctrlRxWarning  = 0x04
	ctrlTxWarning  = 0x08
	ctrlRxPassive  = 0x10
	ctrlTxPassive  = 0x20
	ctrlActive     = 0x40
)

// ErrorEvents names what an error frame reports, for counters and logs:
// "bus-off", "error-passive", "error-warning", "restarted", "tx-timeout",
// "lost-arbitration", "protocol", "transceiver", "no-ack", "bus-error",
// "overflow", "error-active".
func (f *Frame) ErrorEvents() []string {
	if !f.Err {
		return nil
	}
	var ev []string
	add := func(cond bool, name string) {
		if cond {
			ev = append(ev, name)
		}
	}
	c := f.ID
	add(c&ErrBusOff != 0, "bus-off")
	if c&ErrController != 0 && f.Len > 1 {
		d := f.Data[1]
		add(d&(ctrlRxPassive|ctrlTxPassive) != 0, "error-passive")
		add(d&(ctrlRxWarning|ctrlTxWarning) != 0, "error-warning")
		add(d&(ctrlRxOverflow|ctrlTxOverflow) != 0, "overflow")
		add(d&ctrlActive != 0, "error-active")
	}
	add(c&ErrRestarted != 0, "restarted")
	add(c&ErrTxTimeout != 0, "tx-timeout")
	add(c&ErrLostArb != 0, "lost-arbitration")
	add(c&ErrProtocol != 0, "protocol")
	add(c&ErrTransceiv != 0, "transceiver")
	add(c&ErrAck != 0, "no-ack")
	add(c&ErrBusError != 0, "bus-error")
	if len(ev) == 0 {
		ev = append(ev, "other")
	}
	return ev
}

// ErrorString is ErrorEvents joined with commas.
func (f *Frame) ErrorString() string { return strings.Join(f.ErrorEvents(), ",") }
