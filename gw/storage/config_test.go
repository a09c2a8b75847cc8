package storage

import (
	"strings"
	"testing"

	"github.com/tbgw/tbgw/codec/conf"
	"github.com/tbgw/tbgw/wal"
)

// shipped is the storage block of the upstream tb_gateway.json.
const shipped = `{"type":"memory","read_records_count":100,"max_records_count":100000,
"data_folder_path":"./data/","max_file_count":10,"max_read_records_count":10,
"max_records_per_file":10000,"data_file_path":"./data/",
"messages_ttl_check_in_hours":1,"messages_ttl_in_days":7}`

func decode(t *testing.T, src string) Config {
	t.Helper()
	doc, err := conf.Parse("tb_gateway.json", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	var c Config
	warns, err := doc.Decode(&c)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range warns {
		t.Errorf("warning: %v", w)
	}
	return c
}

func TestConfigShipped(t *testing.T) {
	c := decode(t, shipped)
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.ReadBatch() != 100 {
		t.Fatalf("read batch %d", c.ReadBatch())
	}
	s, err := Open(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	m, ok := s.(*Memory)
	if !ok || m.opts.MaxRecords != 100000 || m.opts.Overflow != DropOldest {
		t.Fatalf("store %T %+v", s, m.opts)
	}
}

func TestConfigSqliteAndOwnKeys(t *testing.T) {
	c := decode(t, `{"type":"sqlite","data_file_path":"./db/","max_read_records_count":50,
"writing_batch_size":1000,"size_limit":2,"max_db_amount":3,"oversize_check_period":1,
"messages_ttl_check_in_hours":1,"messages_ttl_in_days":7,
"segment_bytes":65536,"fsync":"interval","fsync_interval_ms":200,"overflow":"reject_new"}`)
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.ReadBatch() != 50 {
		t.Fatalf("read batch %d", c.ReadBatch())
	}
	ov, _ := wal.ParseOverflow(c.Overflow)
	dir, o := c.logOptions(ov, nil)
	if dir != "./db/" || o.MaxBytes != 6<<20 || o.SegmentBytes != 65536 || o.Overflow != RejectNew ||
		o.Sync.String() != "interval" || o.SyncInterval.Milliseconds() != 200 {
		t.Fatalf("dir %q options %+v", dir, o)
	}
	c = Config{Type: "file"}
	dir, o = c.logOptions(DropOldest, nil)
	if dir != DefaultDataPath || o.MaxRecords != 100000 || o.MaxBytes != DefaultLogBytes {
		t.Fatalf("file defaults: dir %q options %+v", dir, o)
	}
}

func TestConfigInvalid(t *testing.T) {
	c := Config{Type: "redis", Fsync: "always", Overflow: "drop_newest", MaxBytes: -1, SegmentBytes: 10}
	err := c.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, key := range []string{"storage.type", "fsync", "overflow", "max_bytes", "segment_bytes"} {
		if !strings.Contains(err.Error(), key) {
			t.Errorf("error %q does not name %s", err, key)
		}
	}
}
