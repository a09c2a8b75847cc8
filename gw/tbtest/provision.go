package tbtest

import (
	"bytes"
	"encoding/json"
	"encoding/pem"
	"sync"
)

// ThingsBoard's device provisioning (MQTT API): the gateway logs in as
// "provision" and publishes to /provision/request; the stand-in answers on
// /provision/response as ThingsBoard does, and then admits the issued
// credentials (Authorized, for a broker's WithAuth).

// Provisioned is one device the stand-in provisioned.
type Provisioned struct {
	Name, CredentialsType        string
	Gateway                      bool
	Token                        string
	ClientID, Username, Password string
	CertPEM                      string
}

type provisionState struct {
	mu          sync.Mutex
	key, secret string
	devices     []Provisioned
}

// SetProvisioning sets the device profile's provision key and secret the
// stand-in accepts.
func (tb *ThingsBoard) SetProvisioning(key, secret string) {
	tb.prov.mu.Lock()
	defer tb.prov.mu.Unlock()
	tb.prov.key, tb.prov.secret = key, secret
}

// ProvisionedDevices returns the devices provisioned so far.
func (tb *ThingsBoard) ProvisionedDevices() []Provisioned {
	tb.prov.mu.Lock()
	defer tb.prov.mu.Unlock()
	return append([]Provisioned(nil), tb.prov.devices...)
}

// Authorized admits the provisioning login and the credentials issued by
// provisioning (token, basic, or the client certificate).
func (tb *ThingsBoard) Authorized(ci ConnInfo) bool {
	if ci.Username == "provision" {
		return true
	}
	tb.prov.mu.Lock()
	defer tb.prov.mu.Unlock()
	for _, d := range tb.prov.devices {
		switch d.CredentialsType {
		case "ACCESS_TOKEN":
			if ci.Username == d.Token {
				return true
			}
		case "MQTT_BASIC":
			if ci.Username == d.Username && ci.Password == d.Password && ci.ClientID == d.ClientID {
				return true
			}
		case "X509_CERTIFICATE":
			b, _ := pem.Decode([]byte(d.CertPEM))
			if b != nil && len(ci.PeerCertificates) > 0 && bytes.Equal(ci.PeerCertificates[0].Raw, b.Bytes) {
				return true
			}
		}
	}
	return false
}

// provisionRequest answers a provisioning request.
func (tb *ThingsBoard) provisionRequest(payload []byte) ([]byte, string) {
	var r struct {
		Key      string `json:"provisionDeviceKey"`
		Secret   string `json:"provisionDeviceSecret"`
		Name     string `json:"deviceName"`
		Type     string `json:"credentialsType"`
		Token    string `json:"token"`
		ClientID string `json:"clientId"`
		Username string `json:"username"`
		Password string `json:"password"`
		Hash     string `json:"hash"`
		Gateway  bool   `json:"gateway"`
	}
	reply := func(v any) ([]byte, string) {
		b, _ := json.Marshal(v)
		return b, "/provision/response"
	}
	p := &tb.prov
	p.mu.Lock()
	defer p.mu.Unlock()
	if json.Unmarshal(payload, &r) != nil || p.key == "" || r.Key != p.key || r.Secret != p.secret {
		return reply(map[string]any{"status": "NOT_FOUND", "errorMsg": "Provision data was not found!"})
	}
	for _, d := range p.devices {
		if d.Name == r.Name {
			return reply(map[string]any{"status": "FAILURE", "errorMsg": "Failed to provision device!"})
		}
	}
	d := Provisioned{Name: r.Name, CredentialsType: r.Type, Gateway: r.Gateway}
	var val any
	switch r.Type {
	case "", "ACCESS_TOKEN":
		d.CredentialsType, d.Token = "ACCESS_TOKEN", r.Token
		if d.Token == "" {
			d.Token = "issued-token-" + r.Name
		}
		val = d.Token
	case "MQTT_BASIC":
		d.ClientID, d.Username, d.Password = r.ClientID, r.Username, r.Password
		val = map[string]any{"clientId": r.ClientID, "userName": r.Username, "password": r.Password}
	case "X509_CERTIFICATE":
		d.CertPEM = r.Hash
		val = r.Hash
	default:
		return reply(map[string]any{"status": "FAILURE", "errorMsg": "unknown credentials type"})
	}
	p.devices = append(p.devices, d)
	return reply(map[string]any{"status": "SUCCESS", "credentialsType": d.CredentialsType, "credentialsValue": val})
}
