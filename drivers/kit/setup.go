package kit

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/tbgw/tbgw/codec/conf"
	"github.com/tbgw/tbgw/gw/connector"
)

// Setup is the preamble of a connector.Factory. It fills the defaults of
// env (a discarding logger, the real clock, the connector type as name,
// "<name>.json" as file name), parses raw with positions, decodes it into
// cfg (a pointer to the connector's configuration struct) and logs every
// unknown key as a warning. The returned document gives positioned
// validation errors through doc.Errorf; wrap them with env.Errorf.
func Setup(typ string, raw []byte, env *connector.Env, cfg any) (*conf.Doc, error) {
	if env.Log == nil {
		env.Log = slog.New(slog.DiscardHandler)
	}
	if env.Now == nil {
		env.Now = time.Now
	}
	if env.Type == "" {
		env.Type = typ
	}
	if env.Name == "" {
		env.Name = typ
	}
	if env.File == "" {
		env.File = env.Name + ".json"
	}
	doc, err := conf.Parse(env.File, raw)
	if err != nil {
		return nil, Errorf(*env, err)
	}
	warns, err := doc.Decode(cfg)
	if err != nil {
		return nil, Errorf(*env, err)
	}
	for _, w := range warns {
		env.Log.Warn(w.Error())
	}
	return doc, nil
}

// Errorf names the connector in a configuration error, once:
// `<type> connector "<name>": <err>`. Run's errors need no such prefix;
// the supervisor adds it.
func Errorf(env connector.Env, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s connector %q: %w", env.Type, env.Name, err)
}

// Skip handles an unusable entry of a configuration (err, made with
// conf.Doc.Errorf, names file:line:col and the key path): upstream skips
// such an entry and runs, so Skip logs it as a warning and returns nil, and
// the caller leaves the entry out. With env.Strict it returns err and the
// factory refuses the configuration.
func Skip(env connector.Env, err error) error {
	if env.Strict {
		return err
	}
	if env.Log != nil {
		env.Log.Warn(err.Error() + "; entry skipped")
	}
	return nil
}
