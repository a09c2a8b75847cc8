package storage

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/tbgw/tbgw/wal"
)

// Config is the "storage" block of tb_gateway.json. It carries every key the
// upstream gateway knows for its three backends (so the shipped file decodes
// without unknown-key warnings) and tbgw's own keys, which apply to both
// memory and file storage. Zero values mean "default".
type Config struct {
	// Type is "memory", "file" or "sqlite" (the last two both select the
	// write-ahead log).
	Type string `json:"type"`

	// memory
	MaxRecordsCount  int `json:"max_records_count"`  // records held (10000)
	ReadRecordsCount int `json:"read_records_count"` // records per read batch (1000)

	// file
	DataFolderPath         string `json:"data_folder_path"`          // log directory ("./data/")
	MaxFileCount           int    `json:"max_file_count"`            // with max_records_per_file: record limit
	MaxRecordsPerFile      int    `json:"max_records_per_file"`      // see max_file_count
	MaxRecordsBetweenFsync int    `json:"max_records_between_fsync"` // accepted, unused (see fsync)
	MaxReadRecordsCount    int    `json:"max_read_records_count"`    // records per read batch (file, sqlite)

	// sqlite
	DataFilePath            string `json:"data_file_path"`              // log directory ("./data/")
	WritingBatchSize        int    `json:"writing_batch_size"`          // accepted, unused (group commit)
	SizeLimit               int    `json:"size_limit"`                  // MB per database; times max_db_amount: byte limit
	MaxDBAmount             int    `json:"max_db_amount"`               // see size_limit
	OversizeCheckPeriod     int    `json:"oversize_check_period"`       // accepted, unused (checked on append)
	MessagesTTLCheckInHours int    `json:"messages_ttl_check_in_hours"` // accepted, unused (no TTL)
	MessagesTTLInDays       int    `json:"messages_ttl_in_days"`        // accepted, unused (no TTL)

	// tbgw
	MaxBytes        int64  `json:"max_bytes"`         // bytes held at most (memory 16 MiB, log 64 MiB)
	SegmentBytes    int64  `json:"segment_bytes"`     // log segment size (1 MiB)
	Fsync           string `json:"fsync"`             // "batch" (default), "interval" or "never"
	FsyncIntervalMs int    `json:"fsync_interval_ms"` // period of the "interval" policy (1000)
	FsyncGapMs      int    `json:"fsync_gap_ms"`      // "batch": least time between fsyncs (20; negative: none)
	Overflow        string `json:"overflow"`          // "drop_oldest" (default) or "reject_new"
}

// Defaults applied where the configuration leaves a key out.
const (
	DefaultReadRecords    = 1000     // read_records_count, max_read_records_count
	DefaultFileCount      = 10       // max_file_count (shipped tb_gateway.json)
	DefaultRecordsPerFile = 10000    // max_records_per_file (shipped tb_gateway.json)
	DefaultLogBytes       = 64 << 20 // max_bytes of file and sqlite storage
	DefaultDataPath       = "./data/"
)

// SyncGap is the time an append may wait to share an fsync with others:
// the log's SyncGap under fsync "batch", else 0.
func (c *Config) SyncGap() time.Duration {
	if c.Type == "memory" || c.Type == "" {
		return 0
	}
	if s, _ := wal.ParseSync(c.Fsync); s != wal.SyncBatch || c.FsyncGapMs < 0 {
		return 0
	}
	if c.FsyncGapMs == 0 {
		return wal.DefaultOptions.SyncGap
	}
	return time.Duration(c.FsyncGapMs) * time.Millisecond
}

// ReadBatch is the number of records the uplink loop reads per pack:
// read_records_count for memory storage, max_read_records_count otherwise.
func (c *Config) ReadBatch() int {
	n := c.MaxReadRecordsCount
	if c.Type == "memory" || c.Type == "" {
		n = c.ReadRecordsCount
	}
	if n <= 0 {
		n = DefaultReadRecords
	}
	return n
}

// Validate checks the values without touching the disk.
func (c *Config) Validate() error {
	var errs []error
	switch c.Type {
	case "", "memory", "file", "sqlite":
	default:
		errs = append(errs, fmt.Errorf("storage.type %q: want memory, file or sqlite", c.Type))
	}
	if _, err := wal.ParseOverflow(c.Overflow); err != nil {
		errs = append(errs, fmt.Errorf("storage.%w", err))
	}
	if _, err := wal.ParseSync(c.Fsync); err != nil {
		errs = append(errs, fmt.Errorf("storage.%w", err))
	}
	for _, kv := range []struct {
		key string
		v   int64
	}{
		{"max_records_count", int64(c.MaxRecordsCount)},
		{"read_records_count", int64(c.ReadRecordsCount)},
		{"max_file_count", int64(c.MaxFileCount)},
		{"max_records_per_file", int64(c.MaxRecordsPerFile)},
		{"max_read_records_count", int64(c.MaxReadRecordsCount)},
		{"size_limit", int64(c.SizeLimit)},
		{"max_db_amount", int64(c.MaxDBAmount)},
		{"max_bytes", c.MaxBytes},
		{"segment_bytes", c.SegmentBytes},
		{"fsync_interval_ms", int64(c.FsyncIntervalMs)},
	} {
		if kv.v < 0 {
			errs = append(errs, fmt.Errorf("storage.%s %d: must not be negative", kv.key, kv.v))
		}
	}
	if c.SegmentBytes != 0 && c.SegmentBytes < wal.MinSegmentBytes {
		errs = append(errs, fmt.Errorf("storage.segment_bytes %d: at least %d", c.SegmentBytes, wal.MinSegmentBytes))
	}
	return errors.Join(errs...)
}

// Open builds the store c describes. File and sqlite storage open (and
// repair, if needed) the write-ahead log in their directory.
func Open(c Config, log *slog.Logger) (Store, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	overflow, _ := wal.ParseOverflow(c.Overflow)
	switch c.Type {
	case "", "memory":
		n := c.MaxRecordsCount
		if n == 0 {
			n = DefaultMemoryRecords
		}
		return NewMemory(MemoryOptions{MaxRecords: n, MaxBytes: c.MaxBytes, Overflow: overflow}), nil
	}
	return openLog(c, overflow, log)
}

// logOptions maps a file or sqlite block onto the log's options.
func (c *Config) logOptions(overflow Overflow, log *slog.Logger) (dir string, o wal.Options) {
	sync, _ := wal.ParseSync(c.Fsync)
	o = wal.Options{
		MaxBytes:     c.MaxBytes,
		SegmentBytes: c.SegmentBytes,
		Sync:         sync,
		SyncInterval: time.Duration(c.FsyncIntervalMs) * time.Millisecond,
		SyncGap:      time.Duration(c.FsyncGapMs) * time.Millisecond,
		Overflow:     overflow,
		Logger:       log,
	}
	switch c.Type {
	case "file":
		dir = c.DataFolderPath
		files, per := c.MaxFileCount, c.MaxRecordsPerFile
		if files == 0 {
			files = DefaultFileCount
		}
		if per == 0 {
			per = DefaultRecordsPerFile
		}
		o.MaxRecords = int64(files) * int64(per)
	case "sqlite":
		dir = c.DataFilePath
		if log == nil {
			log = slog.New(slog.DiscardHandler)
		}
		log.Info("storage type sqlite is served by the write-ahead log; data_file_path is its directory",
			"dir", dir)
		if o.MaxBytes == 0 && c.SizeLimit > 0 && c.MaxDBAmount > 0 {
			o.MaxBytes = int64(c.SizeLimit) * int64(c.MaxDBAmount) << 20
		}
	}
	if dir == "" {
		dir = DefaultDataPath
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultLogBytes
	}
	return dir, o
}
