package logging

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

type buf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *buf) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *buf) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func TestOneKeyPerLine(t *testing.T) {
	var out buf
	r := New(Options{Console: &out, JSON: true})
	log := slog.New(r.Handler()).With("component", "tb").With("component", "tb_connection")
	log.Info("hello", "component", "tb_connection", "n", 1)
	if got := strings.Count(out.String(), `"component"`); got != 1 {
		t.Fatalf("component %d times: %s", got, out.String())
	}
}

func mustParse(t *testing.T, s string) *Config {
	t.Helper()
	c, warns, err := Parse([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range warns {
		t.Log(w)
	}
	return c
}

func TestRoutesLevelsAndSizeRotation(t *testing.T) {
	dir := t.TempDir()
	var out buf
	r := New(Options{Console: &out, Dir: dir})
	defer r.Close()
	err := r.Apply(mustParse(t, `{"version":1,
	 "handlers":{"consoleHandler":{"class":"logging.StreamHandler","level":0,"stream":"ext://sys.stdout"},
	  "serviceHandler":{"class":"thingsboard_gateway.tb_utility.tb_rotating_file_handler.TimedRotatingFileHandler",
	   "filename":"./logs/service.log","backupCount":2,"maxBytes":300,"when":"D","interval":3},
	  "weird":{"class":"logging.handlers.QueueHandler"}},
	 "loggers":{"service":{"level":"INFO","handlers":["serviceHandler","consoleHandler"],"propagate":false},
	  "tb_connection":{"level":"WARNING","handlers":["consoleHandler"],"propagate":false}},
	 "root":{"level":"ERROR","handlers":["consoleHandler"]}}`))
	if err != nil {
		t.Fatal(err)
	}
	svc := slog.New(r.Handler())
	for i := range 20 {
		svc.Info("service line", "i", i)
	}
	svc.Debug("service debug")
	tbc := svc.With("component", "tb_connection")
	tbc.Info("tb info")
	tbc.Warn("tb warning")
	st := svc.With("component", "storage")
	st.Warn("storage warning") // root: ERROR
	st.Error("storage error")
	conn := svc.With("connector", "Modbus")
	conn.Debug("connector debug") // connectors filter at their own level

	c := out.String()
	for _, want := range []string{"service line", "tb warning", "storage error", "connector debug"} {
		if !strings.Contains(c, want) {
			t.Errorf("console lacks %q", want)
		}
	}
	for _, not := range []string{"service debug", "tb info", "storage warning"} {
		if strings.Contains(c, not) {
			t.Errorf("console has %q", not)
		}
	}
	base := filepath.Join(dir, "logs", "service.log")
	for _, p := range []string{base, base + ".1", base + ".2"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() > 300 {
			t.Errorf("%s: %d bytes", p, fi.Size())
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %o", p, fi.Mode().Perm())
		}
	}
	if _, err := os.Stat(base + ".3"); err == nil {
		t.Error("more backups than backupCount")
	}
	b, _ := os.ReadFile(base)
	if !strings.Contains(string(b), "i=19") {
		t.Errorf("newest file %s", b)
	}
}

func TestTimeRotationAndLogsPath(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	r := New(Options{Console: &buf{}, Dir: "/nonexistent", LogsPath: dir, Now: clock})
	defer r.Close()
	if err := r.Apply(mustParse(t, `{"handlers":{"f":{"class":"logging.handlers.TimedRotatingFileHandler","filename":"./logs/x.log","when":"H","interval":1,"backupCount":3}},
	 "root":{"level":"INFO","handlers":["f"]}}`)); err != nil {
		t.Fatal(err)
	}
	log := slog.New(r.Handler())
	log.Info("first hour")
	mu.Lock()
	now = now.Add(61 * time.Minute)
	mu.Unlock()
	log.Info("second hour")
	a, _ := os.ReadFile(filepath.Join(dir, "x.log.1"))
	b, _ := os.ReadFile(filepath.Join(dir, "x.log"))
	if !strings.Contains(string(a), "first hour") || !strings.Contains(string(b), "second hour") || strings.Contains(string(b), "first") {
		t.Fatalf("x.log.1 %q, x.log %q", a, b)
	}
}

func TestJournalPrefixes(t *testing.T) {
	var out buf
	r := New(Options{Console: &out, Journal: true})
	log := slog.New(r.Handler())
	log.Info("i")
	log.Warn("w")
	log.Error("e")
	log.Log(nil, slog.LevelError+4, "c")
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	for i, p := range []string{"<6>", "<4>", "<3>", "<2>"} {
		if !strings.HasPrefix(lines[i], p+"time=") {
			t.Errorf("line %d %q, want prefix %s", i, lines[i], p)
		}
	}
	if !strings.Contains(lines[3], "level=CRITICAL") {
		t.Errorf("critical line %q", lines[3])
	}
}

func TestUnderJournal(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "stream")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	st := fi.Sys().(*syscall.Stat_t)
	t.Setenv("JOURNAL_STREAM", fmt.Sprintf("%d:%d", st.Dev, st.Ino))
	if !UnderJournal(f) {
		t.Fatal("not detected")
	}
	t.Setenv("JOURNAL_STREAM", fmt.Sprintf("%d:%d", st.Dev, st.Ino+1))
	if UnderJournal(f) {
		t.Fatal("detected for another file")
	}
}

func TestSyslogHandler(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	port := pc.LocalAddr().(*net.UDPAddr).Port
	r := New(Options{Console: &buf{}})
	defer r.Close()
	if err := r.Apply(mustParse(t, fmt.Sprintf(`{"handlers":{"sys":{"class":"logging.handlers.SysLogHandler","address":["127.0.0.1",%d],"facility":"local0"}},
	 "loggers":{"service":{"level":"INFO","handlers":["sys"]}}}`, port))); err != nil {
		t.Fatal(err)
	}
	slog.New(r.Handler()).Warn("disk almost full", "free", "1%")
	pc.SetReadDeadline(time.Now().Add(10 * time.Second))
	p := make([]byte, 2048)
	n, _, err := pc.ReadFrom(p)
	if err != nil {
		t.Fatal(err)
	}
	msg := string(p[:n])
	// local0 (16) * 8 + warning (4) = 132
	if !strings.HasPrefix(msg, "<132>") || !strings.Contains(msg, "tbgw[") || !strings.Contains(msg, `msg="disk almost full" free=1%`) || strings.Contains(msg, "time=") {
		t.Fatalf("syslog message %q", msg)
	}
}

func TestParseErrors(t *testing.T) {
	if _, _, err := Parse([]byte(`{"loggers":{"service":{"level":"LOUD"}}}`)); err == nil {
		t.Fatal("bad level accepted")
	}
	if _, _, err := Parse([]byte(`{"handlers":{"f":{"class":"logging.FileHandler"}}}`)); err != nil {
		t.Fatal(err) // ignored with a warning
	}
	r := New(Options{Console: &buf{}})
	err := r.Apply(mustParse(t, `{"loggers":{"service":{"level":"INFO","handlers":["missing"]}}}`))
	if err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("err %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"handlers":{"f":{"class":"logging.handlers.RotatingFileHandler","filename":"x.log","maxBytes":10,"backupCount":1,"when":"W3"}},"loggers":{"service":{"level":20,"handlers":["f"]}},"root":{"level":"NONE"}}`))
	f.Add([]byte(`{"handlers":{"s":{"class":"logging.handlers.SysLogHandler","address":"/dev/log","facility":3}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, _, err := Parse(b)
		if err != nil {
			return
		}
		for _, h := range c.Handlers {
			if _, err := h.kind(); err != nil {
				t.Fatalf("accepted handler %+v: %v", h, err)
			}
		}
	})
}

// Reconfiguring while loggers write loses no console line and closes the
// replaced files (run with -race).
func TestApplyWhileLogging(t *testing.T) {
	dir := t.TempDir()
	var out buf
	r := New(Options{Console: &out, Dir: dir})
	defer r.Close()
	cfg := func(name string) *Config {
		return mustParse(t, `{"handlers":{"c":{"class":"logging.StreamHandler"},"f":{"class":"logging.FileHandler","filename":"`+name+`"}},
		 "loggers":{"service":{"level":"INFO","handlers":["c","f"],"propagate":false}}}`)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			log := slog.New(r.Handler()).With("g", g)
			for i := range 200 {
				log.Info("line", "i", i)
			}
		})
	}
	for i := range 10 {
		if err := r.Apply(cfg(fmt.Sprintf("f%d.log", i))); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	if n := strings.Count(out.String(), "msg=line"); n != 800 {
		t.Fatalf("%d console lines, want 800", n)
	}
}

// Upstream's shipped logs.json applies unchanged: every handler is used,
// files land under the directory given.
func TestUpstreamLogsJSON(t *testing.T) {
	dir := t.TempDir()
	r := New(Options{Console: &buf{}, Dir: dir})
	defer r.Close()
	warns, err := r.ApplyFile(filepath.Join("..", "..", "testdata", "upstream", "logs.json"))
	if err != nil || len(warns) > 0 {
		t.Fatal(err, warns)
	}
	log := slog.New(r.Handler())
	log.Info("service line")
	log.With("component", "tb_connection").Info("connection line")
	log.With("connector", "Modbus").Debug("connector line")
	for file, want := range map[string]string{"service.log": "service line", "tb_connection.log": "connection line", "connector.log": "connector line"} {
		b, err := os.ReadFile(filepath.Join(dir, "logs", file))
		if err != nil || !strings.Contains(string(b), want) {
			t.Errorf("%s: %q %v", file, b, err)
		}
	}
}
