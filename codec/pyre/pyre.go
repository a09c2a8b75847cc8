// Package pyre compiles the Python-syntax regular expressions found in
// upstream configurations (topic expressions, device and attribute
// filters) once, and answers the few questions converters ask of them.
//
// Patterns that Go's regexp (RE2) accepts run on it, which is linear-time
// and allocation-light. Others, typically look-behind and look-ahead such
// as (?<=sensor/)(.*?)(?=/data), run on github.com/dlclark/regexp2 with a
// match timeout, so a pathological pattern cannot stall a connector.
//
//	re, err := pyre.Compile(`(?<=sensor/)(.*?)(?=/data)`)
//	name, ok := re.FindGroup("sensor/SN-1/data") // "SN-1", true
//
// Semantics follow Python's re module: Search finds a match anywhere,
// Match anchors at the start (re.match), FullMatch at both ends.
package pyre

import (
	"fmt"
	"regexp"
	"time"

	"github.com/dlclark/regexp2"
)

// Timeout bounds one backtracking match.
const Timeout = 100 * time.Millisecond

// Regex is a compiled pattern. It is safe for concurrent use.
type Regex struct {
	src    string
	re     *regexp.Regexp  // RE2-compatible patterns
	re2    *regexp2.Regexp // the rest
	anch   *regexp.Regexp  // re anchored at the start, for Match
	anch2  *regexp2.Regexp
	full   *regexp.Regexp
	full2  *regexp2.Regexp
	groups int
}

// Compile compiles a Python-syntax pattern.
func Compile(pattern string) (*Regex, error) {
	r := &Regex{src: pattern}
	if re, err := regexp.Compile(pattern); err == nil {
		r.re = re
		r.anch = regexp.MustCompile(`^(?:` + pattern + `)`)
		r.full = regexp.MustCompile(`^(?:` + pattern + `)$`)
		r.groups = re.NumSubexp()
		return r, nil
	}
	re2, err := compile2(pattern)
	if err != nil {
		return nil, fmt.Errorf("regular expression %q: %v", pattern, err)
	}
	r.re2 = re2
	if r.anch2, err = compile2(`\A(?:` + pattern + `)`); err != nil {
		return nil, fmt.Errorf("regular expression %q: %v", pattern, err)
	}
	if r.full2, err = compile2(`\A(?:` + pattern + `)\z`); err != nil {
		return nil, fmt.Errorf("regular expression %q: %v", pattern, err)
	}
	r.groups = len(re2.GetGroupNumbers()) - 1
	return r, nil
}

func compile2(p string) (*regexp2.Regexp, error) {
	re, err := regexp2.Compile(p, regexp2.RE2)
	if err != nil {
		return nil, err
	}
	re.MatchTimeout = Timeout
	return re, nil
}

// MustCompile is Compile that panics on error.
func MustCompile(pattern string) *Regex {
	r, err := Compile(pattern)
	if err != nil {
		panic(err)
	}
	return r
}

// String returns the source pattern.
func (r *Regex) String() string { return r.src }

// Search reports whether the pattern matches anywhere in s (re.search).
func (r *Regex) Search(s string) bool {
	if r.re != nil {
		return r.re.MatchString(s)
	}
	ok, err := r.re2.MatchString(s)
	return ok && err == nil
}

// Match reports whether the pattern matches at the start of s (re.match).
func (r *Regex) Match(s string) bool {
	if r.anch != nil {
		return r.anch.MatchString(s)
	}
	ok, err := r.anch2.MatchString(s)
	return ok && err == nil
}

// FullMatch reports whether the pattern matches all of s (re.fullmatch).
func (r *Regex) FullMatch(s string) bool {
	if r.full != nil {
		return r.full.MatchString(s)
	}
	ok, err := r.full2.MatchString(s)
	return ok && err == nil
}

// Find returns the text of the first match in s (group 0).
func (r *Regex) Find(s string) (string, bool) {
	if r.re != nil {
		loc := r.re.FindStringIndex(s)
		if loc == nil {
			return "", false
		}
		return s[loc[0]:loc[1]], true
	}
	m, err := r.re2.FindStringMatch(s)
	if err != nil || m == nil {
		return "", false
	}
	return m.String(), true
}

// FindGroup returns, for the first match in s, the text of the capturing
// group that closed last (Python's m.group(m.lastindex)), or the whole
// match when no group took part. This is how upstream converters read a
// device name or key out of a topic.
func (r *Regex) FindGroup(s string) (string, bool) {
	if r.re != nil {
		if r.groups == 0 {
			return r.Find(s)
		}
		loc := r.re.FindStringSubmatchIndex(s)
		if loc == nil {
			return "", false
		}
		best := 0
		for g := 1; g <= r.groups; g++ {
			if loc[2*g] >= 0 && (best == 0 || loc[2*g+1] > loc[2*best+1]) {
				best = g
			}
		}
		return s[loc[2*best]:loc[2*best+1]], true
	}
	m, err := r.re2.FindStringMatch(s)
	if err != nil || m == nil {
		return "", false
	}
	groups := m.Groups()
	best := 0
	bestEnd := -1
	for g := 1; g < len(groups); g++ {
		if len(groups[g].Captures) == 0 {
			continue
		}
		if end := groups[g].Index + groups[g].Length; best == 0 || end > bestEnd {
			best, bestEnd = g, end
		}
	}
	return groups[best].String(), true
}
