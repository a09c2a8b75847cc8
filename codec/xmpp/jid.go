package xmpp

import (
	"errors"
	"strings"
	"unicode/utf8"
)

// JID is a Jabber identifier local@domain/resource.
type JID struct {
	Local, Domain, Resource string
}

// ParseJID splits s into its parts (RFC 7622 structure; no
// normalisation beyond lower-casing the domain).
func ParseJID(s string) (JID, error) {
	var j JID
	if s == "" || len(s) > 3071 || !utf8.ValidString(s) {
		return j, errors.New("jid: empty, too long or not UTF-8")
	}
	rest := s
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		j.Resource, rest = rest[i+1:], rest[:i]
		if j.Resource == "" {
			return j, errors.New("jid " + s + ": empty resource")
		}
	}
	if i := strings.IndexByte(rest, '@'); i >= 0 {
		j.Local, rest = rest[:i], rest[i+1:]
		if j.Local == "" {
			return j, errors.New("jid " + s + ": empty local part")
		}
		if strings.ContainsAny(j.Local, "\"&'/:<>@ ") {
			return j, errors.New("jid " + s + ": forbidden character in the local part")
		}
	}
	j.Domain = strings.ToLower(strings.TrimSuffix(rest, "."))
	if j.Domain == "" || strings.ContainsAny(j.Domain, "@/ ") {
		return j, errors.New("jid " + s + ": bad domain")
	}
	return j, nil
}

// Bare is local@domain.
func (j JID) Bare() string {
	if j.Local == "" {
		return j.Domain
	}
	return j.Local + "@" + j.Domain
}

func (j JID) String() string {
	if j.Resource == "" {
		return j.Bare()
	}
	return j.Bare() + "/" + j.Resource
}
