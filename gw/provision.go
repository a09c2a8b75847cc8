package gw

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"

	"github.com/tbgw/tbgw/drivers/kit/atomicfile"
	"github.com/tbgw/tbgw/gw/config"
	"github.com/tbgw/tbgw/gw/tb"
)

// Provisioning (tb-gateway, thingsboard.provisioning and the
// TB_GW_PROVISIONING_* environment): a gateway without credentials
// registers itself with ThingsBoard using the provision key and secret of
// a device profile, stores the credentials it gets in .credentials (0600,
// data directory) and uses them from then on. Precedence as upstream:
// thingsboard.security wins unless provisioning is set in the environment;
// then stored credentials (data directory, else upstream's place in the
// configuration directory); then a provisioning request.

// provisionConfig is thingsboard.provisioning (upstream's keys).
type provisionConfig struct {
	Type        string `json:"type"` // ACCESS_TOKEN (default), MQTT_BASIC, X509_CERTIFICATE
	Key         string `json:"provisionDeviceKey"`
	Secret      string `json:"provisionDeviceSecret"`
	DeviceName  string `json:"deviceName"`
	AccessToken string `json:"access_token"`
	ClientID    string `json:"client_id"`
	Username    string `json:"username"`
	Password    string `json:"password"`
	CACert      string `json:"caCert"`
	// tbgw: TLS for the provisioning session and the gateway's (also
	// implied by caCert or port 8883), and skipping verification.
	TLS      bool `json:"tls"`
	Insecure bool `json:"insecure"`
}

// provisionFromEnv reads upstream's TB_GW_PROVISIONING_* variables.
func provisionFromEnv(getenv func(string) string) (provisionConfig, bool) {
	p := provisionConfig{Key: getenv("TB_GW_PROVISIONING_DEVICE_KEY"), Secret: getenv("TB_GW_PROVISIONING_DEVICE_SECRET")}
	if p.Key == "" || p.Secret == "" {
		return p, false
	}
	p.DeviceName = getenv("TB_GW_PROVISIONING_DEVICE_NAME")
	tok := getenv("TB_GW_PROVISIONING_DEVICE_ACCESS_TOKEN")
	user, pass, cid := getenv("TB_GW_PROVISIONING_DEVICE_USERNAME"), getenv("TB_GW_PROVISIONING_DEVICE_PASSWORD"), getenv("TB_GW_PROVISIONING_DEVICE_CLIENT_ID")
	ca := getenv("TB_GW_PROVISIONING_DEVICE_CA_CERT_FILENAME")
	switch {
	case tok != "":
		p.Type, p.AccessToken = "ACCESS_TOKEN", tok
	case user != "" || pass != "" || cid != "":
		p.Type, p.Username, p.Password, p.ClientID = "MQTT_BASIC", user, pass, cid
	case ca != "":
		p.Type, p.CACert = "X509_CERTIFICATE", ca
	}
	return p, true
}

// storedCredentials is .credentials: ThingsBoard's provisioning response
// plus, as upstream writes it, the caCert file name (tbgw also tls and
// insecure).
type storedCredentials struct {
	tb.ProvisionResponse
	CACert   string `json:"caCert,omitempty"`
	TLS      bool   `json:"tls,omitempty"`
	Insecure bool   `json:"insecure,omitempty"`
}

func (s storedCredentials) MarshalJSON() ([]byte, error) {
	m := map[string]any{"status": "SUCCESS", "credentialsType": s.CredentialsType, "credentialsValue": s.CredentialsValue}
	if s.CACert != "" {
		m["caCert"] = s.CACert
	}
	if s.TLS {
		m["tls"] = true
	}
	if s.Insecure {
		m["insecure"] = true
	}
	return json.Marshal(m)
}

// provisionCredentials sets cfg.ThingsBoard.Security from stored or newly
// provisioned credentials when the configuration calls for it.
func (g *Gateway) provisionCredentials(cfg *config.Config, getenv func(string) string) error {
	env, fromEnv := provisionFromEnv(getenv)
	if cfg.ThingsBoard.Security != nil && !fromEnv {
		return nil
	}
	for _, p := range g.credentialPaths() {
		b, err := os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("provisioned credentials: %w", err)
		}
		var sc storedCredentials
		if err := json.Unmarshal(b, &sc); err != nil {
			return fmt.Errorf("provisioned credentials %s: %w", p, err)
		}
		sec, err := sc.security(filepath.Dir(p))
		if err != nil {
			return fmt.Errorf("provisioned credentials %s: %w", p, err)
		}
		g.log.Info("using provisioned credentials", "file", p, "type", sc.CredentialsType)
		cfg.ThingsBoard.Security = sec
		return nil
	}
	var pc provisionConfig
	switch {
	case fromEnv:
		pc = env
	case len(cfg.ThingsBoard.Provisioning) > 0 && string(cfg.ThingsBoard.Provisioning) != "null":
		if err := json.Unmarshal(cfg.ThingsBoard.Provisioning, &pc); err != nil {
			return fmt.Errorf("thingsboard.provisioning: %w", err)
		}
	default:
		return nil // the link reports missing credentials
	}
	sc, err := g.provision(cfg, pc)
	if err != nil {
		return err
	}
	b, _ := json.Marshal(sc)
	path := filepath.Join(g.opts.DataDir, CredentialsFile)
	if err := atomicfile.Write(path, b, 0o600); err != nil {
		return fmt.Errorf("saving provisioned credentials: %w", err)
	}
	sec, err := sc.security(g.opts.DataDir)
	if err != nil {
		return err
	}
	cfg.ThingsBoard.Security = sec
	return nil
}

// provision sends the provisioning request.
func (g *Gateway) provision(cfg *config.Config, pc provisionConfig) (storedCredentials, error) {
	if pc.Key == "" || pc.Secret == "" {
		return storedCredentials{}, errors.New("thingsboard.provisioning: provisionDeviceKey and provisionDeviceSecret are required")
	}
	req := map[string]any{"provisionDeviceKey": pc.Key, "provisionDeviceSecret": pc.Secret, "gateway": true}
	name := pc.DeviceName
	if name == "" {
		name = "Gateway " + randomWord(5)
	}
	req["deviceName"] = name
	typ := strings.ToUpper(pc.Type)
	if typ == "" {
		typ = "ACCESS_TOKEN"
	}
	switch typ {
	case "ACCESS_TOKEN":
		if pc.AccessToken == "" {
			pc.AccessToken = randomWord(20)
		}
		req["credentialsType"], req["token"] = typ, pc.AccessToken
	case "MQTT_BASIC":
		for _, p := range []*string{&pc.ClientID, &pc.Username, &pc.Password} {
			if *p == "" {
				*p = randomWord(20)
			}
		}
		req["credentialsType"], req["clientId"], req["username"], req["password"] = typ, pc.ClientID, pc.Username, pc.Password
	case "X509_CERTIFICATE":
		certPEM, keyPEM, err := selfSignedPEM("localhost", nil, 365)
		if err != nil {
			return storedCredentials{}, err
		}
		if err := atomicfile.Write(filepath.Join(g.opts.DataDir, "key.pem"), keyPEM, 0o600); err != nil {
			return storedCredentials{}, err
		}
		if err := atomicfile.Write(filepath.Join(g.opts.DataDir, "cert.pem"), certPEM, 0o600); err != nil {
			return storedCredentials{}, err
		}
		req["credentialsType"], req["hash"] = typ, string(certPEM)
	default:
		return storedCredentials{}, fmt.Errorf("thingsboard.provisioning.type %q unknown (ACCESS_TOKEN, MQTT_BASIC, X509_CERTIFICATE)", pc.Type)
	}
	body, _ := json.Marshal(req)
	tc := TBConfig(cfg)
	tc.Security = tb.Security{CACert: pc.CACert, TLS: pc.TLS, Insecure: pc.Insecure}
	g.log.Info("provisioning the gateway in ThingsBoard", "device", name, "credentialsType", typ, "server", fmt.Sprintf("%s:%d", tc.Host, tc.Port))
	raw, err := tb.Provision(context.Background(), tc, body, g.rawLog.With("component", "tb_connection"))
	if err != nil {
		return storedCredentials{}, err
	}
	var resp tb.ProvisionResponse
	if err := json.Unmarshal(raw, &resp); err != nil {
		return storedCredentials{}, fmt.Errorf("provisioning: bad response %q: %w", raw, err)
	}
	if !resp.OK() {
		return storedCredentials{}, fmt.Errorf("provisioning refused by ThingsBoard (%s): %s", resp.Status+resp.DeviceStatus, resp.ErrorMsg)
	}
	if resp.CredentialsType == "" {
		resp.CredentialsType = typ
	}
	g.log.Info("gateway provisioned", "device", name, "credentialsType", resp.CredentialsType)
	return storedCredentials{ProvisionResponse: resp, CACert: pc.CACert, TLS: pc.TLS, Insecure: pc.Insecure}, nil
}

// security turns stored credentials into thingsboard.security; X.509 key
// files are looked up in dir.
func (s storedCredentials) security(dir string) (*config.Security, error) {
	sec := &config.Security{CACert: s.CACert, TLS: s.TLS, Insecure: s.Insecure}
	switch s.CredentialsType {
	case "ACCESS_TOKEN":
		if err := json.Unmarshal(s.CredentialsValue, &sec.AccessToken); err != nil || sec.AccessToken == "" {
			return nil, errors.New("ACCESS_TOKEN without a token")
		}
		sec.Type = "accessToken"
	case "MQTT_BASIC":
		var v struct {
			ClientID string `json:"clientId"`
			UserName string `json:"userName"`
			Password string `json:"password"`
		}
		if err := json.Unmarshal(s.CredentialsValue, &v); err != nil {
			return nil, fmt.Errorf("MQTT_BASIC: %w", err)
		}
		sec.Type, sec.ClientID, sec.Username, sec.Password = "usernamePassword", v.ClientID, v.UserName, v.Password
	case "X509_CERTIFICATE":
		sec.Type, sec.TLS = "x509Certificate", true
		sec.Cert, sec.PrivateKey = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	default:
		return nil, fmt.Errorf("credentials type %q unknown", s.CredentialsType)
	}
	return sec, nil
}

// randomWord returns n random lower-case letters and digits.
func randomWord(n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	for i := range b {
		v, _ := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		b[i] = alphabet[v.Int64()]
	}
	return string(b)
}

// ProvisioningConfigured reports whether the gateway's credentials come
// from provisioning (thingsboard.provisioning without security, or the
// TB_GW_PROVISIONING_* environment).
func ProvisioningConfigured(cfg *config.Config, getenv func(string) string) bool {
	if _, ok := provisionFromEnv(getenv); ok {
		return true
	}
	p := cfg.ThingsBoard.Provisioning
	return cfg.ThingsBoard.Security == nil && len(p) > 0 && string(p) != "null"
}
