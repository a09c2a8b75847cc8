package bacnet

import (
	"bytes"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// EDE (Engineering Data Exchange) files list a site's devices and objects
// as CSV: comment lines start with '#', the column header is the line
// starting with "# keyname", and each row is one object with its
// "device obj.-instance", "object-name", "object-type" and
// "object-instance". Upstream reads them from edeFilePath (';'-separated)
// or from edeConfig (the file base64-encoded); the delimiter is taken from
// the header line here, so either form works for both keys.

// edeDevices turns an EDE file into device sections: one per device
// object (type 8) that has objects of the analog and binary types, found
// by its instance, named by its object name, reading the presentValue of
// each object under the object's name.
func edeDevices(data []byte) ([]deviceConfig, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	delim := ','
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "# keyname") || strings.HasPrefix(strings.TrimSpace(line), "#keyname") {
			if strings.Count(line, ";") > strings.Count(line, ",") {
				delim = ';'
			}
			break
		}
	}
	r := csv.NewReader(bytes.NewReader(data))
	r.Comma = delim
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	rows, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("EDE: %w", err)
	}
	var headers []string
	var objs []map[string]string
	for _, row := range rows {
		if len(row) == 0 || strings.TrimSpace(strings.Join(row, "")) == "" {
			continue
		}
		first := strings.TrimSpace(row[0])
		if strings.HasPrefix(first, "#") {
			if strings.HasPrefix(strings.TrimSpace(strings.TrimPrefix(first, "#")), "keyname") {
				headers = headers[:0]
				for _, h := range row {
					headers = append(headers, strings.TrimSpace(strings.TrimLeft(strings.TrimSpace(h), "#")))
				}
			}
			continue
		}
		if len(row) == 2 || headers == nil {
			continue // "key;value" lines of the file header
		}
		o := map[string]string{}
		for i, h := range headers {
			if i < len(row) {
				o[h] = strings.TrimSpace(row[i])
			}
		}
		objs = append(objs, o)
	}
	if headers == nil {
		return nil, fmt.Errorf("EDE: no \"# keyname\" header line")
	}
	types := map[string]string{"0": "analogInput", "1": "analogOutput", "2": "analogValue", "3": "binaryInput", "4": "binaryOutput", "5": "binaryValue"}
	var out []deviceConfig
	for _, d := range objs {
		if d["object-type"] != "8" || d["object-instance"] == "" {
			continue
		}
		var items []map[string]any
		for _, o := range objs {
			t, ok := types[o["object-type"]]
			if !ok || o["device obj.-instance"] != d["object-instance"] || o["object-instance"] == "" {
				continue
			}
			name := o["object-name"]
			if name == "" {
				name = "Unknown Object"
			}
			items = append(items, map[string]any{"key": name, "objectType": t, "objectId": json.RawMessage(o["object-instance"]), "propertyId": "presentValue"})
		}
		if len(items) == 0 {
			continue
		}
		name := d["object-name"]
		if name == "" {
			name = "Unknown Device"
		}
		ts, err := json.Marshal(items)
		if err != nil {
			return nil, err
		}
		out = append(out, deviceConfig{
			DeviceInfo: &deviceInfoConfig{DeviceNameExpression: name, DeviceNameExpressionSource: "constant",
				DeviceProfileExpression: "default", DeviceProfileExpressionSource: "constant"},
			Address:    "*:*",
			DeviceID:   json.RawMessage(d["object-instance"]),
			Timeseries: ts,
		})
	}
	return out, nil
}

// loadEDE reads edeFilePath (relative to dir) or decodes edeConfig.
func loadEDE(cfg *fileConfig, dir string) ([]byte, error) {
	if cfg.EDEFilePath != "" {
		p := cfg.EDEFilePath
		if !filepath.IsAbs(p) && dir != "" {
			p = filepath.Join(dir, p)
		}
		return os.ReadFile(p)
	}
	var s string
	if err := json.Unmarshal(cfg.EDEConfig, &s); err != nil {
		return nil, fmt.Errorf("want a base64 string")
	}
	return base64.StdEncoding.DecodeString(strings.TrimSpace(s))
}
