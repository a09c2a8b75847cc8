package rest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/url"
	"sort"
	"strings"
)

// maxFormFields bounds the members taken from a form or multipart body.
const maxFormFields = 1000

// requestObjects builds the JSON objects a request is converted from, as
// upstream does: path parameters, then the body's members, then the query
// (later ones win). A JSON object body gives its members; a JSON array
// one object per element (upstream takes the first only); a form its
// fields; anything else {"text": body}. It returns no object for a request
// with no data at all.
func requestObjects(method, contentType string, body []byte, path, query map[string]string) ([][]byte, error) {
	base := map[string]json.RawMessage{}
	for k, v := range path {
		base[k] = jsonString(v)
	}
	var bodies []map[string]json.RawMessage
	if method != "GET" && method != "HEAD" && len(bytes.TrimSpace(body)) > 0 {
		var err error
		if bodies, err = parseBody(contentType, body); err != nil {
			return nil, err
		}
	}
	if len(bodies) == 0 {
		if len(base) == 0 && len(query) == 0 {
			return nil, nil
		}
		bodies = []map[string]json.RawMessage{nil}
	}
	out := make([][]byte, 0, len(bodies))
	for _, b := range bodies {
		m := make(map[string]json.RawMessage, len(base)+len(b)+len(query))
		for k, v := range base {
			m[k] = v
		}
		for k, v := range b {
			m[k] = v
		}
		for k, v := range query {
			m[k] = jsonString(v)
		}
		enc, err := marshalObject(m)
		if err != nil {
			return nil, err
		}
		out = append(out, enc)
	}
	return out, nil
}

func jsonString(s string) json.RawMessage {
	b, _ := json.Marshal(s)
	return b
}

// marshalObject writes m with sorted keys.
func marshalObject(m map[string]json.RawMessage) ([]byte, error) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(jsonString(k))
		buf.WriteByte(':')
		buf.Write(m[k])
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

var errNoObjects = errors.New("JSON array without objects")

func parseBody(contentType string, body []byte) ([]map[string]json.RawMessage, error) {
	mt, params, _ := mime.ParseMediaType(contentType)
	switch mt {
	case "multipart/form-data":
		return parseMultipart(body, params["boundary"])
	case "application/x-www-form-urlencoded":
		vals, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, fmt.Errorf("form body: %w", err)
		}
		if len(vals) > maxFormFields {
			return nil, fmt.Errorf("form body: more than %d fields", maxFormFields)
		}
		m := map[string]json.RawMessage{}
		for k, v := range vals {
			m[k] = jsonString(v[0])
		}
		return []map[string]json.RawMessage{m}, nil
	}
	trimmed := bytes.TrimSpace(body)
	if json.Valid(trimmed) {
		switch trimmed[0] {
		case '{':
			var m map[string]json.RawMessage
			if err := json.Unmarshal(trimmed, &m); err != nil {
				return nil, err
			}
			return []map[string]json.RawMessage{m}, nil
		case '[':
			var list []json.RawMessage
			if err := json.Unmarshal(trimmed, &list); err != nil {
				return nil, err
			}
			var out []map[string]json.RawMessage
			for _, el := range list {
				var m map[string]json.RawMessage
				if json.Unmarshal(el, &m) == nil && m != nil {
					out = append(out, m)
				}
			}
			if len(out) == 0 {
				return nil, errNoObjects
			}
			return out, nil
		}
	}
	return []map[string]json.RawMessage{{"text": jsonString(string(body))}}, nil
}

func parseMultipart(body []byte, boundary string) ([]map[string]json.RawMessage, error) {
	if boundary == "" {
		return nil, errors.New("multipart body without boundary")
	}
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	m := map[string]json.RawMessage{}
	for n := 0; ; n++ {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("multipart body: %w", err)
		}
		if n >= maxFormFields {
			return nil, fmt.Errorf("multipart body: more than %d parts", maxFormFields)
		}
		if p.FileName() != "" || p.FormName() == "" {
			continue // file uploads are ignored, as upstream
		}
		v, err := io.ReadAll(p)
		if err != nil {
			return nil, fmt.Errorf("multipart body: %w", err)
		}
		ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		if ct == "application/json" && json.Valid(v) {
			var buf bytes.Buffer
			_ = json.Compact(&buf, v)
			m[p.FormName()] = buf.Bytes()
		} else {
			m[p.FormName()] = jsonString(strings.ToValidUTF8(string(v), "\uFFFD"))
		}
	}
	return []map[string]json.RawMessage{m}, nil
}
