package connector

import "github.com/tbgw/tbgw/codec/model"

// The data model is declared once, in codec/model; see its documentation.
type (
	// Strategy is a per-datapoint report strategy; nil on a Point means
	// inherit.
	Strategy = model.Strategy
	// Point is one datapoint.
	Point = model.Point
	// Data is the converted data of one device.
	Data = model.Data
)
