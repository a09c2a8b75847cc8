// Package wal is a segmented write-ahead log for events that must survive
// network outages, power cuts and full disks.
package wal
