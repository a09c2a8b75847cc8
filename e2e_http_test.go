package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tbgw/tbgw/gw/tbtest"
)

// freeAddr returns a loopback address that was free a moment ago.
func freeAddr(t *testing.T, network string) (host string, port int) {
	t.Helper()
	if network == "udp" {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		return "127.0.0.1", pc.LocalAddr().(*net.UDPAddr).Port
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return "127.0.0.1", l.Addr().(*net.TCPAddr).Port
}

// TestE2EHTTPAndSocket runs the gateway with the upstream request.json,
// rest.json and socket.json (addresses changed to test ports) between
// real HTTP and TCP peers and the ThingsBoard stand-in, data up and
// commands down.
func TestE2EHTTPAndSocket(t *testing.T) {
	b := tbtest.StartBroker(t)
	tb := tbtest.NewThingsBoard(t, b.Host, b.Port)

	// The HTTP device the request connector polls and calls.
	calls := make(chan string, 16)
	mux := http.NewServeMux()
	mux.HandleFunc("/getdata", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"serial":"S-9","Developer":"Bob","hum":55}`)
	})
	mux.HandleFunc("/sensor/", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		calls <- r.Method + " " + r.URL.Path + " " + string(body)
		fmt.Fprint(w, `{"temp":23.5}`)
	})
	dev := httptest.NewServer(mux)
	t.Cleanup(dev.Close)

	dir := t.TempDir()
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join("testdata", "upstream", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	_, restPort := freeAddr(t, "tcp")
	_, sockPort := freeAddr(t, "tcp")
	files := map[string]string{
		"request.json": strings.Replace(read("request.json"), `"http://127.0.0.1:5000"`, `"`+dev.URL+`"`, 1),
		"rest.json": strings.Replace(strings.Replace(read("rest.json"), `"port": "5000"`, fmt.Sprintf(`"port": "%d"`, restPort), 1),
			`"responseExpected": false,
          "timeout": 120`, `"responseExpected": true, "responseAttribute": "answer",
          "timeout": 20`, 1),
		"socket.json": strings.Replace(read("socket.json"), `"port": 50000`, fmt.Sprintf(`"port": %d`, sockPort), 1),
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeJSON(t, filepath.Join(dir, "tb_gateway.json"), map[string]any{
		"thingsboard": map[string]any{"host": b.Host, "port": b.Port, "security": map[string]any{"accessToken": "t"}},
		"storage":     map[string]any{"type": "memory", "max_records_count": 10000},
		"connectors": []any{
			map[string]any{"type": "request", "name": "Request", "configuration": "request.json"},
			map[string]any{"type": "rest", "name": "REST", "configuration": "rest.json"},
			map[string]any{"type": "socket", "name": "Socket", "configuration": "socket.json"},
		},
	})
	startGateway(t, dir)

	// request: polled data up, an RPC down to the HTTP device and back.
	tb.WaitTelemetry("SD8500", "combine", func(v any) bool { return v == "Bob:55" }, 20*time.Second)
	reply, err := tb.RPC("SD8500", "echo", map[string]any{"x": 1}, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	assertJSON(t, reply, `{"result":{"value":"23.5"}}`)
	if c := <-calls; !strings.HasPrefix(c, "GET /sensor/SD8500/request/echo/") {
		t.Fatalf("device got %q", c)
	}

	// rest: a device posts and waits; ThingsBoard answers through the
	// shared attribute "answer".
	type answer struct {
		code int
		body string
		err  error
	}
	got := make(chan answer, 1)
	restURL := fmt.Sprintf("http://127.0.0.1:%d/my_devices", restPort)
	go func() {
		var resp *http.Response
		var err error
		for range 100 { // the server may still be starting
			resp, err = http.Post(restURL, "application/json", strings.NewReader(`{"sensorName":"REST-1","sensorType":"T","sensorModel":"M","temp":20.5,"hum":30}`))
			if err == nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if err != nil {
			got <- answer{err: err}
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- answer{code: resp.StatusCode, body: string(body)}
	}()
	tb.WaitTelemetry("REST-1", "temperature", func(v any) bool { return v == 20.5 }, 20*time.Second)
	tb.WaitAttribute("REST-1", "responseExpected", func(v any) bool { return v == true }, 10*time.Second)
	tb.SetAttributes("REST-1", map[string]any{"answer": "accepted"})
	select {
	case a := <-got:
		if a.err != nil || a.code != 200 || a.body != "accepted" {
			t.Fatalf("rest answer %d %q %v", a.code, a.body, a.err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("rest request not answered")
	}

	// socket: a TCP device sends, then gets a shared attribute update.
	var conn net.Conn
	tb.Wait(10*time.Second, "socket server up", func() bool {
		conn, err = net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", sockPort))
		return err == nil
	})
	defer conn.Close()
	fmt.Fprint(conn, "21.5")
	tb.WaitTelemetry("Device Example", "temp", func(v any) bool { return v == "21.5" }, 20*time.Second)
	tb.SetAttributes("Device Example", map[string]any{"sharedName": "hey"})
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	buf := make([]byte, 8)
	if _, err := io.ReadFull(bufio.NewReader(conn), buf); err != nil || string(buf) != "\xff\xfeh\x00e\x00y\x00" {
		t.Fatalf("socket device got % x (%v)", buf, err)
	}
}
