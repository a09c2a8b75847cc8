package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"
)

// Exit codes. A configuration error has its own code so that a service
// manager does not restart into the same error (systemd:
// RestartPreventExitStatus=78).
const (
	exitOK      = 0
	exitRuntime = 1  // the gateway failed while running, or could not start
	exitUsage   = 2  // bad command line
	exitConfig  = 78 // EX_CONFIG of sysexits.h: the configuration is unusable
)

const (
	defaultConfigDir = "/etc/tbgw"
	defaultDataDir   = "/var/lib/tbgw"
	// defaultStatusSocket is where `tbgw status` looks unless told; the
	// shipped service files make the gateway listen there.
	defaultStatusSocket = "/run/tbgw/status.sock"
	// defaultOnceBound bounds `run -once` when -timeout is not given.
	defaultOnceBound = 30 * time.Second
)

// commands and what each does, in the order the usage lists them.
var commands = []struct{ name, help string }{
	{"run", "run the gateway (the default command)"},
	{"check", "check the configuration, the ThingsBoard client settings and the\n\t    storage without starting, connecting or writing anything"},
	{"status", "show the state of the running gateway (from its status socket)"},
	{"version", "print the version and the connectors built in"},
	{"help", "show this help"},
}

// options are the parsed command line, after the environment defaults.
type options struct {
	cmd       string
	dir       string
	dataDir   string
	strict    bool
	version   bool
	logFormat string
	ota       bool
	socket    string
	http      string
	once      bool
	dryRun    bool
	timeout   time.Duration
	json      bool
}

// flagCommands lists, for the flags that are not for every command, the
// commands they apply to.
var flagCommands = map[string][]string{
	"log-format":    {"run"},
	"ota":           {"run"},
	"http":          {"run"},
	"once":          {"run"},
	"dry-run":       {"run"},
	"timeout":       {"run"},
	"status-socket": {"run", "status"},
	"json":          {"status"},
}

func newFlagSet(o *options, getenv func(string) string) *flag.FlagSet {
	fs := flag.NewFlagSet("tbgw", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.StringVar(&o.dir, "c", "", "configuration directory (default $TB_GW_CONFIG_DIR, else "+defaultConfigDir+")")
	fs.StringVar(&o.dataDir, "data", "", "state directory: storage, connected devices, connector state\n(default $TB_GW_DATA_DIR, else "+defaultDataDir+")")
	fs.BoolVar(&o.strict, "strict", false, "refuse configurations with warnings (unknown keys, unusable entries)\ninstead of skipping; also $TB_GW_STRICT_CONFIG=1")
	fs.BoolVar(&o.version, "version", false, "print the version and exit")
	fs.StringVar(&o.logFormat, "log-format", "text", "run: log format, text or json")
	fs.BoolVar(&o.ota, "ota", envTrue(getenv("TB_GW_OTA")), "run: accept firmware updates of tbgw itself from ThingsBoard\n(default off; or $TB_GW_OTA=1)")
	fs.StringVar(&o.socket, "status-socket", getenv("TB_GW_STATUS_SOCKET"), "run: serve the state on this unix socket (default $TB_GW_STATUS_SOCKET;\noff when empty); status: read it there (default "+defaultStatusSocket+")")
	fs.StringVar(&o.http, "http", getenv("TB_GW_HTTP"), "run: serve /healthz, /readyz and Prometheus /metrics on this address\n(host:port, host defaults to 127.0.0.1; default $TB_GW_HTTP; off when empty)")
	fs.BoolVar(&o.dryRun, "dry-run", false, "run: run the connectors and print what would be sent to ThingsBoard\n(JSON lines on stdout) without connecting to it or writing state")
	fs.BoolVar(&o.once, "once", false, "run: like -dry-run, and exit once every connector has produced data\n(or after -timeout)")
	fs.DurationVar(&o.timeout, "timeout", 0, "run -once: give up after this long (default 30s); run -dry-run: stop after it")
	fs.BoolVar(&o.json, "json", false, "status: print the state as JSON")
	return fs
}

func envTrue(v string) bool {
	return v == "1" || strings.EqualFold(v, "true") || strings.EqualFold(v, "yes")
}

func isCommand(s string) bool {
	for _, c := range commands {
		if c.name == s {
			return true
		}
	}
	return false
}

// errHelp asks for the usage on stdout and exit 0.
var errHelp = errors.New("help")

// parseArgs parses the command line: flags before and after the command
// word, at most one command word, nothing else.
func parseArgs(args []string, getenv func(string) string) (*options, *flag.FlagSet, error) {
	o := &options{}
	fs := newFlagSet(o, getenv)
	rest := args
	for {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return o, fs, errHelp
			}
			return o, fs, err
		}
		rest = fs.Args()
		if len(rest) == 0 {
			break
		}
		if o.cmd != "" {
			return o, fs, fmt.Errorf("unexpected argument %q after command %q", rest[0], o.cmd)
		}
		if !isCommand(rest[0]) {
			return o, fs, fmt.Errorf("unknown command %q", rest[0])
		}
		o.cmd, rest = rest[0], rest[1:]
	}
	if o.cmd == "" {
		o.cmd = "run"
	}
	if o.cmd == "help" {
		return o, fs, errHelp
	}
	var bad error
	fs.Visit(func(f *flag.Flag) {
		if cmds, ok := flagCommands[f.Name]; ok && bad == nil && !contains(cmds, o.cmd) {
			bad = fmt.Errorf("flag -%s is for %s, not %s", f.Name, strings.Join(cmds, " and "), o.cmd)
		}
	})
	if bad != nil {
		return o, fs, bad
	}
	if o.once {
		o.dryRun = true
	}
	if o.timeout < 0 {
		return o, fs, fmt.Errorf("-timeout %v: must not be negative", o.timeout)
	}
	if o.timeout > 0 && !o.dryRun {
		return o, fs, errors.New("-timeout is for run -once and run -dry-run")
	}
	if o.logFormat != "text" && o.logFormat != "json" {
		return o, fs, fmt.Errorf("-log-format %q: want text or json", o.logFormat)
	}
	if o.dir == "" {
		o.dir = getenv("TB_GW_CONFIG_DIR")
	}
	if o.dir == "" {
		o.dir = defaultConfigDir
	}
	if o.dataDir == "" {
		o.dataDir = getenv("TB_GW_DATA_DIR")
	}
	if o.dataDir == "" {
		o.dataDir = defaultDataDir
	}
	if o.strict || envTrue(getenv("TB_GW_STRICT_CONFIG")) {
		o.strict = true
	}
	return o, fs, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// usage writes the commands and, when full, the flags.
func usage(w io.Writer, fs *flag.FlagSet, full bool) {
	fmt.Fprintln(w, "Usage: tbgw [command] [flags]")
	fmt.Fprintln(w, "\ntbgw is a ThingsBoard IoT Gateway: it bridges field devices into ThingsBoard")
	fmt.Fprintln(w, "through connectors configured with the upstream gateway's files.")
	fmt.Fprintln(w, "\nCommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s  %s\n", c.name, strings.ReplaceAll(c.help, "\n\t    ", "\n            "))
	}
	if !full {
		fmt.Fprintln(w, "\nRun 'tbgw -help' for the flags.")
		return
	}
	fmt.Fprintln(w, "\nFlags (before or after the command):")
	fs.VisitAll(func(f *flag.Flag) {
		name, help := flag.UnquoteUsage(f)
		fmt.Fprintf(w, "  %s\n", strings.TrimSpace("-"+f.Name+" "+name))
		for _, l := range strings.Split(help, "\n") {
			fmt.Fprintf(w, "      %s\n", l)
		}
	})
	fmt.Fprintln(w, "\nExit status: 0 success, 1 runtime error, 2 usage error, 78 configuration error.")
}
