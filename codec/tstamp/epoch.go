package tstamp

import "math"

// FromNumber interprets a numeric timestamp as Unix time and returns
// milliseconds. The unit is guessed from the magnitude: below 1e11 it is
// seconds (until year 5138), below 1e14 milliseconds, below 1e17
// microseconds, else nanoseconds. Fractions are kept to the millisecond.
// ok is false for NaN, infinities and negative values.
func FromNumber(f float64) (int64, bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
		return 0, false
	}
	switch {
	case f < 1e11:
		return int64(math.Round(f * 1000)), true
	case f < 1e14:
		return int64(f), true
	case f < 1e17:
		return int64(f / 1e3), true
	case f < 9.2e21:
		return int64(f / 1e6), true
	}
	return 0, false
}
