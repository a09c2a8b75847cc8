package rig

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// Modbus is a Modbus TCP slave for polling scenarios: the libmodbus test
// slave that scripts/peers/modbus.sh compiles (1000 registers of each
// kind, every unit id answered).
type Modbus struct {
	Port  int
	proc  *Proc
	stdin *os.File // the slave exits when its standard input ends
}

// FindModbusSlave returns the libmodbus test slave, looked up under
// $TBGW_CACHE (default: the repository's .cache).
func FindModbusSlave() (string, error) {
	cache := os.Getenv("TBGW_CACHE")
	if cache == "" {
		root, err := RepoRoot()
		if err != nil {
			return "", err
		}
		cache = filepath.Join(root, ".cache")
	}
	p := filepath.Join(cache, "modbus", "lmbslave")
	if st, err := os.Stat(p); err != nil || st.Mode()&0o111 == 0 {
		return "", fmt.Errorf("libmodbus test slave %s missing (scripts/peers/modbus.sh builds it)", p)
	}
	return p, nil
}

// StartModbus starts the slave on a free port.
func StartModbus() (*Modbus, error) {
	bin, err := FindModbusSlave()
	if err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	p, err := startProc("lmbslave", pw, inR, nil, bin, "tcp", "0")
	inR.Close()
	if err != nil {
		inW.Close()
		return nil, err
	}
	ready := make(chan int, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			var port int
			if _, err := fmt.Sscanf(sc.Text(), "READY %d", &port); err == nil {
				select {
				case ready <- port:
				default:
				}
			}
		}
	}()
	go func() { <-p.Done(); pw.Close() }()
	select {
	case port := <-ready:
		return &Modbus{Port: port, proc: p, stdin: inW}, nil
	case <-time.After(10 * time.Second):
		inW.Close()
		p.Kill()
		return nil, fmt.Errorf("libmodbus slave did not report its port")
	}
}

// Stop kills the slave.
func (m *Modbus) Stop() {
	m.stdin.Close()
	m.proc.Kill()
}

// ModbusConfig is a modbus connector file polling devices slaves of tags
// 16-bit holding registers each, every period.
func ModbusConfig(port, devices, tags int, period time.Duration) map[string]any {
	var slaves []any
	for i := range devices {
		var ts []any
		for a := range tags {
			ts = append(ts, map[string]any{"tag": fmt.Sprintf("r%d", a), "type": "16uint", "functionCode": 3,
				"objectsCount": 1, "address": a})
		}
		slaves = append(slaves, map[string]any{"host": "127.0.0.1", "port": port, "type": "tcp", "method": "socket",
			"unitId": 1 + i%247, "deviceName": fmt.Sprintf("mb%04d", i+1), "deviceType": "bench",
			"pollPeriod": period.Milliseconds(), "timeout": 3, "byteOrder": "BIG", "wordOrder": "BIG",
			"sendDataOnlyOnChange": false, "timeseries": ts})
	}
	return map[string]any{"master": map[string]any{"slaves": slaves}}
}
