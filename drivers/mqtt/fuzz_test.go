package mqtt

import (
	"encoding/json"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/tbgw/tbgw/gw/connector"
)

// FuzzFilter checks topic filter compilation and matching against a
// reference: the level-by-level rules of MQTT 3.1.1 section 4.7.
func FuzzFilter(f *testing.F) {
	for _, s := range [][2]string{{"sensor/+/data", "sensor/a/data"}, {"a/#", "a"}, {"#", "$SYS/x"},
		{"$share/g/a/+", "a/b"}, {"+/+", "/"}, {"a/+", "a/"}, {"a/b", "a/b"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, flt, topic string) {
		c, err := compileFilter(flt)
		if err != nil {
			return
		}
		if strings.ContainsAny(topic, "+#") {
			return // not a topic name
		}
		got := c.match(topic)
		if want := refMatch(c.topic, topic); got != want {
			t.Fatalf("filter %q topic %q: match %v, want %v", flt, topic, got, want)
		}
	})
}

func refMatch(f, t string) bool {
	fl, tl := strings.Split(f, "/"), strings.Split(t, "/")
	if strings.HasPrefix(t, "$") && (fl[0] == "+" || fl[0] == "#") {
		return false
	}
	for i, l := range fl {
		if l == "#" {
			return true
		}
		if i >= len(tl) {
			return false
		}
		if l != "+" && l != tl[i] {
			return false
		}
	}
	return len(fl) == len(tl)
}

// FuzzConfig feeds arbitrary files to the factory: errors are fine, panics
// are not.
func FuzzConfig(f *testing.F) {
	for _, name := range []string{"mqtt.json", "old_mapping.json", "new_attribute_requests.json"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"broker":{"host":"h"},"requestsMapping":{"serverSideRpc":{}}}`))
	env := connector.Env{Name: "fuzz", Log: slog.New(slog.DiscardHandler)}
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = newConnector(b, env)
	})
}

// FuzzHexUplink runs the sample custom converter on arbitrary payloads.
func FuzzHexUplink(f *testing.F) {
	f.Add([]byte(`{"temperature":2,"humidity":2,"batteryLevel":1}`), "custom/sensors/SN-1", []byte("0x0A0B0C0D0E"))
	f.Add([]byte(`null`), "a/b", []byte("0x1f"))
	f.Fuzz(func(t *testing.T, cfg []byte, topic string, payload []byte) {
		u, err := newHexUplink(json.RawMessage(cfg))
		if err != nil {
			return
		}
		_, _ = u.Convert(topic, payload, 1)
	})
}

// FuzzRPCParams parses reserved get/set params and connector RPC params.
func FuzzRPCParams(f *testing.F) {
	f.Add([]byte(`"requestTopicExpression=a/${deviceName};responseTopicExpression=b;value=${params};responseTimeout=100;"`))
	f.Add([]byte(`{"requestTopicExpression":"a","valueExpression":"v","responseTimeout":"5"}`))
	f.Fuzz(func(t *testing.T, params []byte) {
		_, _ = adhocRoute(params, true)
		_, _ = adhocRoute(params, false)
	})
}
