package odbc

import (
	"context"
	"database/sql"
	"fmt"
)

// iterator is the current value bound to the polling query's '?'.
type iterator struct {
	value any
	total uint64
	file  string // persisted here when not ""
	st    iterState
}

func (it *iterator) describe() string {
	if it == nil {
		return "none"
	}
	return fmt.Sprint(jsonValue(it.value))
}

// advance moves the iterator to v after rows were accepted and persists it.
func (it *iterator) advance(v any, rows uint64) error {
	it.value = v
	it.total += rows
	if it.file == "" {
		return nil
	}
	it.st.Value, it.st.Total = v, it.total
	return saveIter(it.file, &it.st)
}

// initIterator finds the start value: the persisted one, else the
// configured value, else the iterator query's result.
func (c *Connector) initIterator(ctx context.Context, db *sql.DB) (*iterator, error) {
	p := c.plan
	it := &iterator{}
	if p.iterColumn == "" {
		return it, nil
	}
	if p.persistent && c.env.DataDir != "" {
		it.file = iterFile(c.env.DataDir, p.target, c.env.Name, p.iterColumn)
		it.st = iterState{Name: p.iterColumn, Key: p.iterKey}
		st, err := loadIter(it.file, p.iterKey)
		if err != nil {
			c.log.Warn("odbc: iterator file unreadable, starting from the configuration", "err", err)
		} else if st != nil {
			it.value, it.total = st.Value, st.Total
			c.log.Info("odbc: iterator restored", "file", it.file, "value", it.describe())
			return it, nil
		}
	}
	if p.iterValue != nil {
		it.value = p.iterValue
		return it, nil
	}
	qctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	var v any
	if err := db.QueryRowContext(qctx, p.iterQuery).Scan(&v); err != nil {
		return nil, fmt.Errorf("iterator query: %w", err)
	}
	if v == nil {
		return nil, fmt.Errorf("iterator query returned NULL (an empty table?)")
	}
	it.value = cloneValue(v)
	return it, nil
}
