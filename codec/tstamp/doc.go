// Package tstamp reads the timestamps devices put in their messages into
// Unix milliseconds: epoch numbers in seconds, milliseconds, microseconds
// or nanoseconds, ISO-8601/RFC 3339, and the free forms upstream reads
// with python-dateutil ("10.11.25 10:35:12.123", "Jan 2 2024 5pm"),
// including its dayfirst/yearfirst rules for ambiguous dates.
//
//	ms, err := tstamp.Parse("02.01.2024 03:04:05", tstamp.Options{DayFirst: true})
//
// Deliberate differences from dateutil: an ISO date (YYYY-MM-DD,
// YYYYMMDD) is never reordered by DayFirst; numbers are Unix time, not
// date parts; unknown words are errors (no fuzzy mode).
package tstamp
