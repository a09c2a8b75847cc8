package exec

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	osexec "os/exec"
)

// The test binary doubles as the program the connector runs: with
// TBGW_EXEC_HELPER set it plays one of the roles below instead of testing.
func TestMain(m *testing.M) {
	if mode := os.Getenv("TBGW_EXEC_HELPER"); mode != "" {
		helper(mode)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

type hmsg = map[string]any

var helpers = map[string]func(send func(hmsg), recv func() hmsg){}

func helper(mode string) {
	out := bufio.NewWriter(os.Stdout)
	send := func(m hmsg) {
		b, _ := json.Marshal(m)
		out.Write(append(b, '\n'))
		out.Flush()
	}
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	recv := func() hmsg {
		if !in.Scan() {
			return nil
		}
		var m hmsg
		json.Unmarshal(in.Bytes(), &m)
		return m
	}
	if h, ok := helpers[mode]; ok {
		h(send, recv)
		return
	}
	switch mode {
	case "echo":
		h := recv()
		if h["type"] != "hello" || h["protocol"] != 1.0 {
			fmt.Fprintln(os.Stderr, "bad hello", h)
			os.Exit(2)
		}
		send(hmsg{"type": "hello", "protocol": 1})
		send(hmsg{"type": "connect", "device": "E1", "deviceType": "echo", "seq": 1})
		send(hmsg{"type": "telemetry", "device": "E1", "values": hmsg{"n": 1, "cfg": h["config"]}, "seq": 2})
		send(hmsg{"type": "log", "level": "warn", "msg": "helper up"})
		fmt.Fprintln(os.Stderr, "helper stderr line")
		for {
			m := recv()
			if m == nil {
				os.Exit(0)
			}
			switch m["type"] {
			case "ack":
				send(hmsg{"type": "telemetry", "device": "E1", "values": hmsg{"acked": m["seq"]}})
			case "attributes":
				send(hmsg{"type": "attributes", "device": m["device"], "values": m["values"], "seq": 10})
			case "rpc":
				switch m["method"] {
				case "fail":
					send(hmsg{"type": "rpcReply", "id": m["id"], "error": "asked to fail"})
				case "shared":
					send(hmsg{"type": "attributeRequest", "seq": 20, "device": "E1", "keys": []string{"a"}})
					for {
						r := recv()
						if r == nil {
							os.Exit(0)
						}
						if r["type"] == "attributeValues" {
							send(hmsg{"type": "rpcReply", "id": m["id"], "result": r["values"]})
							break
						}
					}
				case "ignore":
				default:
					send(hmsg{"type": "rpcReply", "id": m["id"], "result": hmsg{"method": m["method"], "params": m["params"], "device": m["device"]}})
				}
			case "stop":
				fmt.Fprintln(os.Stderr, "stopping on request")
				if p := os.Getenv("STOP_MARKER"); p != "" {
					os.WriteFile(p, []byte("stop"), 0o600)
				}
				os.Exit(0)
			}
		}
	case "crash":
		recv()
		send(hmsg{"type": "telemetry", "device": "C", "values": hmsg{"pid": os.Getpid()}, "seq": 1})
		os.Exit(3)
	case "flood":
		recv()
		n, _ := strconv.Atoi(os.Getenv("FLOOD_N"))
		acks := make(chan int, 1)
		go func() {
			got := 0
			for {
				m := recv()
				if m == nil {
					os.Exit(0)
				}
				if m["type"] == "ack" {
					got++
					if got == n {
						acks <- got
					}
				}
				if m["type"] == "stop" {
					os.Exit(0)
				}
			}
		}()
		for i := 1; i <= n; i++ {
			fmt.Fprintf(out, `{"type":"telemetry","device":"F","values":{"i":%d,"pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"},"seq":%d}`+"\n", i, i)
		}
		out.Flush()
		<-acks
		send(hmsg{"type": "telemetry", "device": "F", "values": hmsg{"allAcked": n}})
		select {}
	case "garbage":
		recv()
		w := func(s string) { out.WriteString(s); out.Flush() }
		w("not json\n")
		w("{\"type\":\"telemetry\"}\n")
		w("{\"type\":\"telemetry\",\"device\":\"G\",\"values\":{\"x\":\"" + strings.Repeat("a", 100000) + "\"}}\n")
		w("{\"type\":\"nope\"}\n")
		w("\x00\xff\xfe{]\n")
		w("{\"type\":\"rpcReply\",\"id\":999,\"result\":1}\n")
		w("{\"type\":\"telemetry\",\"device\":\"G\",\"values\":{\"ok\":true},\"seq\":7}\n")
		for {
			m := recv()
			if m == nil || m["type"] == "stop" {
				os.Exit(0)
			}
			if m["type"] == "error" {
				b, _ := json.Marshal(m)
				fmt.Fprintln(os.Stderr, "gateway says:", string(b))
				send(hmsg{"type": "telemetry", "device": "G", "values": hmsg{"errLine": m["line"]}})
			}
		}
	case "deaf":
		// Never reads stdin, ignores SIGTERM and the stop message, and
		// leaves a child behind.
		signal.Ignore(syscall.SIGTERM)
		child := osexec.Command("sleep", "600")
		child.Start()
		send(hmsg{"type": "telemetry", "device": "D", "values": hmsg{"pid": os.Getpid(), "child": child.Process.Pid}})
		for i := 0; ; i++ {
			send(hmsg{"type": "telemetry", "device": "D", "values": hmsg{"i": i}})
			time.Sleep(10 * time.Millisecond)
		}
	}
}

func init() {
	helpers["tick"] = func(send func(hmsg), recv func() hmsg) {
		recv()
		go func() {
			for {
				if m := recv(); m == nil || m["type"] == "stop" {
					os.Exit(0)
				}
			}
		}()
		for i := 0; ; i++ {
			send(hmsg{"type": "telemetry", "device": "Tick", "values": hmsg{"i": i}, "seq": i})
			time.Sleep(20 * time.Millisecond)
		}
	}
}

func init() {
	// Ignores the stop message; SIGTERM (default action) ends it.
	helpers["term"] = func(send func(hmsg), recv func() hmsg) {
		recv()
		send(hmsg{"type": "telemetry", "device": "Term", "values": hmsg{"pid": os.Getpid()}})
		for recv() != nil {
		}
		select {}
	}
}
