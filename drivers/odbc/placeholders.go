package odbc

import (
	"strconv"
	"strings"
)

// rewritePlaceholders replaces the ODBC parameter markers '?' of query
// with the driver's own syntax (PostgreSQL $1, SQL Server @p1; MySQL and
// SQLite keep '?') and returns the number of markers. Markers inside
// string literals, quoted identifiers (SQL Server's [brackets] too),
// dollar-quoted strings and comments
// are left alone.
func rewritePlaceholders(query, kind string) (string, int) {
	var b strings.Builder
	n := 0
	i := 0
	for i < len(query) {
		c := query[i]
		switch {
		case c == '\'' || c == '"' || c == '`':
			j := skipQuoted(query, i, c, kind == "mysql")
			b.WriteString(query[i:j])
			i = j
		case c == '[' && kind == "sqlserver":
			// A bracketed identifier: [a?b], "]]" for ']'.
			j := skipQuoted(query, i, ']', false)
			b.WriteString(query[i:j])
			i = j
		case c == '-' && i+1 < len(query) && query[i+1] == '-':
			j := strings.IndexByte(query[i:], '\n')
			if j < 0 {
				j = len(query) - i
			}
			b.WriteString(query[i : i+j])
			i += j
		case c == '/' && i+1 < len(query) && query[i+1] == '*':
			j := strings.Index(query[i+2:], "*/")
			end := len(query)
			if j >= 0 {
				end = i + 2 + j + 2
			}
			b.WriteString(query[i:end])
			i = end
		case c == '$' && kind == "postgres":
			// A dollar-quoted string: $tag$ ... $tag$.
			if tag, ok := dollarTag(query, i); ok {
				j := strings.Index(query[i+len(tag):], tag)
				end := len(query)
				if j >= 0 {
					end = i + len(tag) + j + len(tag)
				}
				b.WriteString(query[i:end])
				i = end
				continue
			}
			b.WriteByte(c)
			i++
		case c == '?':
			n++
			switch kind {
			case "postgres":
				b.WriteString("$" + strconv.Itoa(n))
			case "sqlserver":
				b.WriteString("@p" + strconv.Itoa(n))
			default:
				b.WriteByte('?')
			}
			i++
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String(), n
}

// skipQuoted returns the index after the quoted text starting at i (a
// doubled quote is an escaped one, and with backslash a backslash escapes
// the next byte, as in MySQL); unterminated text runs to the end.
func skipQuoted(s string, i int, q byte, backslash bool) int {
	j := i + 1
	for j < len(s) {
		if s[j] == q {
			if j+1 < len(s) && s[j+1] == q {
				j += 2
				continue
			}
			return j + 1
		}
		if backslash && s[j] == '\\' && j+1 < len(s) {
			j += 2
			continue
		}
		j++
	}
	return len(s)
}

// dollarTag reads "$tag$" at i (tag: letters, digits, underscore, not
// starting with a digit; "$$" allowed).
func dollarTag(s string, i int) (string, bool) {
	j := i + 1
	for j < len(s) {
		c := s[j]
		if c == '$' {
			if j > i+1 && s[i+1] >= '0' && s[i+1] <= '9' {
				return "", false // $1 is a parameter
			}
			return s[i : j+1], true
		}
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80) {
			return "", false
		}
		j++
	}
	return "", false
}
