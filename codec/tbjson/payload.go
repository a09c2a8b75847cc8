package tbjson

// Payload assembly for the gateway API. The uplink loop merges the records
// of one batch per device and cuts them into messages no larger than the
// session's maximum payload size.

// AppendTelemetryMessage appends `{"<device>":[entries]}`.
func AppendTelemetryMessage(dst []byte, device []byte, entries ...[]byte) []byte {
	dst = append(dst, '{')
	dst = AppendString(dst, string(device))
	dst = append(dst, ":["...)
	dst = appendJoined(dst, entries)
	return append(dst, "]}"...)
}

// AppendAttributesMessage appends `{"<device>":{members}}`.
func AppendAttributesMessage(dst []byte, device []byte, members ...[]byte) []byte {
	dst = append(dst, '{')
	dst = AppendString(dst, string(device))
	dst = append(dst, ":{"...)
	dst = appendJoined(dst, members)
	return append(dst, "}}"...)
}

// AppendOwnTelemetry appends `[entries]` for v1/devices/me/telemetry.
func AppendOwnTelemetry(dst []byte, entries ...[]byte) []byte {
	dst = append(dst, '[')
	dst = appendJoined(dst, entries)
	return append(dst, ']')
}

// AppendOwnAttributes appends `{members}` for v1/devices/me/attributes.
func AppendOwnAttributes(dst []byte, members ...[]byte) []byte {
	dst = append(dst, '{')
	dst = appendJoined(dst, members)
	return append(dst, '}')
}

func appendJoined(dst []byte, parts [][]byte) []byte {
	first := true
	for _, p := range parts {
		if len(p) == 0 {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, p...)
	}
	return dst
}

// MessageOverhead is the size of a gateway message around its fragments
// for a device name of n bytes (quotes, braces, escapes ignored).
func MessageOverhead(n int) int { return n + 8 }
