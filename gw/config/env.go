package config

import (
	"strconv"
)

// unprefixed maps the TB_GW_* variables to the unprefixed names
// upstream's docker examples also use (tb-gateway 3.3).
var unprefixed = map[string]string{
	"TB_GW_HOST": "host", "TB_GW_PORT": "port", "TB_GW_PROXY_HOST": "proxy_host", "TB_GW_PROXY_PORT": "proxy_port",
	"TB_GW_SECURITY_TYPE": "type", "TB_GW_ACCESS_TOKEN": "accessToken", "TB_GW_CA_CERT": "caCert",
	"TB_GW_PRIVATE_KEY": "privateKey", "TB_GW_CERT": "cert", "TB_GW_CLIENT_ID": "clientId",
	"TB_GW_USERNAME": "username", "TB_GW_PASSWORD": "password",
}

// applyEnv merges the TB_GW_* environment overrides of tb-gateway 3.3 and
// returns the names of the variables it used. As upstream, the unprefixed
// names of its docker examples (host, port, type, accessToken, caCert,
// privateKey, cert, clientId, username, password, proxy_host, proxy_port)
// count too, each only when its TB_GW_* variable is unset or empty: the
// prefixed one always wins. Both override the file.
func applyEnv(tb *ThingsBoard, getenv func(string) string) []string {
	var used []string
	set := func(name string, f func(string)) {
		v := getenv(name)
		if v == "" {
			if alt, ok := unprefixed[name]; ok {
				if v = getenv(alt); v != "" {
					name = alt
				}
			}
		}
		if v != "" {
			used = append(used, name)
			f(v)
		}
	}
	sec := func() *Security {
		if tb.Security == nil {
			tb.Security = &Security{}
		}
		return tb.Security
	}
	set("TB_GW_HOST", func(v string) { tb.Host = v })
	set("TB_GW_PORT", func(v string) {
		if p, err := strconv.Atoi(v); err == nil {
			tb.Port = p
		}
	})
	set("TB_GW_PROXY_HOST", func(v string) { tb.ProxyHost = v })
	set("TB_GW_PROXY_PORT", func(v string) {
		if p, err := strconv.Atoi(v); err == nil {
			tb.ProxyPort = p
		}
	})
	set("TB_GW_SECURITY_TYPE", func(v string) { sec().Type = v })
	set("TB_GW_ACCESS_TOKEN", func(v string) {
		s := sec()
		s.AccessToken = v
		if s.Type == "" {
			s.Type = "accessToken"
		}
	})
	set("TB_GW_CA_CERT", func(v string) { sec().CACert = v })
	set("TB_GW_PRIVATE_KEY", func(v string) { sec().PrivateKey = v })
	set("TB_GW_CERT", func(v string) { sec().Cert = v })
	set("TB_GW_CLIENT_ID", func(v string) { sec().ClientID = v })
	set("TB_GW_USERNAME", func(v string) { sec().Username = v })
	set("TB_GW_PASSWORD", func(v string) { sec().Password = v })
	set("TB_GW_RATE_LIMITS", func(v string) {
		tb.RateLimits, tb.MessagesRateLimits, tb.DeviceMessagesRateLimits, tb.DeviceRateLimits = v, v, v, v
	})
	set("TB_GW_DP_RATE_LIMITS", func(v string) { tb.DPRateLimits, tb.DeviceDPRateLimits = v, v })
	set("TB_GW_MESSAGES_RATE_LIMITS", func(v string) { tb.MessagesRateLimits = v })
	set("TB_GW_DEVICE_MESSAGES_RATE_LIMIT", func(v string) { tb.DeviceMessagesRateLimits = v })
	set("TB_GW_DEVICE_RATE_LIMITS", func(v string) { tb.DeviceRateLimits = v })
	set("TB_GW_DEVICE_DP_RATE_LIMITS", func(v string) { tb.DeviceDPRateLimits = v })
	return used
}
