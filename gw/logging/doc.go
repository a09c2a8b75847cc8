// Package logging is tbgw's log output: one slog.Handler that routes each
// record by logger name (service, tb_connection, storage, connector, ...)
// to the outputs upstream's logs.json (Python dictConfig) configures —
// the console, files rotated by size and time, syslog — with a level per
// logger, and that can be reconfigured while running (local logs.json
// change, remote logs_configuration).
//
// A record's logger is the value of its "component" attribute, or
// "connector" for records carrying a "connector" attribute, else
// "service". Attributes added with With replace earlier ones of the same
// key, so a key appears once per line.
//
// On the console, lines carry sd-daemon priority prefixes ("<6>") when
// standard error is the systemd journal (JOURNAL_STREAM), so journald
// records each line's level.
//
// Non-goals: Python formatter strings (tbgw formats its own text or JSON
// lines), arbitrary handler classes, log shipping other than syslog.
package logging
