package ftp

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/tbgw/tbgw/codec"
	"github.com/tbgw/tbgw/gw/connector"
)

// errStorage marks a poll stopped because the event storage refused data:
// nothing was lost, the file is read again from the same place next time.
var errStorage = errors.New("event storage refused data")

const (
	batchLines = 500     // lines per Send
	maxLine    = 1 << 20 // longer lines are dropped
)

// pollPath lists the files of p and reads the new or changed ones. Errors
// of one file (5xx replies: gone, unreadable) are logged and skipped; other
// errors end the poll so the connection is re-opened.
func (c *Connector) pollPath(ctx context.Context, s *session, p *pathPlan, st *stateStore, sink connector.Sink) error {
	files, err := s.find(p.pattern, func(name string) bool {
		k := fileKind(name)
		return k != "" && (k != "json" || p.json != nil || p.conv != nil)
	})
	if err != nil {
		return err
	}
	if p.sorted {
		// Newest first, as upstream does.
		sort.SliceStable(files, func(i, j int) bool {
			if !files[i].mtime.Equal(files[j].mtime) {
				return files[i].mtime.After(files[j].mtime)
			}
			return files[i].path > files[j].path
		})
	}
	present := make(map[string]bool, len(files))
	for _, f := range files {
		present[f.path] = true
	}
	if st.prune(p.pattern, present) {
		if err := st.save(); err != nil {
			c.log.Warn("ftp: cannot save state", "err", err)
		}
	}
	for _, f := range files {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		err := c.readFile(ctx, s, p, f, st, sink)
		switch {
		case err == nil:
		case errors.Is(err, errStorage):
			return err
		case isPermanent(err):
			c.log.Warn("ftp: cannot read file", "file", f.path, "err", err)
		default:
			return fmt.Errorf("%s: %w", f.path, err)
		}
	}
	return nil
}

// readFile reads one file if it is new or changed (FULL) or has grown
// (PARTIAL), sends what it converts and records progress.
func (c *Connector) readFile(ctx context.Context, s *session, p *pathPlan, f remoteFile, st *stateStore, sink connector.Sink) error {
	key := stateKey(p.pattern, f.path)
	fs := st.get(key)
	kind := fileKind(f.path)
	partial := p.partial && kind != "json"
	if !partial {
		if fs.Size == f.size && fs.MTime == f.mtime.UnixNano() && (fs.Size != 0 || fs.MTime != 0) {
			return nil
		}
		if f.size > p.maxBytes {
			c.log.Warn("ftp: file larger than maxFileSize, skipped", "file", f.path, "size", f.size, "max", p.maxBytes)
			return nil
		}
	} else {
		if f.size < fs.Off {
			c.log.Info("ftp: file shrank, reading it from the start", "file", f.path, "size", f.size, "offset", fs.Off)
			fs.Off, fs.Header = 0, ""
		}
		if f.size == fs.Off {
			return nil
		}
	}
	c.stats.files.Add(1)
	if kind == "json" {
		b, err := s.readAll(f.path, p.maxBytes)
		if err != nil {
			return err
		}
		c.stats.bytes.Add(uint64(len(b)))
		var data []codec.Data
		if p.conv != nil {
			data, err = p.conv.json(b)
		} else {
			data, err = p.json.Convert("", b, 0)
		}
		if err != nil {
			c.stats.badLines.Add(1)
			c.log.Warn("ftp: cannot convert JSON file", "file", f.path, "err", err)
		} else if err := c.send(ctx, sink, data); err != nil {
			return err
		}
		fs.Size, fs.MTime = f.size, f.mtime.UnixNano()
		return st.save()
	}

	start := int64(0)
	if partial {
		start = fs.Off
	}
	r, err := s.open(f.path, start)
	if err != nil {
		return err
	}
	defer r.Close()
	limit := f.size - start // read what the listing saw; later growth waits
	if limit > p.maxBytes && partial {
		limit = p.maxBytes // the rest on the next polls
	}
	lr := &io.LimitedReader{R: r, N: limit}
	br := bufio.NewReaderSize(lr, 64<<10)
	off := start
	var hdr *header
	if fs.Header != "" && partial && start > 0 {
		hdr = newHeader(fs.Header, p.rows.delim)
	}
	var batch []codec.Data
	batchEnd := off
	flush := func() error {
		if len(batch) > 0 {
			if err := c.send(ctx, sink, batch); err != nil {
				return err
			}
			batch = batch[:0]
		}
		if partial && batchEnd != fs.Off {
			fs.Off = batchEnd
			return st.save()
		}
		return nil
	}
	for {
		line, n, complete, err := readLine(br)
		if err != nil && err != io.EOF {
			return err
		}
		if n == 0 {
			break
		}
		if !complete && partial && lr.N == 0 && err == io.EOF {
			// A line still being written: read it when it is complete,
			// unless maxFileSize cut it.
			if limit == f.size-start {
				break
			}
		}
		off += int64(n)
		c.stats.bytes.Add(uint64(n))
		switch {
		case len(line) > maxLine:
			c.stats.badLines.Add(1)
			c.log.Warn("ftp: line too long, dropped", "file", f.path, "offset", off-int64(n))
		case !p.rows.sliced && hdr == nil && (!partial || off-int64(n) == 0):
			hdr = newHeader(string(line), p.rows.delim)
			if partial {
				fs.Header = string(line)
			}
		case len(bytes.TrimSpace(line)) == 0:
		default:
			c.stats.lines.Add(1)
			if p.conv != nil {
				ds, cerr := p.conv.line(kind, hdr, string(line))
				if cerr != nil {
					c.stats.badLines.Add(1)
					c.log.Debug("ftp: line dropped", "file", f.path, "err", cerr)
				}
				batch = append(batch, ds...)
				break
			}
			d, cerr := p.rows.convert(string(line), hdr, 0)
			if cerr != nil {
				c.stats.badLines.Add(1)
				c.log.Debug("ftp: line dropped", "file", f.path, "err", cerr)
			} else {
				batch = append(batch, d)
			}
		}
		batchEnd = off
		if len(batch) >= batchLines {
			if err := flush(); err != nil {
				return err
			}
		}
		if err == io.EOF {
			break
		}
	}
	if err := flush(); err != nil {
		return err
	}
	if !partial {
		fs.Size, fs.MTime = f.size, f.mtime.UnixNano()
		return st.save()
	}
	return nil
}

// readLine returns the next line without its line end, the bytes it took
// (line end included), whether it ended with "\n", and io.EOF at the end
// of input. Lines longer than maxLine are consumed whole but returned
// truncated to maxLine+1 bytes so the caller can drop them.
func readLine(br *bufio.Reader) (line []byte, n int, complete bool, err error) {
	var buf []byte
	for {
		chunk, e := br.ReadSlice('\n')
		n += len(chunk)
		if len(buf) <= maxLine {
			buf = append(buf, chunk...)
		}
		if e == bufio.ErrBufferFull {
			continue
		}
		if e != nil && e != io.EOF {
			return nil, n, false, e
		}
		complete = len(chunk) > 0 && chunk[len(chunk)-1] == '\n'
		if complete {
			buf = buf[:len(buf)-1]
			if len(buf) > 0 && buf[len(buf)-1] == '\r' {
				buf = buf[:len(buf)-1]
			}
		}
		if e == nil {
			return buf, n, true, nil
		}
		return buf, n, complete, io.EOF
	}
}

// send hands data to the gateway; a refusal by the storage stops the read
// without losing the place in the file.
func (c *Connector) send(ctx context.Context, sink connector.Sink, data []codec.Data) error {
	if len(data) == 0 {
		return nil
	}
	if err := sink.Send(ctx, data); err != nil {
		if errors.Is(err, connector.ErrStorageFull) {
			c.log.Warn("ftp: event storage full, will read again", "err", err)
			return errStorage
		}
		return err
	}
	c.stats.sent.Add(uint64(len(data)))
	return nil
}
