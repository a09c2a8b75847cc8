// Command tbgw is a ThingsBoard IoT Gateway: it bridges field devices into
// ThingsBoard through connectors configured with the upstream gateway's
// configuration files.
//
//	tbgw [run] [-c DIR] [-data DIR]   run the gateway (config /etc/tbgw, state /var/lib/tbgw)
//	tbgw run -dry-run | -once         run the connectors, print what would be sent
//	tbgw check [-c DIR] [-data DIR]   check the configuration without starting anything
//	tbgw status                       show the state of the running gateway
//	tbgw version | --version          print the version
//	tbgw help | --help                list the commands and flags
//
// Exit status: 0 success, 1 runtime error, 2 usage error, 78 configuration
// error (EX_CONFIG).
package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	_ "github.com/tbgw/tbgw/drivers/all"
	"github.com/tbgw/tbgw/gw"
	"github.com/tbgw/tbgw/gw/connector"
)

// version is stamped at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	o, fs, err := parseArgs(args, os.Getenv)
	if errors.Is(err, errHelp) {
		usage(stdout, fs, true)
		return exitOK
	}
	if err != nil {
		fmt.Fprintln(stderr, "tbgw:", err)
		usage(stderr, fs, false)
		return exitUsage
	}
	if o.version || o.cmd == "version" {
		fmt.Fprintln(stdout, "tbgw", version, "connectors:", connector.Types())
		return exitOK
	}
	switch o.cmd {
	case "check":
		return check(o, stdout, stderr)
	case "status":
		return status(o, stdout, stderr)
	}
	return serve(o, stdout, stderr)
}

func check(o *options, stdout, stderr io.Writer) int {
	getenv := os.Getenv
	if o.strict {
		getenv = func(k string) string {
			if k == "TB_GW_STRICT_CONFIG" {
				return "1"
			}
			return os.Getenv(k)
		}
	}
	r := gw.Check(o.dir, o.dataDir, getenv)
	for _, w := range r.Warnings {
		fmt.Fprintln(stderr, "warning:", w)
	}
	for _, e := range r.Errors {
		fmt.Fprintln(stderr, "error:", e)
	}
	if len(r.Errors) > 0 {
		return exitConfig
	}
	fmt.Fprintf(stdout, "%s: configuration OK (%d connectors, data directory %s)\n", o.dir, len(r.Config.Connectors), o.dataDir)
	return exitOK
}
