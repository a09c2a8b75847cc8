package gw

import (
	"context"
)

// Link is what the core needs of the ThingsBoard connection. *tb.Client
// implements it; tests may use the real client against a local broker.
type Link interface {
	// Connected reports whether the MQTT session is up.
	Connected() bool
	// Publish sends a message; the token completes on PUBACK (QoS 1).
	Publish(ctx context.Context, topic string, payload []byte, qos byte, datapoints int) (Token, error)
	// MaxPayload is the largest payload ThingsBoard accepts now.
	MaxPayload() int
	// RequestDeviceAttributes asks for attributes of a sub-device.
	RequestDeviceAttributes(ctx context.Context, device string, client bool, keys []string) (map[string]any, error)
}

// Token is a pending publish.
type Token interface {
	Wait(ctx context.Context) error
}

// Topics of the ThingsBoard gateway API used by the core.
const (
	TopicConnect       = "v1/gateway/connect"
	TopicDisconnect    = "v1/gateway/disconnect"
	TopicTelemetry     = "v1/gateway/telemetry"
	TopicAttributes    = "v1/gateway/attributes"
	TopicGatewayRPC    = "v1/gateway/rpc"
	TopicClaim         = "v1/gateway/claim"
	TopicOwnTelemetry  = "v1/devices/me/telemetry"
	TopicOwnAttributes = "v1/devices/me/attributes"
	TopicOwnRPCReq     = "v1/devices/me/rpc/request/"
	TopicOwnRPCResp    = "v1/devices/me/rpc/response/"
)
