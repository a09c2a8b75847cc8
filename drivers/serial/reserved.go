package serial

import (
	"context"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/tbgw/tbgw/drivers/kit/rpcparams"
	"github.com/tbgw/tbgw/gw/connector"
)

// reserved serves the reserved RPCs serial_set and serial_get (arriving as
// set and get) for methods not configured in serverSideRpc:
//
//	set  value=<text>; or hex=<bytes>;       writes them
//	get  [delimiter=<text>;] [type=<type>;] [timeout=<seconds>;] [value=<text>; | hex=<bytes>;]
//	     writes value or hex (if given), then answers {"result": <the next frame>}
//
// value takes the rest of the string (it may hold ';'), so it comes last.
// Text may use the escapes \n, \r, \t, \\ and \xHH.
func (c *Conn) reserved(ctx context.Context, d *device, req connector.RPC) (any, error) {
	p, err := rpcparams.FromJSON(req.Params, "value")
	if err != nil {
		return nil, err
	}
	var out []byte
	if h, ok := p.Get("hex"); ok {
		if out, err = hex.DecodeString(strings.TrimSpace(h)); err != nil {
			return nil, fmt.Errorf("hex: %v", err)
		}
	} else if v, ok := p.Get("value"); ok {
		if out, err = unescape(v); err != nil {
			return nil, fmt.Errorf("value: %v", err)
		}
	}
	if req.Method == "set" {
		if len(out) == 0 {
			return nil, fmt.Errorf(`set needs "value=<text>;" or "hex=<bytes>;"`)
		}
		if _, err := d.write(ctx, out, nil, 0); err != nil {
			return nil, err
		}
		return map[string]any{"success": true}, nil
	}
	delim := d.spec.delim
	if s, ok := p.Get("delimiter"); ok {
		if delim, err = unescape(s); err != nil || len(delim) == 0 {
			return nil, fmt.Errorf("delimiter: must be non-empty text")
		}
	}
	typ := strings.ToLower(p.String("type", "string"))
	if !knownTypes[typ] {
		return nil, fmt.Errorf("type: unknown type %q", typ)
	}
	secs, err := p.Float("timeout", 5)
	if err != nil || secs <= 0 || secs > 3600 {
		return nil, fmt.Errorf("timeout: want seconds between 0 and 3600")
	}
	w := &waiter{delim: delim, ch: make(chan []byte, 1)}
	f, err := d.write(ctx, out, w, time.Duration(secs*float64(time.Second)))
	if err != nil {
		return nil, err
	}
	v, err := parseValue(typ, trimSuffix(f, delim))
	if err != nil {
		return nil, fmt.Errorf("response %q: %w", clip(f), err)
	}
	return map[string]any{"result": v}, nil
}

// unescape resolves \n, \r, \t, \\ and \xHH.
func unescape(s string) ([]byte, error) {
	var b []byte
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 == len(s) {
			b = append(b, s[i])
			continue
		}
		i++
		switch s[i] {
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case '\\':
			b = append(b, '\\')
		case 'x':
			if i+3 > len(s) {
				return nil, fmt.Errorf(`\x needs two hex digits`)
			}
			v, err := hex.DecodeString(s[i+1 : i+3])
			if err != nil {
				return nil, fmt.Errorf(`\x needs two hex digits`)
			}
			b = append(b, v[0])
			i += 2
		default:
			b = append(b, '\\', s[i])
		}
	}
	return b, nil
}
