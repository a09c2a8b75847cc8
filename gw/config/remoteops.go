package config

// tbgw's own keys of the "thingsboard" section for remote operations
// (remote shell limits, gateway RPC commands, OTA). Upstream has no
// equivalent keys; its configurations load unchanged without them.

// ShellOptions is thingsboard.remoteShellOptions: limits of the remote
// shell that thingsboard.remoteShell switches on.
type ShellOptions struct {
	// TimeoutSeconds bounds each command (default 60).
	TimeoutSeconds int `json:"timeoutSeconds"`
	// MaxOutputBytes caps the output kept of each command (default 65536);
	// the rest is dropped and the truncation reported.
	MaxOutputBytes int `json:"maxOutputBytes"`
	// Allow, when not empty, lists the programs that may run; commands are
	// then split into words and run without a shell, so no metacharacter
	// can chain another program.
	Allow []string `json:"allow"`
}

// RPCCommands is thingsboard.rpcCommands: commands behind gateway RPCs.
type RPCCommands struct {
	// Reboot is the command gateway_reboot runs (argv); empty refuses it.
	Reboot []string `json:"reboot"`
	// Methods maps a custom method name to a command: gateway_<name>
	// runs it with the RPC params as JSON on stdin.
	Methods map[string][]string `json:"methods"`
	// Directory holds executables named after custom methods
	// (gateway_<name> runs <Directory>/<name>); relative to the
	// configuration directory.
	Directory string `json:"directory"`
	// TimeoutSeconds bounds each custom command (default 30).
	TimeoutSeconds int `json:"timeoutSeconds"`
}

// OTA is thingsboard.ota: over-the-air updates of tbgw itself.
type OTA struct {
	// Enabled switches updates on (default off; the -ota flag and
	// TB_GW_OTA=1 switch them on too).
	Enabled bool `json:"enabled"`
	// Title is the fw_title a firmware must carry (default "tbgw").
	Title string `json:"title"`
	// HealthCheckSeconds bounds the trial run of a new binary: it must be
	// connected to ThingsBoard with every connector running within this
	// time or the previous binary is restored (default 120).
	HealthCheckSeconds int `json:"healthCheckSeconds"`
	// Updater, when set, is the command (argv) that gets the verified
	// image as its last argument instead of the binary being replaced:
	// RAUC, SWUpdate, sysupgrade or a wrapper script.
	Updater []string `json:"updater"`
}
