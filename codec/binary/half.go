package binary

import "math"

// halfToFloat converts IEEE 754 binary16 bits to a float64.
func halfToFloat(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	exp := int(h>>10) & 0x1f
	mant := float64(h & 0x3ff)
	switch exp {
	case 0:
		return sign * math.Ldexp(mant, -24)
	case 0x1f:
		if mant != 0 {
			return math.NaN()
		}
		return math.Inf(int(sign))
	}
	return sign * math.Ldexp(1024+mant, exp-25)
}

// floatToHalf rounds f to the nearest binary16 (ties to even). ok is false
// when a finite f overflows, which Python's struct.pack("e") rejects too.
func floatToHalf(f float64) (h uint16, ok bool) {
	var sign uint16
	if math.Signbit(f) {
		sign = 0x8000
	}
	switch {
	case math.IsNaN(f):
		return sign | 0x7e00, true
	case math.IsInf(f, 0):
		return sign | 0x7c00, true
	case f == 0:
		return sign, true
	}
	a := math.Abs(f)
	frac, exp := math.Frexp(a) // a = frac * 2^exp, frac in [0.5, 1)
	e := exp - 1               // a = 1.x * 2^e
	if e < -14 {
		// Subnormal: a multiple of 2^-24. Rounding up to 1024 yields the
		// smallest normal number, whose bits are the same integer.
		m := math.RoundToEven(math.Ldexp(a, 24))
		return sign | uint16(m), true
	}
	m := math.RoundToEven(math.Ldexp(frac, 11)) // 1024..2048
	if m == 2048 {
		m = 1024
		e++
	}
	if e > 15 {
		return 0, false
	}
	return sign | uint16(e+15)<<10 | uint16(m-1024), true
}
