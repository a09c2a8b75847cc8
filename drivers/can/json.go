package can

import (
	"bytes"
	"encoding/json"
)

func jsonUnmarshal(raw []byte, v any) error { return json.Unmarshal(raw, v) }

// decodeJSON decodes with json.Number for numbers, so integers and floats
// stay apart as upstream's Python sees them.
func decodeJSON(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	return dec.Decode(v)
}
