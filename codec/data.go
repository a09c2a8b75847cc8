package codec

import "github.com/tbgw/tbgw/codec/model"

// The uplink data model, declared once in codec/model (the connector
// contract aliases the same types).
type (
	Strategy = model.Strategy
	Point    = model.Point
	Data     = model.Data
)
