package odbc

import (
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/tbgw/tbgw/drivers/drivertest"
)

// pgServer is a PostgreSQL cluster in a temporary directory, started once
// for the package's tests and stopped by TestMain.
type pgServer struct {
	dir  string
	port int
	bin  string
	run  func(args ...string) *exec.Cmd // as the postgres user when root
}

var (
	pgOnce sync.Once
	pg     *pgServer
	pgErr  error
)

func pgBin() string {
	m, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(m) == 0 {
		return ""
	}
	return filepath.Dir(m[len(m)-1])
}

// startPG returns the shared server, starting it on first use.
func startPG(t *testing.T) *pgServer { return startPGB(t) }

// startPGB is startPG for tests and benchmarks.
func startPGB(t testing.TB) *pgServer {
	t.Helper()
	bin := pgBin()
	drivertest.RequirePeer(t, bin != "", "PostgreSQL (scripts/peers/postgres.sh)")
	pgOnce.Do(func() { pg, pgErr = newPG(bin) })
	if pgErr != nil {
		t.Fatal(pgErr)
	}
	return pg
}

func newPG(bin string) (*pgServer, error) {
	dir, err := os.MkdirTemp("", "tbgw-pg-")
	if err != nil {
		return nil, err
	}
	s := &pgServer{dir: dir, bin: bin}
	s.run = func(args ...string) *exec.Cmd { return exec.Command(args[0], args[1:]...) }
	if os.Geteuid() == 0 {
		// initdb refuses to run as root.
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root needs the postgres user: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, err
		}
		s.run = func(args ...string) *exec.Cmd {
			return exec.Command("runuser", append([]string{"-u", "postgres", "--"}, args...)...)
		}
	}
	if out, err := s.run(filepath.Join(bin, "initdb"), "-D", filepath.Join(dir, "data"), "-A", "trust", "-U", "postgres", "--no-sync").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.port = l.Addr().(*net.TCPAddr).Port
	l.Close()
	if err := s.start(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *pgServer) start() error {
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off -c full_page_writes=off", s.port, s.dir)
	if out, err := s.run(filepath.Join(s.bin, "pg_ctl"), "-D", filepath.Join(s.dir, "data"), "-o", opts,
		"-l", filepath.Join(s.dir, "pg.log"), "-w", "-t", "60", "start").CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(s.dir, "pg.log"))
		return fmt.Errorf("pg_ctl start: %v\n%s\n%s", err, out, log)
	}
	return nil
}

func (s *pgServer) stop() error {
	out, err := s.run(filepath.Join(s.bin, "pg_ctl"), "-D", filepath.Join(s.dir, "data"), "-m", "fast", "-w", "stop").CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctl stop: %v\n%s", err, out)
	}
	return nil
}

// connStr is an ODBC connection string for database db.
func (s *pgServer) connStr(db string) string {
	return fmt.Sprintf("Driver={PostgreSQL Unicode};Server=127.0.0.1;Port=%d;Database=%s;Uid=postgres;Pwd=unused;", s.port, db)
}

// newDB creates a fresh database and returns a handle to it.
func (s *pgServer) newDB(t testing.TB) (string, *sql.DB) {
	t.Helper()
	admin, err := sql.Open("postgres", fmt.Sprintf("host=127.0.0.1 port=%d user=postgres dbname=postgres sslmode=disable", s.port))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	name := fmt.Sprintf("t%d", time.Now().UnixNano())
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("postgres", fmt.Sprintf("host=127.0.0.1 port=%d user=postgres dbname=%s sslmode=disable", s.port, name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return name, db
}

// reopen returns a new handle to database name (after a server restart).
func (s *pgServer) reopen(t testing.TB, name string) (string, *sql.DB) {
	t.Helper()
	db, err := sql.Open("postgres", fmt.Sprintf("host=127.0.0.1 port=%d user=postgres dbname=%s sslmode=disable", s.port, name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return name, db
}

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		childMain()
		return
	}
	code := m.Run()
	if pg != nil {
		if err := pg.stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
		os.RemoveAll(pg.dir)
	}
	os.Exit(code)
}
