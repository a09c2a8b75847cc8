package serial

import (
	"fmt"

	bugst "go.bug.st/serial"
)

// openPort opens a serial port in the configured mode.
func openPort(path string, m portMode) (bugst.Port, error) {
	mode := &bugst.Mode{BaudRate: m.baud, DataBits: m.dataBits}
	switch m.parity {
	case 'E':
		mode.Parity = bugst.EvenParity
	case 'O':
		mode.Parity = bugst.OddParity
	case 'M':
		mode.Parity = bugst.MarkParity
	case 'S':
		mode.Parity = bugst.SpaceParity
	default:
		mode.Parity = bugst.NoParity
	}
	switch m.stopBits {
	case 1.5:
		mode.StopBits = bugst.OnePointFiveStopBits
	case 2:
		mode.StopBits = bugst.TwoStopBits
	default:
		mode.StopBits = bugst.OneStopBit
	}
	p, err := bugst.Open(path, mode)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return p, nil
}
