package config

import (
	"strconv"
)

// applyEnv merges the TB_GW_* environment overrides of tb-gateway 3.3.
// Unlike upstream, the unprefixed names (host, port, type, username, ...)
// are not honoured: common variables such as $USERNAME or $TYPE must not
// silently redirect a gateway.
func applyEnv(tb *ThingsBoard, getenv func(string) string) {
	set := func(name string, f func(string)) {
		if v := getenv(name); v != "" {
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
}
