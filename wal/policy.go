package wal

import "fmt"

// Overflow is what happens when an append does not fit into the limits.
type Overflow uint8

const (
	// DropOldest discards the oldest records (acknowledged or not) to make
	// room; each discarded unacknowledged record is counted as dropped.
	DropOldest Overflow = iota
	// RejectNew refuses the append with ErrFull and counts the rejected
	// records as dropped; stored records are kept.
	RejectNew
)

// String returns the configuration spelling of o.
func (o Overflow) String() string {
	switch o {
	case DropOldest:
		return "drop_oldest"
	case RejectNew:
		return "reject_new"
	}
	return fmt.Sprintf("Overflow(%d)", uint8(o))
}

// ParseOverflow parses "drop_oldest" (or "") and "reject_new".
func ParseOverflow(s string) (Overflow, error) {
	switch s {
	case "", "drop_oldest":
		return DropOldest, nil
	case "reject_new":
		return RejectNew, nil
	}
	return 0, fmt.Errorf("overflow %q: want drop_oldest or reject_new", s)
}
