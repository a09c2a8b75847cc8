package storage

import (
	"context"
	"log/slog"

	"github.com/tbgw/tbgw/wal"
)

// Log is a Store over the write-ahead log of package wal.
type Log struct{ l *wal.Log }

var _ Store = (*Log)(nil)

// OpenLog opens (creating or repairing as needed) the log in dir.
func OpenLog(dir string, opts wal.Options) (*Log, error) {
	l, err := wal.Open(dir, opts)
	if err != nil {
		return nil, err
	}
	return &Log{l}, nil
}

func openLog(c Config, overflow Overflow, log *slog.Logger) (Store, error) {
	dir, o := c.logOptions(overflow, log)
	return OpenLog(dir, o)
}

// Append implements Store.
func (s *Log) Append(recs [][]byte) error { return s.l.Append(recs) }

// Next implements Store.
func (s *Log) Next(ctx context.Context, max, maxBytes int) (Batch, error) {
	b, err := s.l.Next(ctx, max, maxBytes)
	return Batch(b), err
}

// Ack implements Store.
func (s *Log) Ack(seq uint64) error { return s.l.Ack(seq) }

// Rewind implements Store.
func (s *Log) Rewind() { s.l.Rewind() }

// Stats implements Store.
func (s *Log) Stats() Stats { return Stats(s.l.Stats()) }

// Close implements Store.
func (s *Log) Close() error { return s.l.Close() }
