package main

import (
	"strings"
	"unicode/utf8"
)

// lintCommon holds the whitespace rules every checked file follows (as
// check-package's: trailing space, consecutive and final empty lines, a
// newline at the end, valid UTF-8).
func lintCommon(_, text string, r report) {
	if text == "" {
		r.add(0, "empty file")
		return
	}
	if !utf8.ValidString(text) {
		r.add(0, "not valid UTF-8")
	}
	if !strings.HasSuffix(text, "\n") {
		r.add(0, "no newline at the end of the file")
	}
	ls := lines(text)
	prevEmpty := false
	for i, l := range ls {
		n := i + 1
		if strings.TrimRight(l, " \t") != l {
			r.add(n, "trailing whitespace")
		}
		empty := strings.TrimSpace(l) == ""
		if empty && prevEmpty {
			r.add(n, "consecutive empty lines")
		}
		prevEmpty = empty
	}
	if len(ls) > 0 && strings.TrimSpace(ls[len(ls)-1]) == "" {
		r.add(len(ls), "empty line at the end of the file")
	}
}
