package mqtt

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/tbgw/tbgw/codec"
)

// The example custom converter that upstream ships with its MQTT sample
// configuration ("extension": "CustomMqttUplinkConverter"), so that the
// sample loads and runs unchanged.
func init() {
	codec.RegisterUplink("CustomMqttUplinkConverter", newHexUplink)
}

// hexUplink reads a hex payload ("0x1A2B..." or "1a2b...") as a sequence
// of fields: every extensionConfig member "<name>": n consumes n bytes
// and reports time series <name> (a "Bytes" suffix removed) as the last of
// them, as upstream's example does. Without a configuration the payload is
// one integer "data" (Python int(body, 0)). The device is the last topic
// level, its profile "Thermostat".
type hexUplink struct {
	fields []hexField
}

type hexField struct {
	key string
	n   int
}

func newHexUplink(cfg json.RawMessage) (codec.Uplink, error) {
	u := &hexUplink{}
	if len(bytes.TrimSpace(cfg)) == 0 || string(bytes.TrimSpace(cfg)) == "null" {
		return u, nil
	}
	dec := json.NewDecoder(bytes.NewReader(cfg))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, fmt.Errorf("extensionConfig must be an object")
	}
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return nil, err
		}
		var n json.Number
		if err := dec.Decode(&n); err != nil {
			return nil, fmt.Errorf("extensionConfig.%v: want a byte count", kt)
		}
		c, err := strconv.Atoi(string(n))
		if err != nil || c < 0 {
			return nil, fmt.Errorf("extensionConfig.%v: want a byte count", kt)
		}
		u.fields = append(u.fields, hexField{key: strings.ReplaceAll(kt.(string), "Bytes", ""), n: c})
	}
	return u, nil
}

func (u *hexUplink) Convert(topic string, payload []byte, nowMs int64) ([]codec.Data, error) {
	name := topic[strings.LastIndexByte(topic, '/')+1:]
	if name == "" {
		return nil, fmt.Errorf("no device name in topic %q", topic)
	}
	body := strings.TrimSpace(string(payload))
	d := codec.Data{Device: name, Type: "Thermostat"}
	if len(u.fields) == 0 {
		v, err := strconv.ParseInt(body, 0, 64)
		if err != nil {
			return nil, fmt.Errorf("payload is not an integer: %w", err)
		}
		d.Telemetry = []codec.Point{{Key: "data", Value: v, TS: nowMs}}
		return []codec.Data{d}, nil
	}
	raw, err := hex.DecodeString(strings.ReplaceAll(body, "0x", ""))
	if err != nil {
		return nil, fmt.Errorf("payload is not hex: %w", err)
	}
	for _, f := range u.fields {
		if f.n == 0 {
			continue
		}
		k := min(f.n, len(raw))
		if k == 0 {
			break
		}
		d.Telemetry = append(d.Telemetry, codec.Point{Key: f.key, Value: int64(raw[k-1]), TS: nowMs})
		raw = raw[k:]
	}
	if len(d.Telemetry) == 0 {
		return nil, nil
	}
	return []codec.Data{d}, nil
}
