// Package conf decodes JSON configuration files the way tbgw reports on
// them: a bad value of a known key is an error naming file, line:column and
// key path; an unknown key is a warning in the same form, never silent.
//
// A connector factory parses its file with [Parse], decodes it into its
// config struct with [Doc.Decode], logs the warnings, then validates enums
// and required keys and reports each problem with [Doc.Errorf]:
//
//	doc, err := conf.Parse("modbus.json", raw)
//	warns, err := doc.Decode(&cfg)
//	if cfg.Master.Slaves[0].UnitID == nil {
//		return doc.Errorf("master.slaves[0].unitId", "required")
//	}
//
// Paths use dots between keys and [n] for array elements, as in
// master.slaves[0].timeseries[3].type.
package conf

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
)

// Doc is a parsed configuration document.
type Doc struct {
	File string
	src  []byte
	once sync.Once
	offs map[string]int // key path -> byte offset where its value starts
	keys map[string]int // key path -> byte offset of the key itself
}

// Parse checks the syntax of src. The position of every value is indexed
// lazily, the first time a position is asked for, so that loading a large
// valid file costs little memory.
func Parse(file string, src []byte) (*Doc, error) {
	d := &Doc{File: file, src: src}
	var raw json.RawMessage
	if err := json.Unmarshal(src, &raw); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			off := int(se.Offset)
			if strings.Contains(se.Error(), "unexpected end") {
				return nil, fmt.Errorf("%s: unexpected end of file", d.at(len(src)))
			}
			return nil, fmt.Errorf("%s: syntax error: %v", d.at(off), se)
		}
		return nil, fmt.Errorf("%s: %v", d.File, err)
	}
	return d, nil
}

// ensureIndex records where every value and key starts.
func (d *Doc) ensureIndex() {
	d.once.Do(func() {
		d.offs, d.keys = map[string]int{}, map[string]int{}
		dec := json.NewDecoder(bytes.NewReader(d.src))
		dec.UseNumber()
		_ = d.index(dec, "") // the syntax was checked by Parse
	})
}

// index walks one value, recording where it starts.
func (d *Doc) index(dec *json.Decoder, path string) error {
	start := d.skipSpace(int(dec.InputOffset()))
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	d.offs[path] = start
	delim, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	switch delim {
	case '{':
		for dec.More() {
			kstart := d.skipSpace(int(dec.InputOffset()))
			if kstart < len(d.src) && d.src[kstart] == ',' {
				kstart = d.skipSpace(kstart + 1)
			}
			kt, err := dec.Token()
			if err != nil {
				return err
			}
			key, _ := kt.(string)
			p := join(path, key)
			d.keys[p] = kstart
			// The value starts after the colon.
			if err := d.index(dec, p); err != nil {
				return err
			}
		}
	case '[':
		for i := 0; dec.More(); i++ {
			if err := d.index(dec, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	}
	_, err = dec.Token() // closing delimiter
	return err
}

// skipSpace moves past white space, commas and colons to the next token.
func (d *Doc) skipSpace(i int) int {
	for i < len(d.src) {
		switch d.src[i] {
		case ' ', '\t', '\r', '\n', ':', ',':
			i++
		default:
			return i
		}
	}
	return i
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// at formats a byte offset as file:line:column (both 1-based).
func (d *Doc) at(off int) string {
	if off > len(d.src) {
		off = len(d.src)
	}
	if off < 0 {
		off = 0
	}
	line := 1 + bytes.Count(d.src[:off], []byte{'\n'})
	col := off - bytes.LastIndexByte(d.src[:off], '\n')
	return d.File + ":" + strconv.Itoa(line) + ":" + strconv.Itoa(col)
}

// Pos returns "file:line:column" of the value at path, or of the nearest
// enclosing value that exists (a missing key is reported at its parent).
func (d *Doc) Pos(path string) string {
	d.ensureIndex()
	for p := path; ; p = parent(p) {
		if off, ok := d.offs[p]; ok {
			return d.at(off)
		}
		if p == "" {
			return d.File
		}
	}
}

func parent(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}

// Has reports whether the document has a value at path.
func (d *Doc) Has(path string) bool {
	d.ensureIndex()
	_, ok := d.offs[path]
	return ok
}

// Error is a configuration problem at a position.
type Error struct {
	Pos  string // file:line:col
	Path string // key path, may be empty for the whole document
	Msg  string
}

func (e *Error) Error() string {
	if e.Path == "" {
		return e.Pos + ": " + e.Msg
	}
	return e.Pos + ": " + e.Path + ": " + e.Msg
}

// Errorf returns an *Error for the value at path.
func (d *Doc) Errorf(path, format string, args ...any) error {
	return &Error{Pos: d.Pos(path), Path: path, Msg: fmt.Sprintf(format, args...)}
}

// Raw returns the source bytes of the whole document.
func (d *Doc) Raw() []byte { return d.src }

// Decode unmarshals the document into v (a pointer to a struct). Type
// mismatches are returned as *Error. Keys that v has no field for are
// returned as warnings; values held by fields of interface, map,
// json.RawMessage or custom-unmarshaler type are not inspected.
func (d *Doc) Decode(v any) (warnings []error, err error) {
	if err := json.Unmarshal(d.src, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			path := d.pathAt(int(te.Offset), te.Field)
			return nil, &Error{Pos: d.at(d.valueStartBefore(int(te.Offset))), Path: path,
				Msg: fmt.Sprintf("wrong type: want %s, got %s", typeName(te.Type), te.Value)}
		}
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("%s: syntax error: %v", d.at(int(se.Offset)), se)
		}
		// Errors from custom unmarshalers carry no offset.
		return nil, fmt.Errorf("%s: %v", d.File, err)
	}
	var tree any
	dec := json.NewDecoder(bytes.NewReader(d.src))
	dec.UseNumber()
	if err := dec.Decode(&tree); err != nil {
		return nil, err
	}
	d.unknown(reflect.TypeOf(v), tree, "", &warnings)
	return warnings, nil
}

// valueStartBefore finds the start of the value that ends at offset off
// (encoding/json reports the offset after the offending value).
func (d *Doc) valueStartBefore(off int) int {
	d.ensureIndex()
	best := -1
	for _, o := range d.offs {
		if o < off && o > best {
			best = o
		}
	}
	if best < 0 {
		return off
	}
	return best
}

// pathAt picks the indexed path whose value starts right before off,
// falling back to encoding/json's dotted field name.
func (d *Doc) pathAt(off int, field string) string {
	start := d.valueStartBefore(off)
	bestPath, found := "", false
	for p, o := range d.offs {
		if o == start && (!found || len(p) > len(bestPath)) {
			bestPath, found = p, true
		}
	}
	if found {
		return bestPath
	}
	return field
}

func typeName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Map, reflect.Struct:
		return "object"
	}
	return t.String()
}

// CommonKeys are the top-level keys every connector file may carry. The
// gateway reads them itself, so Decode does not report them as unknown when
// the target struct has no field for them.
var CommonKeys = map[string]bool{
	"name": true, "id": true, "logLevel": true, "enableRemoteLogging": true,
	"reportStrategy": true, "configVersion": true,
}

var (
	unmarshalerType = reflect.TypeOf((*json.Unmarshaler)(nil)).Elem()
	rawType         = reflect.TypeOf(json.RawMessage(nil))
)

// unknown reports keys of tree that type t has no field for.
func (d *Doc) unknown(t reflect.Type, tree any, path string, out *[]error) {
	for t.Kind() == reflect.Pointer {
		if t.Implements(unmarshalerType) {
			return
		}
		t = t.Elem()
	}
	if t == rawType || reflect.PointerTo(t).Implements(unmarshalerType) || t.Implements(unmarshalerType) {
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		obj, ok := tree.(map[string]any)
		if !ok {
			return
		}
		fields := structFields(t)
		for k, v := range obj {
			f, ok := fields[k]
			if !ok {
				f, ok = fields[strings.ToLower(k)]
			}
			p := join(path, k)
			if !ok && path == "" && CommonKeys[k] {
				continue
			}
			if !ok {
				*out = append(*out, &Error{Pos: d.keyPos(p), Path: p, Msg: "unknown key, ignored"})
				continue
			}
			d.unknown(f, v, p, out)
		}
	case reflect.Slice, reflect.Array:
		arr, ok := tree.([]any)
		if !ok {
			return
		}
		for i, v := range arr {
			d.unknown(t.Elem(), v, fmt.Sprintf("%s[%d]", path, i), out)
		}
	case reflect.Map:
		obj, ok := tree.(map[string]any)
		if !ok {
			return
		}
		for k, v := range obj {
			d.unknown(t.Elem(), v, join(path, k), out)
		}
	}
}

func (d *Doc) keyPos(path string) string {
	d.ensureIndex()
	if off, ok := d.keys[path]; ok {
		return d.at(off)
	}
	return d.Pos(path)
}

var fieldCache sync.Map // reflect.Type -> map[string]reflect.Type

// structFields maps JSON names (exact and lower-cased) to field types,
// following embedded structs the way encoding/json does. Results are
// cached per type.
func structFields(t reflect.Type) map[string]reflect.Type {
	if m, ok := fieldCache.Load(t); ok {
		return m.(map[string]reflect.Type)
	}
	m := buildFields(t)
	fieldCache.Store(t, m)
	return m
}

func buildFields(t reflect.Type) map[string]reflect.Type {
	m := map[string]reflect.Type{}
	var walk func(reflect.Type)
	walk = func(t reflect.Type) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, _, _ := strings.Cut(tag, ",")
			ft := f.Type
			if f.Anonymous && name == "" {
				et := ft
				if et.Kind() == reflect.Pointer {
					et = et.Elem()
				}
				if et.Kind() == reflect.Struct {
					walk(et)
					continue
				}
			}
			if !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			m[name] = ft
			if _, ok := m[strings.ToLower(name)]; !ok {
				m[strings.ToLower(name)] = ft
			}
		}
	}
	walk(t)
	return m
}
