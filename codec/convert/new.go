package convert

import (
	"strings"

	"github.com/tbgw/tbgw/codec"
)

// New builds the uplink converter a converter block asks for by its
// "type": "json" (also when empty), "bytes", or "custom" (the converter
// registered with codec.RegisterUplink under "extension", given
// "extensionConfig" or the legacy "extension-config").
func New(cfg *Config, opt Options) (codec.Uplink, error) {
	switch strings.ToLower(cfg.Type) {
	case "", "json":
		return NewJSON(cfg, opt)
	case "bytes":
		return NewBytes(cfg, opt)
	case "custom":
		if cfg.Extension == "" {
			return nil, errf("extension", "required for a custom converter")
		}
		ext := cfg.ExtensionConfig
		if len(ext) == 0 {
			ext = cfg.LegacyExtensionConfig
		}
		u, err := codec.NewUplink(cfg.Extension, ext)
		if err != nil {
			return nil, errf("extension", "%v", err)
		}
		return u, nil
	}
	return nil, errf("type", "unknown converter type %q (want json, bytes or custom)", cfg.Type)
}

var (
	_ codec.Uplink = (*JSON)(nil)
	_ codec.Uplink = (*Bytes)(nil)
)
