// Package expr is a small, sandboxed expression language for the places
// where upstream configurations evaluate Python: MQTT "useEval", CAN
// "expression"/"dataExpression", ODBC value and device-name expressions.
// It covers the Python expression subset such configurations use and
// nothing else: no statements, no attribute access beyond a fixed set of
// string methods, no imports, no loops other than bounded list
// comprehensions, bounded string and list sizes. Unsupported syntax is a
// compile error with a column, reported when the configuration loads.
//
//	p, err := expr.CompileVars("bool(value & 0b00000100)", "value", "can_data")
//	v, err := p.Eval(int64(5), frame)    // true
//
// # Language
//
// Values: None (also null), bool (True/False, true/false), int (int64),
// float (float64), str ('..' or "..", with \n \t \xNN \uNNNN escapes),
// bytes (from variables) and lists ([a, b]).
// Numbers: 42, 1_000, 0x1F, 0o17, 0b101, 1.5, 1e-3.
//
// Operators, loosest first:
//
//	a if c else b     c ? a : b
//	or  ||            (returns an operand, short-circuit)
//	and &&
//	not !
//	== != < <= > >= in, not in, is, is not   (chainable: 0 < x < 10)
//	|   ^   &   << >>
//	+ -               (str, bytes and list concatenation)
//	* / // %          (/ is true division; // and % floor, sign of divisor;
//	                   str/list * int repeats)
//	-x +x ~x
//	**                (right-associative; -2**2 == -4)
//	f(x) x[i] x[a:b] s.method()
//	[e for v in xs if cond]
//
// Functions: abs, min, max, round (half to even; round(x, n)), int
// (int(s, base)), float, str, bool, len, hex, bin, oct, pow, sqrt, floor,
// ceil, log, sum, any, all, ord, chr, bytes, list, sorted, and math.sqrt,
// math.exp, math.log, math.log10, math.log2, math.sin, math.cos, math.tan,
// math.fabs, math.floor, math.ceil, math.trunc, math.pow, math.isnan,
// math.pi, math.e, math.inf, math.nan, math.tau, divmod (a list), and
// int.from_bytes(b, byteorder, signed=...). Keyword arguments: round
// (number, ndigits) and int.from_bytes (bytes, byteorder, signed).
// String methods: upper, lower, strip, lstrip, rstrip, startswith,
// endswith, find, replace, split, join, isdigit, zfill, format ("{}",
// "{0}", "{:>8.2f}", "{:,}", "{:x}" ...); bytes: hex, decode.
// Formatting with %: "%.1f %s" % [a, b] (a list for Python's tuple), with
// flags, width, precision and the conversions s r d i u f F e E g G x X o c.
//
// Differences from Python: integers are 64-bit and overflow is an error;
// there are no tuples, dicts, sets or lambdas; str + int is an error as in
// Python (use str()). The forms upstream's sample configurations, tests and
// documentation use are vectors in testdata/python.jsonl, with the results
// CPython gives.
package expr
