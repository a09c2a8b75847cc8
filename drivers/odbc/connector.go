package odbc

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/tbgw/tbgw/codec"
	"github.com/tbgw/tbgw/drivers/kit"
	"github.com/tbgw/tbgw/drivers/kit/backoff"
	"github.com/tbgw/tbgw/gw/connector"
)

func init() { connector.Register("odbc", New) }

// Connector polls a database with a query and serves RPCs as stored
// procedures or queries.
type Connector struct {
	env   connector.Env
	log   *slog.Logger
	plan  *plan
	stats kit.Counters

	mu sync.Mutex
	db *sql.DB // while Run is connected
}

var (
	_ connector.Connector  = (*Connector)(nil)
	_ connector.RPCHandler = (*Connector)(nil)
	_ connector.Statser    = (*Connector)(nil)
)

// New is the connector.Factory of the "odbc" type: it parses and
// validates config without connecting.
func New(config []byte, env connector.Env) (connector.Connector, error) {
	var cfg fileConfig
	doc, err := kit.Setup("odbc", config, &env, &cfg)
	if err != nil {
		return nil, err
	}
	p, err := compile(doc, &cfg)
	if err != nil {
		return nil, kit.Errorf(env, err)
	}
	if p.targetErr != nil {
		env.Log.Warn("odbc: " + p.targetErr.Error())
	}
	if p.convWarn != nil {
		env.Log.Warn("odbc: " + p.convWarn.Error())
	}
	return &Connector{env: env, log: env.Log, plan: p}, nil
}

// Stats reports the connector's counters.
func (c *Connector) Stats() map[string]uint64 { return c.stats.Stats() }

// errStorage marks a poll stopped because the event storage refused rows;
// the iterator stays at the last accepted row.
var errStorage = errors.New("event storage refused data")

// Run connects, initialises the iterator and polls until ctx ends. A lost
// or failing database is retried with a back-off from 1 s up to
// reconnectPeriod.
func (c *Connector) Run(ctx context.Context, sink connector.Sink) error {
	p := c.plan
	if p.targetErr != nil {
		return p.targetErr
	}
	db, err := openDB(c)
	if err != nil {
		return err
	}
	defer db.Close()

	bo := backoff.Policy{Min: min(time.Second, p.reconnectP), Max: p.reconnectP}.New()
	retry := func(what string, err error) error {
		c.stats.Add("errors", 1)
		if !p.reconnect {
			return fmt.Errorf("%s: %w", what, err)
		}
		d := bo.Next()
		c.log.Warn("odbc: "+what+" failed", "err", err, "retryIn", d.Round(time.Millisecond))
		return backoff.Sleep(ctx, d)
	}

	// Connect and find where to start.
	var it *iterator
	for {
		if err := c.ping(ctx, db); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if err := retry("connect to "+p.target.server, err); err != nil {
				return err
			}
			if ctx.Err() != nil {
				return nil
			}
			continue
		}
		if it, err = c.initIterator(ctx, db); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if err := retry("initialise iterator", err); err != nil {
				return err
			}
			if ctx.Err() != nil {
				return nil
			}
			continue
		}
		break
	}
	c.log.Info("odbc: connected", "db", p.target.kind, "server", p.target.server, "iterator", it.describe())
	c.mu.Lock()
	c.db = db
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.db = nil
		c.mu.Unlock()
	}()

	for {
		n, advanced, err := c.poll(ctx, db, it, sink)
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, errStorage):
			if err := backoff.Sleep(ctx, p.period); err != nil {
				return nil
			}
			continue
		case err != nil:
			if err := retry("poll", err); err != nil {
				return err
			}
			continue
		}
		bo.Reset()
		c.log.Debug("odbc: poll done", "rows", n, "iterator", it.describe())
		if n > 0 && advanced && p.nparams > 0 {
			continue // more rows may be waiting: poll again at once
		}
		if err := backoff.Sleep(ctx, p.period); err != nil {
			return nil
		}
	}
}

// openDB opens the connection pool (no I/O yet).
func openDB(c *Connector) (*sql.DB, error) {
	p := c.plan
	db, err := sql.Open(p.target.driver, p.target.dsn)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", p.target.kind, err)
	}
	db.SetMaxOpenConns(2) // one for polling, one for RPCs
	db.SetMaxIdleConns(2)
	db.SetConnMaxIdleTime(5 * time.Minute)
	return db, nil
}

func (c *Connector) ping(ctx context.Context, db *sql.DB) error {
	ctx, cancel := context.WithTimeout(ctx, c.plan.timeout)
	defer cancel()
	return db.PingContext(ctx)
}

// poll runs the query once, streaming its rows: they are converted and
// sent in batches, and the iterator advances to the last row of each batch
// the storage accepted. It returns the rows read and whether the iterator
// moved. A query is cancelled when it makes no progress for the timeout.
func (c *Connector) poll(ctx context.Context, db *sql.DB, it *iterator, sink connector.Sink) (int, bool, error) {
	p := c.plan
	qctx, cancel := context.WithCancel(ctx)
	defer cancel()
	watchdog := time.AfterFunc(p.timeout, cancel)
	defer watchdog.Stop()

	args := make([]any, p.nparams)
	for i := range args {
		args[i] = it.value
	}
	c.stats.Add("polls", 1)
	rows, err := db.QueryContext(qctx, p.query, args...)
	if err != nil {
		return 0, false, c.queryErr(ctx, qctx, err)
	}
	defer rows.Close()
	names, err := rows.Columns()
	if err != nil {
		return 0, false, err
	}
	types, err := rows.ColumnTypes()
	if err != nil {
		return 0, false, err
	}
	kinds := make([]string, len(types))
	for i, t := range types {
		kinds[i] = strings.ToUpper(t.DatabaseTypeName())
	}
	cols, err := p.mapper.bind(names, kinds)
	if err != nil {
		return 0, false, err
	}
	raw := make([]any, len(names))
	ptrs := make([]any, len(names))
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	batch := make([]codec.Data, 0, min(p.batch, 1024))
	var last any
	n, advanced := 0, false
	flush := func() error {
		if len(batch) == 0 && last == nil {
			return nil
		}
		watchdog.Stop() // the storage's time is not the query's
		if len(batch) > 0 {
			if err := sink.Send(ctx, batch); err != nil {
				if errors.Is(err, connector.ErrStorageFull) {
					c.stats.Add("storageFull", 1)
					c.log.Warn("odbc: event storage full; polling again later from the same row")
					return errStorage
				}
				return err
			}
			c.stats.Add("itemsSent", uint64(len(batch)))
		}
		if last != nil {
			if err := it.advance(last, uint64(len(batch))); err != nil {
				c.log.Warn("odbc: cannot save the iterator", "err", err)
			}
			advanced = true
		}
		batch, last = batch[:0], nil
		watchdog.Reset(p.timeout)
		return nil
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return n, advanced, err
		}
		n++
		c.stats.Add("rowsRead", 1)
		if p.conv != nil {
			ds, err := cols.convertCustom(p.conv, raw)
			if err != nil {
				c.stats.Add("rowsDropped", 1)
				c.log.Warn("odbc: row dropped", "err", err)
			}
			batch = append(batch, ds...)
		} else {
			d, skipped, err := cols.convert(raw)
			for _, s := range skipped {
				c.stats.Add("itemsSkipped", 1)
				c.log.Debug("odbc: value skipped", "err", s)
			}
			if err != nil {
				c.stats.Add("rowsDropped", 1)
				c.log.Warn("odbc: row dropped", "err", err)
			} else {
				batch = append(batch, d)
			}
		}
		if cols.iterCol >= 0 && raw[cols.iterCol] != nil {
			last = cloneValue(raw[cols.iterCol])
		}
		if len(batch) >= p.batch {
			if err := flush(); err != nil {
				return n, advanced, err
			}
		} else if n%256 == 0 {
			watchdog.Reset(p.timeout)
		}
	}
	if err := rows.Err(); err != nil {
		return n, advanced, c.queryErr(ctx, qctx, err)
	}
	return n, advanced, flush()
}

// queryErr names a watchdog cancellation as a timeout.
func (c *Connector) queryErr(ctx, qctx context.Context, err error) error {
	if ctx.Err() == nil && qctx.Err() != nil {
		return fmt.Errorf("query made no progress for %v (polling.timeout): %w", c.plan.timeout, err)
	}
	return err
}

// cloneValue copies driver-owned bytes.
func cloneValue(v any) any {
	if b, ok := v.([]byte); ok {
		return string(b)
	}
	return v
}
