package ftp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"path"
	"strings"
	"time"

	"github.com/jlaffaye/ftp"
)

// server is the compiled connection part of the configuration.
type server struct {
	addr      string
	user      string
	password  string
	tls       *tls.Config // FTPS when set: explicit (AUTH TLS) or implicit
	implicit  bool        // TLS from the first byte of the control connection
	timeout   time.Duration
	localAddr string
}

// session is one logged-in control connection. Every call is bounded by
// the server timeout; cancelling the context it was dialled with closes it.
type session struct {
	c       *ftp.ServerConn
	nc      net.Conn
	timeout time.Duration
	stop    func() bool
}

// dial connects (implicit FTPS: in TLS from the start), upgrades to TLS
// when configured (explicit FTPS), logs in and switches to
// binary mode. Data connections are passive (EPSV, falling back to PASV).
func dial(ctx context.Context, srv *server) (*session, error) {
	d := net.Dialer{Timeout: srv.timeout}
	nc, err := d.DialContext(ctx, "tcp", srv.addr)
	if err != nil {
		return nil, err
	}
	s := &session{nc: nc, timeout: srv.timeout}
	s.stop = context.AfterFunc(ctx, func() { nc.Close() })
	s.arm()
	// The first call hands over the control connection; later calls open
	// passive data connections, wrapped in TLS here because the library
	// leaves that to a custom dial function.
	control := nc
	dialData := func(network, address string) (net.Conn, error) {
		if control != nil {
			c := control
			control = nil
			if srv.implicit {
				return tls.Client(c, srv.tls), nil
			}
			return c, nil
		}
		c, err := d.DialContext(ctx, network, address)
		if err != nil || srv.tls == nil {
			return c, err
		}
		return tls.Client(c, srv.tls), nil
	}
	opts := []ftp.DialOption{
		ftp.DialWithDialFunc(dialData),
		ftp.DialWithShutTimeout(srv.timeout),
	}
	switch {
	case srv.implicit:
		opts = append(opts, ftp.DialWithTLS(srv.tls))
	case srv.tls != nil:
		opts = append(opts, ftp.DialWithExplicitTLS(srv.tls))
	}
	c, err := ftp.Dial(srv.addr, opts...)
	if err != nil {
		s.stop()
		nc.Close()
		return nil, fmt.Errorf("connect %s: %w", srv.addr, err)
	}
	s.c = c
	s.arm()
	if err := c.Login(srv.user, srv.password); err != nil {
		s.close()
		return nil, fmt.Errorf("login to %s as %q: %w", srv.addr, srv.user, err)
	}
	return s, nil
}

// arm bounds the next control-connection exchange.
func (s *session) arm() { s.nc.SetDeadline(time.Now().Add(s.timeout)) }

func (s *session) close() {
	if s == nil {
		return
	}
	s.stop()
	if s.c != nil {
		s.arm()
		s.c.Quit() // closes the connection
	}
	s.nc.Close()
}

// alive checks the control connection with NOOP.
func (s *session) alive() error {
	s.arm()
	return s.c.NoOp()
}

// remoteFile is a file found on the server.
type remoteFile struct {
	path  string
	size  int64
	mtime time.Time
}

// hasMeta reports whether a path segment is a glob pattern.
func hasMeta(s string) bool { return strings.ContainsAny(s, "*?[") }

// find lists the files matching pattern (path.Match syntax per segment;
// directory segments may be patterns too). Missing directories match
// nothing.
func (s *session) find(pattern string, keep func(name string) bool) ([]remoteFile, error) {
	dirPart, filePart := path.Split(pattern)
	dirs := []string{""}
	if strings.HasPrefix(dirPart, "/") {
		dirs = []string{"/"}
	}
	for _, seg := range strings.Split(strings.Trim(dirPart, "/"), "/") {
		if seg == "" || seg == "." {
			continue
		}
		var next []string
		for _, d := range dirs {
			if !hasMeta(seg) {
				next = append(next, path.Join(d, seg))
				continue
			}
			entries, err := s.list(d)
			if err != nil {
				return nil, err
			}
			for _, e := range entries {
				if e.Type != ftp.EntryTypeFolder || e.Name == "." || e.Name == ".." {
					continue
				}
				if ok, _ := path.Match(seg, e.Name); ok {
					next = append(next, path.Join(d, e.Name))
				}
			}
		}
		dirs = next
	}
	var out []remoteFile
	for _, d := range dirs {
		entries, err := s.list(d)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if e.Type != ftp.EntryTypeFile {
				continue
			}
			if ok, _ := path.Match(filePart, e.Name); !ok || !keep(e.Name) {
				continue
			}
			out = append(out, remoteFile{path: path.Join(d, e.Name), size: int64(e.Size), mtime: e.Time})
		}
	}
	if !s.c.IsTimePreciseInList() && s.c.IsGetTimeSupported() {
		for i := range out {
			s.arm()
			if t, err := s.c.GetTime(out[i].path); err == nil {
				out[i].mtime = t
			}
		}
	}
	return out, nil
}

// list lists a directory ("" is the login directory). A directory that
// does not exist lists as empty.
func (s *session) list(dir string) ([]*ftp.Entry, error) {
	s.arm()
	entries, err := s.c.List(dir)
	if err != nil && isPermanent(err) {
		return nil, nil
	}
	return entries, err
}

// size returns a file's size.
func (s *session) size(p string) (int64, error) {
	s.arm()
	return s.c.FileSize(p)
}

// open starts downloading p from offset. The reader is bounded by the
// timeout per read; Close ends the transfer.
func (s *session) open(p string, offset int64) (io.ReadCloser, error) {
	s.arm()
	r, err := s.c.RetrFrom(p, uint64(offset))
	if err != nil {
		return nil, err
	}
	return &download{r: r, s: s}, nil
}

type download struct {
	r *ftp.Response
	s *session
}

func (d *download) Read(b []byte) (int, error) {
	d.r.SetDeadline(time.Now().Add(d.s.timeout))
	return d.r.Read(b)
}

func (d *download) Close() error {
	d.s.arm()
	return d.r.Close()
}

// readAll downloads p whole, failing when it is larger than limit bytes.
func (s *session) readAll(p string, limit int64) ([]byte, error) {
	r, err := s.open(p, 0)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	cerr := r.Close()
	if err == nil && int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", p, limit)
	}
	if err == nil {
		err = cerr
	}
	return b, err
}

// store replaces p with data; append adds data at its end (creating it).
func (s *session) store(p string, data []byte) error {
	s.arm()
	return s.c.Stor(p, strings.NewReader(string(data)))
}

func (s *session) appendTo(p string, data []byte) error {
	s.arm()
	return s.c.Append(p, strings.NewReader(string(data)))
}

// isPermanent reports an FTP 5xx reply: the command failed, the connection
// is fine (no such file, permission denied, ...).
func isPermanent(err error) bool {
	var te *textproto.Error
	return errors.As(err, &te) && te.Code >= 500 && te.Code < 600
}
