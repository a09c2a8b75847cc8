package tbtest

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
)

// AssignFirmware plays ThingsBoard's OTA service for the gateway device:
// it answers chunk requests (v2/fw/request/<id>/chunk/<n>, payload = chunk
// size, empty = whole image) on v2/fw/response/<id>/chunk/<n> with the
// image, keeps the fw_* shared attributes in the attribute table (for
// requests after a reconnect) and pushes them to the gateway. A later call
// replaces the image.
func (tb *ThingsBoard) AssignFirmware(title, version string, image []byte) {
	tb.t.Helper()
	img := append([]byte(nil), image...)
	tb.fw.Store(&img)
	sum := sha256.Sum256(img)
	attrs := map[string]any{"fw_title": title, "fw_version": version, "fw_size": len(img),
		"fw_checksum": hex.EncodeToString(sum[:]), "fw_checksum_algorithm": "SHA256"}
	tb.mu.Lock()
	shared := map[string]any{}
	for k, v := range tb.shared[Self] {
		shared[k] = v
	}
	for k, v := range attrs {
		shared[k] = v
	}
	tb.shared[Self] = shared
	tb.mu.Unlock()
	tb.SetGatewayAttributes(attrs)
}

// firmwareChunk answers a chunk request with its part of the image.
func (tb *ThingsBoard) firmwareChunk(topic string, payload []byte) ([]byte, string) {
	p := tb.fw.Load()
	parts := strings.Split(topic, "/")
	if p == nil || len(parts) != 6 {
		return nil, ""
	}
	img := *p
	n, err := strconv.Atoi(parts[5])
	if err != nil || n < 0 {
		return nil, ""
	}
	size, err := strconv.Atoi(strings.TrimSpace(string(payload)))
	if err != nil || size <= 0 {
		size = len(img)
	}
	from := min(n*size, len(img))
	to := min(from+size, len(img))
	return append([]byte{}, img[from:to]...), "v2/fw/response/" + parts[3] + "/chunk/" + parts[5]
}

// FirmwareRequests counts the chunk requests received so far.
func (tb *ThingsBoard) FirmwareRequests() int {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	n := 0
	for t, c := range tb.counts {
		if strings.HasPrefix(t, "v2/fw/request/") {
			n += c
		}
	}
	return n
}
