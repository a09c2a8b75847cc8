// Package wal is a segmented write-ahead log for events that must survive
// network outages, power cuts, full disks and week-long backlogs on small
// devices. Records are opaque byte strings with consecutive sequence
// numbers; a reader takes batches, and acknowledges them once delivered.
//
// It is written for the gateway's event storage (package gw/storage adapts
// it), and imports nothing else of tbgw. It is not a database: no random
// access by key, no compaction, no replication.
//
// # Guarantees
//
//   - An Append that returned nil is readable after a crash of the process,
//     and, under the default SyncBatch policy, after a power cut.
//   - Records are delivered in order, and a record is never handed out
//     twice within one process unless Rewind is called. After a crash,
//     records acknowledged in the last moments may be delivered again (at
//     least once); nothing unacknowledged is ever skipped except by the
//     overflow policy or damage, and both are counted.
//   - Open never refuses a damaged log and never panics on its content: a
//     torn or damaged tail is cut off, damaged records in the middle are
//     skipped, a damaged segment header is rewritten from the segment's
//     name, the damaged bytes are kept in the broken directory (the newest
//     eight files), a warning is logged and Stats.Corrupt counts it.
//   - Disk use is bounded by Options.MaxBytes (and records by MaxRecords);
//     memory does not grow with the backlog.
//
// # Layout
//
// A log directory holds:
//
//	LOCK                        flock(2)ed while open: one process per log
//	CURSOR                      highest acknowledged sequence number, in
//	                            two slots written in turn, in place
//	seg-<first seq, 20 digits>/ one segment: a tidwall/wal log
//	    00000000000000000001    its only file
//	broken/                     damaged bytes cut off by repairs
//	newer/                      segments of a later format, set aside whole
//
// A segment file is a sequence of tidwall binary entries
// (uvarint length, data). Entry 1 is the segment header, entry k+2 the
// record with sequence number first+k:
//
//	header: "tbgw-wal" | version u16 | flags u16 | first seq u64 | crc32c u32
//	record: length u32 | crc32c u32 | seq u64 | payload
//
// The record checksum (Castagnoli) covers length, sequence number and
// payload, so a record read from the wrong place is detected too, and a
// reader that lost its way in damaged bytes can find the next intact
// record and know how many were lost. A length of 0xffffffff marks a
// tombstone: a record a repair found destroyed, kept as a placeholder so
// that positions (sequence numbers) stay valid. The header's version lets
// a later release read this format; this release sets aside, untouched,
// segments of a version it does not know.
//
// # Why tidwall/wal, and how
//
// tidwall/wal provides the entry framing, the index-to-offset table and
// batch writes, and this package uses it for all segment reads and writes.
// Measured against the requirements, four of its behaviours had to be
// worked around rather than used:
//
//   - TruncateFront rewrites the remaining part of a segment on every call
//     (BenchmarkTidwallTruncateFront: about 25k records/s acknowledging
//     1000 records at a time on a 20 MB segment, against millions for
//     dropping whole segments). So each segment of this log is a tidwall
//     log of its own, in its own directory, which is removed whole once
//     every record in it is acknowledged. TruncateFront and TruncateBack
//     are never called.
//   - It holds a whole segment in memory while appending to it or reading
//     from it. Segments are therefore small (1 MiB by default) and tidwall
//     never cuts segments itself (its SegmentSize is set to the maximum);
//     the writer starts a new segment directory instead.
//   - Open fails on a torn tail (ErrCorrupt), and after a failed write its
//     in-memory state no longer matches the file. Every segment is checked
//     and repaired by this package's scanner before tidwall opens it (the
//     last one when the log opens, others lazily when a reader first finds
//     tidwall cannot parse them), and after a failed write the tail is cut
//     back to its last good size and reopened.
//   - It fsyncs inside Write, under its lock, and never fsyncs directories.
//     It runs with NoSync here; the writer fsyncs through its own
//     descriptor (fdatasync) once per group commit. Segment directories
//     are created whole: made under a temporary name, fsynced, renamed into
//     place, and the log directory fsynced. To keep that off the append
//     path, a background goroutine keeps one such spare directory (with an
//     empty, fsynced segment file) ready; starting a segment then costs a
//     rename and one directory fsync, and its header is written with its
//     first records.
//
// # Writing: group commit
//
// Group commit is leader/follower. Append queues its records and takes the
// writer lock; if the previous lock holder already wrote them, it returns
// their result; otherwise it becomes the leader and writes everything
// queued (up to 256 calls or 4 MiB) with one write(2) and, under
// SyncBatch, one fdatasync (a raw system call while the previous one
// returned within 2 ms: sync_linux.go), then makes the records visible to
// readers and wakes the other callers. While a leader waits for the disk,
// new Appends queue up for the next commit, so connectors appending
// concurrently share fsyncs, and a lone appender writes from its own
// goroutine with no hand-off. One Append's records are never split
// across segments; a failed write fails every Append in it and leaves none
// of their records behind (a crash in the middle of a write may leave a
// prefix of the last Append, which was never reported as stored).
//
// # Durability policies
//
//   - SyncBatch (default): Append returns after fdatasync. Nothing an
//     Append returned nil for is lost on power loss. Costs one fsync per
//     group commit: a few hundred per second on flash, shared by all
//     concurrent appenders.
//   - SyncInterval: Append returns after write(2); the writer fsyncs every
//     SyncInterval. A process crash loses nothing; a power cut loses up to
//     one interval. Fewer flash writes, much higher single-appender rate.
//   - SyncNever: no fsync of records at all (the kernel writes back within
//     about 30 s). A process crash loses nothing; a power cut may lose
//     whatever the kernel had not written. Segments are still fsynced when
//     sealed and created.
//
// Readers only see records that are written (and fsynced under SyncBatch),
// and when the log opens with a cursor ahead of the records found (possible
// after a power cut under the weaker policies) new records are numbered
// after the cursor, so an acknowledgement can never cover a record that was
// not delivered.
//
// # Reading and acknowledging
//
// Next hands out consecutive records after the last one handed out,
// waiting (without polling) until there are some; several batches may be
// in flight. Ack(seq) acknowledges everything up to seq: the position moves
// in memory, fully acknowledged segments are removed at once (freeing space
// on a full disk even before the cursor can be written), and a background
// goroutine writes the cursor file, taking the newest position each time
// so that acknowledgements arriving during a write share the next one.
// The file has two slots: a write goes in place into the slot not holding
// the newest value, then one fdatasync; a power cut during it can damage
// only that slot, and the other still holds the position before it. (The
// first write, and a write after a failure, creates the file through a
// temporary file, fsync, rename and a directory fsync. Releases before
// the two slots wrote one record replaced whole each time; that file is
// read and replaced at the first write. Such a release reads the
// two-slot file as damaged and delivers again from the oldest stored
// record: duplicates, nothing lost.) Under
// SyncInterval it writes at most every interval, under SyncNever at most
// every second and without fsync; Close writes it durably. Rewind makes
// Next start again after the last acknowledged record.
//
// Damaged records are skipped, never handed out, and a batch never spans
// one. Stats.Corrupt counts each damaged record once, plus one for each
// segment repaired.
//
// # Limits and overflow
//
// MaxBytes bounds the size of all segment files, MaxRecords the number of
// unacknowledged records. When an Append does not fit, DropOldest removes
// the oldest segments (counting their unacknowledged records in
// Stats.Dropped) until it does; RejectNew refuses the Append with ErrFull
// and counts its records as dropped. Space is freed a segment at a time, so
// SegmentBytes is also the granularity of dropping. An Append larger than
// half of MaxBytes, or than MaxRecords, is refused with ErrTooLarge.
//
// A disk that fills up before MaxBytes is reached makes Append fail with
// the file system's error (ENOSPC, or EFBIG under RLIMIT_FSIZE) and
// changes nothing stored; appends succeed again once space returns, for
// instance when acknowledgements remove segments.
//
// Memory is bounded by the segment size: the tail segment being written
// (tidwall keeps it in memory), the sealed segment being read (closed once
// the reader reaches the tail), and the batches in flight (each a copy of
// its records, so none keeps a segment's buffer alive), whatever the
// backlog.
package wal
