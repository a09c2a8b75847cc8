package xmpp

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"
)

// Element is a generic XML element: a stanza or a stream-level element.
type Element struct {
	XMLName  xml.Name
	Attrs    []xml.Attr `xml:",any,attr"`
	Children []Element  `xml:",any"`
	Text     string     `xml:",chardata"`
}

// Attr returns the value of the attribute named local ("" if absent).
func (e *Element) Attr(local string) string {
	for _, a := range e.Attrs {
		if a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

// Child returns the first child named local, or nil.
func (e *Element) Child(local string) *Element {
	for i := range e.Children {
		if e.Children[i].XMLName.Local == local {
			return &e.Children[i]
		}
	}
	return nil
}

// Limits on one element.
const (
	MaxElementBytes = 1 << 20
	MaxDepth        = 32
)

// ErrTooLarge is returned for an element above MaxElementBytes or
// MaxDepth.
var ErrTooLarge = errors.New("xmpp: element too large or too deep")

// ParseElement decodes one element from b (for tests and fuzzing; the
// stream reader uses ReadElement).
func ParseElement(b []byte) (*Element, error) {
	if len(b) > MaxElementBytes {
		return nil, ErrTooLarge
	}
	d := xml.NewDecoder(bytes.NewReader(b))
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, err
		}
		if se, ok := tok.(xml.StartElement); ok {
			return ReadElement(d, se)
		}
	}
}

// ReadElement decodes the element whose start tag was just read, checking
// its depth.
func ReadElement(d *xml.Decoder, start xml.StartElement) (*Element, error) {
	e := &Element{XMLName: start.Name, Attrs: start.Attr}
	if err := readInto(d, e, 1); err != nil {
		return nil, err
	}
	return e, nil
}

func readInto(d *xml.Decoder, e *Element, depth int) error {
	if depth > MaxDepth {
		return ErrTooLarge
	}
	var text strings.Builder
	for {
		tok, err := d.Token()
		if err != nil {
			if err == io.EOF {
				return io.ErrUnexpectedEOF
			}
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			c := Element{XMLName: t.Name, Attrs: t.Attr}
			if err := readInto(d, &c, depth+1); err != nil {
				return err
			}
			e.Children = append(e.Children, c)
		case xml.CharData:
			if text.Len()+len(t) > MaxElementBytes {
				return ErrTooLarge
			}
			text.Write(t)
		case xml.EndElement:
			e.Text = text.String()
			return nil
		}
	}
}

// Escape returns s with XML special characters escaped, for text and
// attribute values. Characters XML 1.0 forbids become U+FFFD.
func Escape(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// AppendMessage appends a <message/> stanza of type chat with body and an
// optional thread.
func AppendMessage(dst []byte, to, id, thread, body string) []byte {
	dst = append(dst, "<message type='chat' to='"...)
	dst = append(dst, Escape(to)...)
	dst = append(dst, "' id='"...)
	dst = append(dst, Escape(id)...)
	dst = append(dst, "'><body>"...)
	dst = append(dst, Escape(body)...)
	dst = append(dst, "</body>"...)
	if thread != "" {
		dst = append(dst, "<thread>"...)
		dst = append(dst, Escape(thread)...)
		dst = append(dst, "</thread>"...)
	}
	return append(dst, "</message>"...)
}
