package tbtest

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
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
	tok := tb.mc.Subscribe("v2/fw/request/+/chunk/+", 1, func(c paho.Client, m paho.Message) {
		tb.onMessage(c, m) // recorded like every message of the gateway
		parts := strings.Split(m.Topic(), "/")
		if len(parts) != 6 {
			return
		}
		n, err := strconv.Atoi(parts[5])
		if err != nil || n < 0 {
			return
		}
		size, err := strconv.Atoi(strings.TrimSpace(string(m.Payload())))
		if err != nil || size <= 0 {
			size = len(img)
		}
		from := min(n*size, len(img))
		to := min(from+size, len(img))
		c.Publish("v2/fw/response/"+parts[3]+"/chunk/"+parts[5], 1, false, img[from:to])
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		tb.t.Fatalf("tbtest: subscribe to firmware requests: %v", tok.Error())
	}
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
