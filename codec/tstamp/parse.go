package tstamp

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Options control how ambiguous dates are read.
type Options struct {
	// DayFirst reads 01/02/2024 as 1 February (upstream "dayfirst").
	DayFirst bool
	// YearFirst reads 10/11/12 as 2010-11-12 (upstream "yearfirst").
	YearFirst bool
	// Location is the zone of times written without one; nil: time.Local.
	Location *time.Location
	// Now supplies missing date parts and the century of two-digit years;
	// zero: the current time.
	Now time.Time
}

// ErrFormat is wrapped by every parse error.
var ErrFormat = errors.New("unrecognised timestamp")

// Parse reads a timestamp and returns Unix milliseconds. It accepts
// numbers (Unix time, unit by magnitude, see FromNumber), ISO-8601 and
// RFC 3339, and the free forms python-dateutil reads: dates of three
// numbers separated by - / . or space, month names, clock times with
// optional seconds, fraction, AM/PM and zone (Z, UTC, GMT, +hh, +hhmm,
// +hh:mm), weekday names, in any order.
func Parse(s string, o Options) (int64, error) {
	t, err := ParseTime(s, o)
	if err != nil {
		return 0, err
	}
	return t.UnixMilli(), nil
}

// ParseBytes is Parse for a byte slice.
func ParseBytes(b []byte, o Options) (int64, error) {
	if ms, ok := number(b); ok {
		return ms, nil
	}
	return Parse(string(b), o)
}

// number handles the common all-digits case without allocating.
func number(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var v int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	if v >= 1e11 && v < 1e14 {
		return v, true
	}
	return FromNumber(float64(v))
}

// ParseTime is Parse returning a time.Time.
func ParseTime(s string, o Options) (time.Time, error) {
	s = strings.TrimSpace(s)
	if o.Location == nil {
		o.Location = time.Local
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	if s == "" {
		return time.Time{}, fmt.Errorf("%w: empty", ErrFormat)
	}
	if isNumeric(s) {
		f, err := strconv.ParseFloat(s, 64)
		if err == nil {
			if ms, ok := FromNumber(f); ok {
				return time.UnixMilli(ms), nil
			}
		}
		return time.Time{}, fmt.Errorf("%w: %q", ErrFormat, s)
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	p := parser{s: s, o: o}
	t, err := p.parse()
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: %q: %v", ErrFormat, s, err)
	}
	return t, nil
}

func isNumeric(s string) bool {
	digits := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-':
		default:
			return false
		}
	}
	// "2024-01-02" and "10.11.25" are dates, not numbers.
	return digits > 0 && strings.Count(s, ".") <= 1 && strings.Count(s, "-") <= 1 &&
		(strings.IndexByte(s, '-') <= 0 || strings.ContainsAny(s, "eE"))
}

type ymdEntry struct {
	v     int
	label byte // 'Y', 'M', 'D' or 0
}

type parser struct {
	s string
	o Options

	ymd       []ymdEntry
	century   bool // a year was written with more than two digits
	iso       bool // YYYY-MM-DD or YYYYMMDD: never reordered
	hour, min int
	sec, nsec int
	haveClock bool
	ampm      int // 0 none, 1 am, 2 pm
	zone      *time.Location
	zoneOK    bool // the previous token was the clock or a zone name
}

var months = []string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}
var monthsLong = []string{"january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"}
var weekdays = []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "tues", "thur", "thurs"}

func (p *parser) addYMD(v int, label byte, ndigits int) error {
	if len(p.ymd) >= 3 {
		return errors.New("more than three date numbers")
	}
	if ndigits > 2 || v > 100 {
		if label != 0 && label != 'Y' {
			return errors.New("ambiguous date")
		}
		label = 'Y'
		p.century = true
	}
	p.ymd = append(p.ymd, ymdEntry{v: v, label: label})
	return nil
}

func (p *parser) parse() (time.Time, error) {
	s := p.s
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			j := i
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			had := p.haveClock
			p.zoneOK = false
			var err error
			i, err = p.numeric(i, j)
			if err != nil {
				return time.Time{}, err
			}
			p.zoneOK = p.haveClock && !had
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			j := i
			for j < len(s) && (s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z') {
				j++
			}
			p.zoneOK = false
			if err := p.word(s[i:j]); err != nil {
				return time.Time{}, err
			}
			i = j
		case (c == '+' || c == '-') && p.zoneOK && i+1 < len(s) && isDigit(s[i+1]):
			n, err := p.offset(i)
			if err != nil {
				return time.Time{}, err
			}
			p.zoneOK = false
			i = n
		case c == ' ' || c == ',' || c == '/' || c == '-' || c == '.' || c == '_' || c == '\t':
			i++
		default:
			return time.Time{}, fmt.Errorf("unexpected %q", c)
		}
	}
	return p.build()
}

// numeric handles the digit run s[i:j].
func (p *parser) numeric(i, j int) (int, error) {
	s := p.s
	tok := s[i:j]
	n := len(tok)
	// Clock: hh:mm[:ss[.frac]].
	if j < len(s) && s[j] == ':' && n <= 2 && !p.haveClock {
		return p.clock(i)
	}
	v, err := strconv.Atoi(tok)
	if err != nil {
		return j, err
	}
	// ISO date YYYY-MM-DD.
	if n == 4 && len(p.ymd) == 0 && j < len(s) && s[j] == '-' && isDigits(s, j+1, 2) &&
		j+3 < len(s) && s[j+3] == '-' && isDigits(s, j+4, 2) && (j+6 == len(s) || !isDigit(s[j+6])) {
		p.iso = true
		p.ymd = append(p.ymd, ymdEntry{v, 'Y'}, ymdEntry{atoi(s[j+1 : j+3]), 'M'}, ymdEntry{atoi(s[j+4 : j+6]), 'D'})
		p.century = true
		return j + 6, nil
	}
	switch {
	case (n == 8 || n == 12 || n == 14) && len(p.ymd) == 0:
		// YYYYMMDD[hhmm[ss]]
		p.iso = true
		p.century = true
		p.ymd = append(p.ymd, ymdEntry{atoi(tok[:4]), 'Y'}, ymdEntry{atoi(tok[4:6]), 'M'}, ymdEntry{atoi(tok[6:8]), 'D'})
		if n >= 12 {
			p.haveClock = true
			p.hour, p.min = atoi(tok[8:10]), atoi(tok[10:12])
			if n == 14 {
				p.sec = atoi(tok[12:14])
			}
			return p.fraction(j), nil
		}
		return j, nil
	case (n == 6 || n == 4) && i > 0 && (s[i-1] == 'T' || s[i-1] == 't') && !p.haveClock:
		// ...Thhmm[ss]
		p.haveClock = true
		p.hour, p.min = atoi(tok[:2]), atoi(tok[2:4])
		if n == 6 {
			p.sec = atoi(tok[4:6])
		}
		return p.fraction(j), nil
	case n == 6 && len(p.ymd) == 0:
		// YYMMDD
		p.ymd = append(p.ymd, ymdEntry{atoi(tok[:2]), 0}, ymdEntry{atoi(tok[2:4]), 0}, ymdEntry{atoi(tok[4:6]), 0})
		return j, nil
	case n > 4:
		return j, fmt.Errorf("unexpected number %s", tok)
	}
	// A bare hour followed by am/pm: "5pm", "5 pm".
	if k := skipSpace(s, j); n <= 2 && !p.haveClock && k < len(s) && isAMPM(s[k:]) {
		p.haveClock = true
		p.hour = v
		return j, nil
	}
	return j, p.addYMD(v, 0, n)
}

func isAMPM(s string) bool {
	w := strings.ToLower(s)
	for _, x := range []string{"am", "pm", "a.m.", "p.m."} {
		if strings.HasPrefix(w, x) && (len(w) == len(x) || !isAlpha(w[len(x)])) {
			return true
		}
	}
	return false
}

// clock parses hh:mm[:ss[.frac]] at i.
func (p *parser) clock(i int) (int, error) {
	s := p.s
	var parts [3]int
	k := 0
	for k < 3 {
		j := i
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		if j == i || j-i > 2 {
			return j, errors.New("bad clock time")
		}
		parts[k] = atoi(s[i:j])
		k++
		i = j
		if i < len(s) && s[i] == ':' && k < 3 {
			i++
			continue
		}
		break
	}
	if k < 2 {
		return i, errors.New("bad clock time")
	}
	p.haveClock = true
	p.hour, p.min, p.sec = parts[0], parts[1], parts[2]
	return p.fraction(i), nil
}

// fraction reads .ddd or ,ddd after seconds.
func (p *parser) fraction(i int) int {
	s := p.s
	if i+1 < len(s) && (s[i] == '.' || s[i] == ',') && isDigit(s[i+1]) {
		j := i + 1
		ns, scale := 0, 100000000
		for j < len(s) && isDigit(s[j]) {
			ns += int(s[j]-'0') * scale
			scale /= 10
			j++
		}
		p.nsec = ns
		return j
	}
	return i
}

// offset reads +hh, +hhmm or +hh:mm at i.
func (p *parser) offset(i int) (int, error) {
	s := p.s
	sign := 1
	if s[i] == '-' {
		sign = -1
	}
	j := i + 1
	k := j
	for k < len(s) && isDigit(s[k]) {
		k++
	}
	var h, m int
	switch k - j {
	case 1, 2:
		h = atoi(s[j:k])
		if k < len(s) && s[k] == ':' && isDigits(s, k+1, 2) {
			m = atoi(s[k+1 : k+3])
			k += 3
		}
	case 4:
		h, m = atoi(s[j:j+2]), atoi(s[j+2:k])
	default:
		return k, errors.New("bad zone offset")
	}
	if h > 23 || m > 59 {
		return k, errors.New("bad zone offset")
	}
	p.zone = time.FixedZone("", sign*(h*3600+m*60))
	return k, nil
}

func (p *parser) word(w string) error {
	l := strings.ToLower(w)
	switch l {
	case "t", "at", "on", "of", "the", "and", "st", "nd", "rd", "th":
		return nil
	case "z", "utc", "gmt", "ut":
		p.zone = time.UTC
		p.zoneOK = true
		return nil
	case "am", "a":
		p.ampm = 1
		p.zoneOK = p.haveClock
		return nil
	case "pm", "p":
		p.ampm = 2
		p.zoneOK = p.haveClock
		return nil
	case "m": // the "m" of "a.m."
		return nil
	}
	for i, m := range monthsLong {
		if l == m || l == months[i] || (l == "sept" && i == 8) {
			return p.addYMD(i+1, 'M', 0)
		}
	}
	for _, d := range weekdays {
		if l == d {
			return nil
		}
	}
	// A zone abbreviation after the clock (CET, EST): ignored, the time
	// is read as local, like dateutil does with unknown names.
	if p.haveClock && len(w) >= 3 && len(w) <= 5 && strings.ToUpper(w) == w {
		return nil
	}
	return fmt.Errorf("unknown word %q", w)
}

func (p *parser) build() (time.Time, error) {
	y, m, d, err := p.resolve()
	if err != nil {
		return time.Time{}, err
	}
	now := p.o.Now.In(p.o.Location)
	if y < 0 {
		y = now.Year()
	} else if y < 100 && !p.century {
		cy := now.Year()
		y += cy / 100 * 100
		if y >= cy+50 {
			y -= 100
		} else if y < cy-50 {
			y += 100
		}
	}
	if m < 0 {
		m = int(now.Month())
	}
	if d < 0 {
		d = now.Day()
	}
	if m < 1 || m > 12 {
		return time.Time{}, fmt.Errorf("month %d out of range", m)
	}
	if d < 1 || d > daysIn(y, m) {
		return time.Time{}, fmt.Errorf("day %d out of range", d)
	}
	h := p.hour
	switch p.ampm {
	case 1:
		if h == 12 {
			h = 0
		}
	case 2:
		if h < 12 {
			h += 12
		}
	}
	if p.ampm != 0 && (p.hour < 1 || p.hour > 12) && !(p.hour == 0 && p.ampm == 1) {
		return time.Time{}, fmt.Errorf("hour %d with am/pm", p.hour)
	}
	if h > 23 || p.min > 59 || p.sec > 59 {
		return time.Time{}, errors.New("clock time out of range")
	}
	loc := p.o.Location
	if p.zone != nil {
		loc = p.zone
	}
	return time.Date(y, time.Month(m), d, h, p.min, p.sec, p.nsec, loc), nil
}

// resolve orders the date numbers into year, month, day (-1: absent),
// following python-dateutil's rules.
func (p *parser) resolve() (y, m, d int, err error) {
	y, m, d = -1, -1, -1
	ymd := p.ymd
	n := len(ymd)
	yi, mi, di := -1, -1, -1
	labelled := 0
	for i, e := range ymd {
		switch e.label {
		case 'Y':
			yi = i
			labelled++
		case 'M':
			mi = i
			labelled++
		case 'D':
			di = i
			labelled++
		}
	}
	if n > 0 && (labelled == n || (n == 3 && labelled == 2)) {
		if n == 3 && labelled == 2 {
			used := map[int]bool{yi: true, mi: true, di: true}
			free := 0
			for used[free] {
				free++
			}
			switch {
			case yi < 0:
				yi = free
			case mi < 0:
				mi = free
			default:
				di = free
			}
		}
		if yi >= 0 {
			y = ymd[yi].v
		}
		if mi >= 0 {
			m = ymd[mi].v
		}
		if di >= 0 {
			d = ymd[di].v
		}
		return y, m, d, nil
	}
	v := func(i int) int { return ymd[i].v }
	df, yf := p.o.DayFirst, p.o.YearFirst
	switch {
	case n == 0:
	case n == 1 || (mi >= 0 && n == 2):
		other := v(0)
		if mi >= 0 {
			m = v(mi)
			oi := mi - 1
			if oi < 0 {
				oi = n - 1
			}
			other = v(oi)
		}
		if n > 1 || mi < 0 {
			if other > 31 {
				y = other
			} else {
				d = other
			}
		}
	case n == 2:
		switch {
		case v(0) > 31:
			y, m = v(0), v(1)
		case v(1) > 31:
			m, y = v(0), v(1)
		case df && v(1) <= 12:
			d, m = v(0), v(1)
		default:
			m, d = v(0), v(1)
		}
	case n == 3:
		switch mi {
		case 0:
			if v(1) > 31 {
				m, y, d = v(0), v(1), v(2)
			} else {
				m, d, y = v(0), v(1), v(2)
			}
		case 1:
			if v(0) > 31 || (yf && v(2) <= 31) {
				y, m, d = v(0), v(1), v(2)
			} else {
				d, m, y = v(0), v(1), v(2)
			}
		case 2:
			if v(1) > 31 {
				d, y, m = v(0), v(1), v(2)
			} else {
				y, d, m = v(0), v(1), v(2)
			}
		default:
			switch {
			case v(0) > 31 || yi == 0 || (yf && v(1) <= 12 && v(2) <= 31):
				if df && v(2) <= 12 && !p.iso {
					y, d, m = v(0), v(1), v(2)
				} else {
					y, m, d = v(0), v(1), v(2)
				}
			case v(0) > 12 || (df && v(1) <= 12):
				d, m, y = v(0), v(1), v(2)
			default:
				m, d, y = v(0), v(1), v(2)
			}
		}
	default:
		return 0, 0, 0, errors.New("more than three date numbers")
	}
	return y, m, d, nil
}

func daysIn(y, m int) int {
	return time.Date(y, time.Month(m)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func isDigits(s string, i, n int) bool {
	if i+n > len(s) {
		return false
	}
	for k := i; k < i+n; k++ {
		if !isDigit(s[k]) {
			return false
		}
	}
	return true
}

func atoi(s string) int {
	v := 0
	for i := 0; i < len(s); i++ {
		v = v*10 + int(s[i]-'0')
	}
	return v
}

func skipSpace(s string, i int) int {
	for i < len(s) && s[i] == ' ' {
		i++
	}
	return i
}
