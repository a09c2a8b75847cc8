package config

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"

	"github.com/tbgw/tbgw/codec/conf"
)

// Filter is the device filter of tb-gateway 6.6, with the allow list made
// effective: for a connector that has an allow list, only devices fully
// matching one of its patterns pass; a device fully matching a deny
// pattern of its connector never passes.
type Filter struct {
	deny, allow map[string][]*regexp.Regexp
}

// LoadFilter reads a filter file such as list.json.
func LoadFilter(path string) (*Filter, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("device filter: %w", err)
	}
	doc, err := conf.Parse(filepath.Base(path), src)
	if err != nil {
		return nil, err
	}
	var raw struct {
		Deny  map[string][]string `json:"deny"`
		Allow map[string][]string `json:"allow"`
	}
	if _, err := doc.Decode(&raw); err != nil {
		return nil, err
	}
	f := &Filter{deny: map[string][]*regexp.Regexp{}, allow: map[string][]*regexp.Regexp{}}
	compile := func(kind string, m map[string][]string, out map[string][]*regexp.Regexp) error {
		for conn, pats := range m {
			for i, p := range pats {
				re, err := regexp.Compile(`^(?:` + p + `)$`)
				if err != nil {
					return doc.Errorf(fmt.Sprintf("%s.%s[%d]", kind, conn, i), "bad pattern: %v", err)
				}
				out[conn] = append(out[conn], re)
			}
		}
		return nil
	}
	if err := compile("deny", raw.Deny, f.deny); err != nil {
		return nil, err
	}
	if err := compile("allow", raw.Allow, f.allow); err != nil {
		return nil, err
	}
	return f, nil
}

// Allowed reports whether device data of a connector may pass.
func (f *Filter) Allowed(connector, device string) bool {
	if f == nil {
		return true
	}
	for _, re := range f.deny[connector] {
		if re.MatchString(device) {
			return false
		}
	}
	allow, ok := f.allow[connector]
	if !ok {
		return true
	}
	for _, re := range allow {
		if re.MatchString(device) {
			return true
		}
	}
	return false
}
