package knx

import (
	"fmt"
	"strconv"
	"strings"
)

// Format is a group address notation (upstream "addressFormat").
type Format uint8

// Group address notations.
const (
	Long  Format = iota // main/middle/sub: 5/3/8 bits, "1/0/6"
	Short               // main/sub: 5/11 bits, "1/6"
	Free                // 16-bit number, "2566"
)

// ParseFormat reads LONG, SHORT or FREE (any case).
func ParseFormat(s string) (Format, error) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "", "LONG", "LEVEL3", "3LEVEL":
		return Long, nil
	case "SHORT", "LEVEL2", "2LEVEL":
		return Short, nil
	case "FREE":
		return Free, nil
	}
	return 0, fmt.Errorf("address format %q is not LONG, SHORT or FREE", s)
}

// Group is a 16-bit group address.
type Group uint16

// ParseGroup reads a group address in any notation: "a/b/c", "a/b" or a
// plain number. The format only decides how it is printed.
func ParseGroup(s string) (Group, error) {
	s = strings.TrimSpace(s)
	parts := strings.Split(s, "/")
	num := func(p string, max int) (int, error) {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > max {
			return 0, fmt.Errorf("group address %q: %q is not 0..%d", s, p, max)
		}
		return n, nil
	}
	switch len(parts) {
	case 3:
		a, err := num(parts[0], 31)
		if err != nil {
			return 0, err
		}
		b, err := num(parts[1], 7)
		if err != nil {
			return 0, err
		}
		c, err := num(parts[2], 255)
		if err != nil {
			return 0, err
		}
		return Group(a<<11 | b<<8 | c), nil
	case 2:
		a, err := num(parts[0], 31)
		if err != nil {
			return 0, err
		}
		b, err := num(parts[1], 2047)
		if err != nil {
			return 0, err
		}
		return Group(a<<11 | b), nil
	case 1:
		n, err := num(parts[0], 65535)
		return Group(n), err
	}
	return 0, fmt.Errorf("group address %q: want a/b/c, a/b or a number", s)
}

// Format prints g in notation f.
func (g Group) Format(f Format) string {
	switch f {
	case Short:
		return fmt.Sprintf("%d/%d", g>>11, g&0x7ff)
	case Free:
		return strconv.Itoa(int(g))
	}
	return fmt.Sprintf("%d/%d/%d", g>>11, (g>>8)&7, g&0xff)
}

func (g Group) String() string { return g.Format(Long) }

// Individual is a 16-bit individual (physical) address.
type Individual uint16

// ParseIndividual reads "area.line.device" (4/4/8 bits).
func ParseIndividual(s string) (Individual, error) {
	parts := strings.Split(strings.TrimSpace(s), ".")
	if len(parts) != 3 {
		return 0, fmt.Errorf("individual address %q: want area.line.device", s)
	}
	var v [3]int
	for i, max := range []int{15, 15, 255} {
		n, err := strconv.Atoi(parts[i])
		if err != nil || n < 0 || n > max {
			return 0, fmt.Errorf("individual address %q: %q is not 0..%d", s, parts[i], max)
		}
		v[i] = n
	}
	return Individual(v[0]<<12 | v[1]<<8 | v[2]), nil
}

func (a Individual) String() string {
	return fmt.Sprintf("%d.%d.%d", a>>12, (a>>8)&15, a&0xff)
}
