package tb

// ThingsBoard MQTT topics used by the gateway.
const (
	// Gateway API (sub-devices).
	TopicGatewayConnect            = "v1/gateway/connect"
	TopicGatewayDisconnect         = "v1/gateway/disconnect"
	TopicGatewayTelemetry          = "v1/gateway/telemetry"
	TopicGatewayAttributes         = "v1/gateway/attributes"
	TopicGatewayAttributesRequest  = "v1/gateway/attributes/request"
	TopicGatewayAttributesResponse = "v1/gateway/attributes/response"
	TopicGatewayRPC                = "v1/gateway/rpc"
	TopicGatewayClaim              = "v1/gateway/claim"

	// Device API (the gateway device itself).
	TopicTelemetry                 = "v1/devices/me/telemetry"
	TopicAttributes                = "v1/devices/me/attributes"
	TopicAttributesRequestPrefix   = "v1/devices/me/attributes/request/"
	TopicAttributesResponsePrefix  = "v1/devices/me/attributes/response/"
	TopicRPCRequestPrefix          = "v1/devices/me/rpc/request/"
	TopicRPCResponsePrefix         = "v1/devices/me/rpc/response/"
	topicAttributesResponseFilter  = TopicAttributesResponsePrefix + "+"
	topicRPCRequestFilter          = TopicRPCRequestPrefix + "+"
	topicRPCResponseFilter         = TopicRPCResponsePrefix + "+"
	disconnectReasonRateLimited    = 150
	sessionLimitsMethod            = "getSessionLimits"
	sessionLimitsRequestTimeoutMs  = 5000
	gatewayAttributeRequestTimeout = 20 // seconds, upstream's response tracking
)

// subscriptions returns the topic filters subscribed on every connect with
// their QoS: the device-API topics at the configured QoS, the gateway-API
// topics always at QoS 1.
func subscriptions(qos byte) map[string]byte {
	return map[string]byte{
		TopicAttributes:                qos,
		topicAttributesResponseFilter:  qos,
		topicRPCRequestFilter:          qos,
		topicRPCResponseFilter:         qos,
		TopicGatewayAttributes:         1,
		TopicGatewayAttributesResponse: 1,
		TopicGatewayRPC:                1,
		TopicFirmwareResponseFilter:    1,
	}
}

// TopicFirmwareResponseFilter receives firmware chunks
// (v2/fw/response/<request id>/chunk/<n>) for the gateway's own update.
const TopicFirmwareResponseFilter = "v2/fw/response/+/chunk/+"
