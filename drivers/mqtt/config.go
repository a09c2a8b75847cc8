package mqtt

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/tbgw/tbgw/codec/conf"
	"github.com/tbgw/tbgw/codec/convert"
)

// config is the connector file as written by users and by the ThingsBoard
// UI, in the current layout ("mapping" + "requestsMapping") or the old one
// ("dataMapping" or "mapping" with legacy device keys, request lists at the
// top level). Both decode into this one struct; normalize folds the old
// layout into the new one.
type config struct {
	Broker          brokerConf    `json:"broker"`
	Mapping         []mappingConf `json:"mapping"`
	DataMapping     []mappingConf `json:"dataMapping"`
	RequestsMapping *requestsConf `json:"requestsMapping"`

	// Old layout: request lists at the top level.
	requestsConf
}

type requestsConf struct {
	ConnectRequests    []deviceRequestConf `json:"connectRequests"`
	DisconnectRequests []deviceRequestConf `json:"disconnectRequests"`
	AttributeRequests  []attrRequestConf   `json:"attributeRequests"`
	AttributeUpdates   []attrUpdateConf    `json:"attributeUpdates"`
	ServerSideRPC      []rpcConf           `json:"serverSideRpc"`
}

type brokerConf struct {
	Name                      string       `json:"name"`
	Host                      string       `json:"host"`
	Port                      *int         `json:"port"`
	ClientID                  string       `json:"clientId"`
	Version                   *int         `json:"version"`
	KeepAlive                 *int         `json:"keepAlive"`
	CleanSession              *bool        `json:"cleanSession"`
	CleanStart                *bool        `json:"cleanStart"`
	SessionExpiryInterval     int64        `json:"sessionExpiryInterval"`
	MaxMessageNumberPerWorker int          `json:"maxMessageNumberPerWorker"`
	MaxNumberOfWorkers        int          `json:"maxNumberOfWorkers"`
	MaxMessageQueue           int          `json:"maxMessageQueue"`
	MaxProcessingMessageQueue int          `json:"maxProcessingMessageQueue"`
	SendDataOnlyOnChange      bool         `json:"sendDataOnlyOnChange"`
	Security                  securityConf `json:"security"`
}

type securityConf struct {
	Type             string `json:"type"`
	Username         string `json:"username"`
	Password         string `json:"password"`
	CACert           string `json:"caCert"`
	PathToCACert     string `json:"pathToCACert"`
	PathToPrivateKey string `json:"pathToPrivateKey"`
	PathToClientCert string `json:"pathToClientCert"`
	Insecure         bool   `json:"insecure"`
}

// mappingConf is one entry of "mapping": a topic filter and the converter
// for the messages that arrive on it.
type mappingConf struct {
	TopicFilter     string          `json:"topicFilter"`
	SubscriptionQoS *int            `json:"subscriptionQos"`
	ReportStrategy  *strategyConf   `json:"reportStrategy"`
	Converter       *convert.Config `json:"converter"`
}

type strategyConf struct {
	Type                string `json:"type"`
	ReportPeriod        *int64 `json:"reportPeriod"`
	TTL                 *int64 `json:"ttl"`
	AggregationFunction string `json:"aggregationFunction"`
}

// deviceInfoConf names the device of a message (upstream deviceInfo).
type deviceInfoConf struct {
	DeviceNameExpressionSource    string `json:"deviceNameExpressionSource"`
	DeviceNameExpression          string `json:"deviceNameExpression"`
	DeviceProfileExpressionSource string `json:"deviceProfileExpressionSource"`
	DeviceProfileExpression       string `json:"deviceProfileExpression"`
}

// legacyDevice holds the old device naming keys of request entries.
type legacyDevice struct {
	DeviceNameJSONExpression  string `json:"deviceNameJsonExpression"`
	DeviceTypeJSONExpression  string `json:"deviceTypeJsonExpression"`
	DeviceNameTopicExpression string `json:"deviceNameTopicExpression"`
	DeviceTypeTopicExpression string `json:"deviceTypeTopicExpression"`
}

type deviceRequestConf struct {
	TopicFilter     string          `json:"topicFilter"`
	SubscriptionQoS *int            `json:"subscriptionQos"`
	DeviceInfo      *deviceInfoConf `json:"deviceInfo"`
	legacyDevice
}

type attrRequestConf struct {
	TopicFilter                   string          `json:"topicFilter"`
	SubscriptionQoS               *int            `json:"subscriptionQos"`
	DeviceInfo                    *deviceInfoConf `json:"deviceInfo"`
	AttributeNameExpressionSource string          `json:"attributeNameExpressionSource"`
	AttributeNameExpression       string          `json:"attributeNameExpression"`
	AttributeNameJSONExpression   string          `json:"attributeNameJsonExpression"`
	AttributeNameTopicExpression  string          `json:"attributeNameTopicExpression"`
	Scope                         string          `json:"scope"`
	TopicExpression               string          `json:"topicExpression"`
	ValueExpression               string          `json:"valueExpression"`
	Retain                        bool            `json:"retain"`
	QoS                           int             `json:"qos"`
	legacyDevice
}

type attrUpdateConf struct {
	DeviceNameFilter string `json:"deviceNameFilter"`
	AttributeFilter  string `json:"attributeFilter"`
	TopicExpression  string `json:"topicExpression"`
	ValueExpression  string `json:"valueExpression"`
	Retain           bool   `json:"retain"`
	QoS              int    `json:"qos"`
}

type rpcConf struct {
	Type                    string      `json:"type"`
	DeviceNameFilter        string      `json:"deviceNameFilter"`
	MethodFilter            string      `json:"methodFilter"`
	RequestTopicExpression  string      `json:"requestTopicExpression"`
	ResponseTopicExpression string      `json:"responseTopicExpression"`
	ResponseTopicQoS        *int        `json:"responseTopicQoS"`
	ResponseTimeout         json.Number `json:"responseTimeout"`
	ValueExpression         string      `json:"valueExpression"`
	Retain                  bool        `json:"retain"`
	QoS                     int         `json:"qos"`
}

// Keys of datapoint objects (convert.Datapoint), for unknown-key warnings:
// conf.Doc does not look inside types with their own UnmarshalJSON.
var dataKeyNames = map[string]bool{
	"type": true, "key": true, "value": true, "keySource": true, "tsField": true,
	"dayfirst": true, "yearfirst": true, "hexMode": true, "reportStrategy": true,
}

var strategyNames = map[string]bool{"type": true, "reportPeriod": true, "ttl": true, "aggregationFunction": true}

// listPaths are the keys whose value is a list but which the ThingsBoard UI
// writes as {} when empty.
var listPaths = map[string]bool{
	"mapping": true, "dataMapping": true,
	"connectRequests": true, "disconnectRequests": true, "attributeRequests": true,
	"attributeUpdates": true, "serverSideRpc": true,
	"requestsMapping.connectRequests": true, "requestsMapping.disconnectRequests": true,
	"requestsMapping.attributeRequests": true, "requestsMapping.attributeUpdates": true,
	"requestsMapping.serverSideRpc": true,
}

// parseConfig decodes and validates a connector file. Warnings (unknown
// keys) are logged on log.
func parseConfig(file string, raw []byte, log *slog.Logger) (*config, *conf.Doc, error) {
	src := emptyObjectsToLists(raw)
	doc, err := conf.Parse(file, src)
	if err != nil {
		return nil, nil, err
	}
	var c config
	warns, err := doc.Decode(&c)
	if err != nil {
		return nil, nil, err
	}
	warns = append(warns, dataKeyWarnings(doc, &c)...)
	for _, w := range warns {
		log.Warn("config", "warning", w.Error())
	}
	return &c, doc, nil
}

// dataKeyWarnings reports unknown keys inside attribute and time series
// entries.
func dataKeyWarnings(doc *conf.Doc, c *config) []error {
	var tree struct {
		Mapping     []struct{ Converter map[string]json.RawMessage } `json:"mapping"`
		DataMapping []struct{ Converter map[string]json.RawMessage } `json:"dataMapping"`
	}
	if json.Unmarshal(doc.Raw(), &tree) != nil {
		return nil
	}
	var out []error
	check := func(section string, ms []struct{ Converter map[string]json.RawMessage }) {
		for i, m := range ms {
			for _, list := range []string{"attributes", "timeseries"} {
				var items []json.RawMessage
				if json.Unmarshal(m.Converter[list], &items) != nil {
					continue
				}
				for j, it := range items {
					var obj map[string]json.RawMessage
					if json.Unmarshal(it, &obj) != nil {
						continue
					}
					base := fmt.Sprintf("%s[%d].converter.%s[%d]", section, i, list, j)
					for k, v := range obj {
						if !dataKeyNames[k] {
							out = append(out, doc.Errorf(base+"."+k, "unknown key, ignored"))
						}
						if k == "reportStrategy" {
							var rs map[string]json.RawMessage
							_ = json.Unmarshal(v, &rs)
							for rk := range rs {
								if !strategyNames[rk] {
									out = append(out, doc.Errorf(base+".reportStrategy."+rk, "unknown key, ignored"))
								}
							}
						}
					}
				}
			}
		}
	}
	check("mapping", tree.Mapping)
	check("dataMapping", tree.DataMapping)
	return out
}

// emptyObjectsToLists rewrites "{}" to "[]" (same length, so positions in
// messages stay right) where a list is expected: the ThingsBoard UI saves
// empty request sections as {}.
func emptyObjectsToLists(src []byte) []byte {
	dec := json.NewDecoder(bytes.NewReader(src))
	var out []byte
	var walk func(path string) error
	walk = func(path string) error {
		start := skipSpace(src, int(dec.InputOffset()))
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		d, ok := tok.(json.Delim)
		if !ok {
			return nil
		}
		if d == '{' && listPaths[path] && !dec.More() {
			end := skipSpace(src, int(dec.InputOffset()))
			if _, err := dec.Token(); err != nil {
				return err
			}
			if out == nil {
				out = append([]byte(nil), src...)
			}
			out[start], out[end] = '[', ']'
			return nil
		}
		for i := 0; dec.More(); i++ {
			p := path
			if d == '{' {
				kt, err := dec.Token()
				if err != nil {
					return err
				}
				k, _ := kt.(string)
				if p != "" {
					p += "."
				}
				p += k
			} else {
				p = fmt.Sprintf("%s[%d]", path, i)
			}
			if err := walk(p); err != nil {
				return err
			}
		}
		_, err = dec.Token()
		return err
	}
	if err := walk(""); err != nil && !errors.Is(err, io.EOF) {
		return src // conf.Parse reports the syntax error
	}
	if out == nil {
		return src
	}
	return out
}

func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\r', '\n', ':', ',':
			i++
		default:
			return i
		}
	}
	return i
}
