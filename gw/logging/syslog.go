package logging

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"log/syslog"
	"net"
	"strconv"
	"strings"
)

var facilities = map[string]syslog.Priority{
	"kern": syslog.LOG_KERN, "user": syslog.LOG_USER, "mail": syslog.LOG_MAIL, "daemon": syslog.LOG_DAEMON,
	"auth": syslog.LOG_AUTH, "syslog": syslog.LOG_SYSLOG, "lpr": syslog.LOG_LPR, "news": syslog.LOG_NEWS,
	"uucp": syslog.LOG_UUCP, "cron": syslog.LOG_CRON, "authpriv": syslog.LOG_AUTHPRIV,
	"local0": syslog.LOG_LOCAL0, "local1": syslog.LOG_LOCAL1, "local2": syslog.LOG_LOCAL2, "local3": syslog.LOG_LOCAL3,
	"local4": syslog.LOG_LOCAL4, "local5": syslog.LOG_LOCAL5, "local6": syslog.LOG_LOCAL6, "local7": syslog.LOG_LOCAL7,
}

// dialSyslog connects as upstream's SysLogHandler address says: a socket
// path ("/dev/log"), ["host", port] (UDP), or nothing (the local daemon).
func dialSyslog(spec HandlerSpec, tag string) (*syslog.Writer, error) {
	fac := syslog.LOG_USER // Python's default
	if len(spec.Facility) > 0 {
		var s string
		if json.Unmarshal(spec.Facility, &s) == nil {
			f, ok := facilities[strings.ToLower(s)]
			if !ok {
				return nil, fmt.Errorf("unknown syslog facility %q", s)
			}
			fac = f
		} else if n, err := strconv.Atoi(string(spec.Facility)); err == nil {
			fac = syslog.Priority(n << 3) // Python's numbers are facility codes
		}
	}
	network, addr := "", ""
	if len(spec.Address) > 0 {
		var path string
		var hp []json.RawMessage
		switch {
		case json.Unmarshal(spec.Address, &path) == nil:
			network, addr = "unixgram", path
		case json.Unmarshal(spec.Address, &hp) == nil && len(hp) == 2:
			var host string
			var port int
			if json.Unmarshal(hp[0], &host) != nil || json.Unmarshal(hp[1], &port) != nil {
				return nil, fmt.Errorf("syslog address %s: want [\"host\", port]", spec.Address)
			}
			network, addr = "udp", net.JoinHostPort(host, strconv.Itoa(port))
		default:
			return nil, fmt.Errorf("syslog address %s: want a socket path or [\"host\", port]", spec.Address)
		}
	}
	return syslog.Dial(network, addr, fac|syslog.LOG_INFO, tag)
}

// syslogWrite sends one line at the severity of level.
func syslogWrite(w *syslog.Writer, level slog.Level, line string) error {
	switch {
	case level >= slog.LevelError+4:
		return w.Crit(line)
	case level >= slog.LevelError:
		return w.Err(line)
	case level >= slog.LevelWarn:
		return w.Warning(line)
	case level >= slog.LevelInfo:
		return w.Info(line)
	}
	return w.Debug(line)
}
