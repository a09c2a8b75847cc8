package odbc

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tbgw/tbgw/codec"
	"github.com/tbgw/tbgw/codec/conf"
	"github.com/tbgw/tbgw/codec/expr"
)

// plan is the validated configuration.
type plan struct {
	connStr   string
	target    *target // nil when the connection string names no built-in driver
	targetErr error

	query      string // with the driver's placeholders
	nparams    int    // iterator markers in query
	period     time.Duration
	timeout    time.Duration // without progress
	batch      int
	reconnect  bool
	reconnectP time.Duration

	iterColumn string
	iterValue  any    // configured start value (nil: none)
	iterQuery  string // query giving the start value
	persistent bool
	iterKey    string

	mapper   *mapper
	conv     *customConv // "converter": rows go through it instead of the mapping
	convWarn error       // the converter is not available

	unknownRPC  bool
	overrideRPC bool
	methods     map[string]*rpcMethod
}

func compile(doc *conf.Doc, cfg *fileConfig) (*plan, error) {
	p := &plan{batch: 500, period: 60 * time.Second, timeout: 60 * time.Second, reconnect: true, reconnectP: 60 * time.Second}
	if name, ccfg, err := parseConverter(cfg.Converter); err != nil {
		return nil, doc.Errorf("converter", "%v", err)
	} else if name != "" {
		var raw struct {
			Mapping json.RawMessage `json:"mapping"`
		}
		if err := json.Unmarshal(doc.Raw(), &raw); err != nil {
			return nil, doc.Errorf("mapping", "%v", err)
		}
		if p.conv, err = newCustomConv(name, ccfg, raw.Mapping); errors.Is(err, codec.ErrNoResolver) {
			// No Python here (e.g. `tbgw check` on a build machine): the
			// mapping's own datapoints, if any, are used instead.
			p.convWarn = err
		} else if err != nil {
			return nil, doc.Errorf("converter", "%v", err)
		}
	}
	c := &cfg.Connection
	if strings.TrimSpace(c.Str) == "" {
		return nil, doc.Errorf("connection.str", "is required")
	}
	p.connStr = c.Str
	if _, err := parseConnStr(c.Str); err != nil {
		return nil, doc.Errorf("connection.str", "%v", err)
	}
	// A driver that is not built in is reported when the connector runs,
	// so `tbgw check` on a small build still validates the rest.
	p.target, p.targetErr = resolve(c.Str)
	if c.Reconnect != nil {
		p.reconnect = *c.Reconnect
	}
	if c.ReconnectPeriod != nil {
		if *c.ReconnectPeriod <= 0 {
			return nil, doc.Errorf("connection.reconnectPeriod", "must be a positive number of seconds")
		}
		p.reconnectP = seconds(*c.ReconnectPeriod)
	}
	if t, ok := c.Attributes["timeout"]; ok {
		if f, ok := t.(float64); ok && f > 0 {
			p.timeout = seconds(f)
		}
	}

	pc := &cfg.Polling
	if strings.TrimSpace(pc.Query) == "" {
		return nil, doc.Errorf("polling.query", "is required")
	}
	kind := ""
	if p.target != nil {
		kind = p.target.kind
	}
	p.query, p.nparams = rewritePlaceholders(pc.Query, kind)
	if pc.Period != nil {
		if *pc.Period <= 0 {
			return nil, doc.Errorf("polling.period", "must be a positive number of seconds")
		}
		p.period = seconds(*pc.Period)
	}
	if pc.Timeout != nil {
		if *pc.Timeout <= 0 {
			return nil, doc.Errorf("polling.timeout", "must be a positive number of seconds")
		}
		p.timeout = seconds(*pc.Timeout)
	}
	if pc.BatchSize != nil {
		if *pc.BatchSize < 1 || *pc.BatchSize > 100000 {
			return nil, doc.Errorf("polling.batchSize", "must be 1..100000")
		}
		p.batch = *pc.BatchSize
	}
	if it := pc.Iterator; it != nil {
		p.iterColumn = strings.TrimSpace(it.Column)
		if p.iterColumn == "" {
			return nil, doc.Errorf("polling.iterator.column", "is required")
		}
		if len(it.Value) > 0 && string(it.Value) != "null" {
			var v any
			dec := json.NewDecoder(strings.NewReader(string(it.Value)))
			dec.UseNumber()
			if err := dec.Decode(&v); err != nil {
				return nil, doc.Errorf("polling.iterator.value", "%v", err)
			}
			if n, ok := v.(json.Number); ok {
				if i, err := n.Int64(); err == nil {
					v = i
				} else {
					v, _ = n.Float64()
				}
			}
			switch v.(type) {
			case int64, float64, string, bool:
			default:
				return nil, doc.Errorf("polling.iterator.value", "must be a number or a string")
			}
			p.iterValue = v
		} else if strings.TrimSpace(it.Query) != "" {
			p.iterQuery, _ = rewritePlaceholders(it.Query, kind)
		} else {
			return nil, doc.Errorf("polling.iterator", "needs value or query")
		}
		p.persistent = it.Persistent
		p.iterKey = iterKey(pc.Query, p.iterColumn)
	} else if p.nparams > 0 {
		return nil, doc.Errorf("polling.query", "has %d '?' markers but there is no iterator", p.nparams)
	}

	m := &mapper{iterColumn: p.iterColumn}
	if cfg.Mapping.Device.Name == "" {
		return nil, doc.Errorf("mapping.device.name", "is required")
	}
	var err error
	if m.name, err = expr.Compile(cfg.Mapping.Device.Name); err != nil {
		return nil, doc.Errorf("mapping.device.name", "%v", err)
	}
	if t := cfg.Mapping.Device.Type; t != "" {
		if m.typ, err = expr.Compile(t); err != nil {
			m.typ, m.typLit = nil, t // not an expression: the type itself
		}
	} else {
		m.typLit = "default"
	}
	if len(cfg.Mapping.ReportStrategy) > 0 {
		if m.report, err = strategy(cfg.Mapping.ReportStrategy); err != nil {
			return nil, doc.Errorf("mapping.reportStrategy", "%v", err)
		}
	}
	compileItems := func(it items, key string) ([]item, error) {
		var out []item
		for i, ic := range it.list {
			at := fmt.Sprintf("mapping.%s[%d]", key, i)
			x := item{name: ic.Name, column: ic.Column, report: m.report}
			switch {
			case ic.NameExpression != "":
				if x.nameExpr, err = expr.Compile(ic.NameExpression); err != nil {
					return nil, doc.Errorf(at+".nameExpression", "%v", err)
				}
			case ic.Name == "":
				return nil, doc.Errorf(at, "needs name or nameExpression")
			}
			switch {
			case ic.Column != "":
			case ic.Value != "":
				if x.value, err = expr.Compile(ic.Value); err != nil {
					return nil, doc.Errorf(at+".value", "%v", err)
				}
			default:
				return nil, doc.Errorf(at, "needs column or value")
			}
			if len(ic.ReportStrategy) > 0 {
				s, err := strategy(ic.ReportStrategy)
				if err != nil {
					return nil, doc.Errorf(at+".reportStrategy", "%v", err)
				}
				if s != nil {
					x.report = s
				}
			}
			out = append(out, x)
		}
		return out, nil
	}
	m.allAttrs, m.allTS = cfg.Mapping.Attributes.all, cfg.Mapping.Timeseries.all
	if m.attrs, err = compileItems(cfg.Mapping.Attributes, "attributes"); err != nil {
		return nil, err
	}
	if m.ts, err = compileItems(cfg.Mapping.Timeseries, "timeseries"); err != nil {
		return nil, err
	}
	if !m.allAttrs && !m.allTS && len(m.attrs) == 0 && len(m.ts) == 0 && p.conv == nil {
		if p.convWarn != nil {
			return nil, doc.Errorf("converter", "%v", p.convWarn)
		}
		return nil, doc.Errorf("mapping", "maps neither attributes nor timeseries")
	}
	p.mapper = m
	if p.convWarn != nil {
		p.convWarn = doc.Errorf("converter", "%v; the mapping's datapoints are used instead", p.convWarn)
	}

	p.methods = map[string]*rpcMethod{}
	if r := cfg.ServerSideRPC; r != nil {
		p.unknownRPC, p.overrideRPC = r.EnableUnknownRPC, r.OverrideRPCConfig
		for i, raw := range r.Methods {
			at := fmt.Sprintf("serverSideRpc.methods[%d]", i)
			var name string
			if json.Unmarshal(raw, &name) == nil {
				if name == "" {
					return nil, doc.Errorf(at, "empty method name")
				}
				p.methods[name] = &rpcMethod{Name: name}
				continue
			}
			var rm rpcMethod
			if err := json.Unmarshal(raw, &rm); err != nil {
				return nil, doc.Errorf(at, "want a procedure name or {name, args, query}: %v", err)
			}
			if rm.Name == "" {
				return nil, doc.Errorf(at+".name", "is required")
			}
			if len(rm.Args) == 0 {
				rm.Args = rm.Params
			}
			p.methods[rm.Name] = &rm
		}
	}
	return p, nil
}

func seconds(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }

func strategy(raw json.RawMessage) (*codec.Strategy, error) {
	var sc codec.StrategyConfig
	if err := json.Unmarshal(raw, &sc); err != nil {
		return nil, err
	}
	return sc.Strategy()
}
