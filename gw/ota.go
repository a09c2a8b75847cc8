package gw

import (
	"github.com/tbgw/tbgw/drivers/kit/atomicfile"

	"context"
	"crypto/md5"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Over-the-air update of the gateway itself, with ThingsBoard's firmware
// API (tb-gateway 8.5): when the gateway device's shared attributes name a
// firmware (fw_title, fw_version, fw_size, fw_checksum,
// fw_checksum_algorithm) whose version differs from the running one, the
// image is fetched in chunks (v2/fw/request/<id>/chunk/<n> →
// v2/fw/response/<id>/chunk/<n>) into a file beside the executable, its
// checksum verified, the new binary test-run (`<new> version` must succeed),
// then renamed over the executable, and the gateway restarts into it. Each
// step is reported as telemetry fw_state (DOWNLOADING, DOWNLOADED,
// VERIFIED, UPDATING, UPDATED or FAILED with fw_error). A failure leaves
// the running binary in place.

const (
	otaChunkSize    = 64 << 10
	otaChunkTimeout = 30 * time.Second
	otaMaxSize      = 256 << 20
	otaPendingFile  = ".tbgw-ota-pending"
)

type fwInfo struct {
	Title     string `json:"fw_title"`
	Version   string `json:"fw_version"`
	Size      int64  `json:"fw_size"`
	Checksum  string `json:"fw_checksum"`
	Algorithm string `json:"fw_checksum_algorithm"`
}

type otaChunk struct {
	req, n int
	data   []byte
}

type otaState struct {
	busy   atomic.Bool
	nextID atomic.Int64
	chunks chan otaChunk
}

// otaAttributes starts an update when the shared attributes describe a
// firmware other than the running version.
func (g *Gateway) otaAttributes(m map[string]json.RawMessage) {
	if g.opts.Executable == "" {
		return
	}
	if _, ok := m["fw_version"]; !ok {
		return
	}
	raw, _ := json.Marshal(m)
	var fw fwInfo
	if err := json.Unmarshal(raw, &fw); err != nil || fw.Version == "" {
		return
	}
	if fw.Version == g.opts.Version {
		return
	}
	if !g.ota.busy.CompareAndSwap(false, true) {
		g.log.Info("firmware update already in progress", "version", fw.Version)
		return
	}
	g.spawn(func() {
		defer g.ota.busy.Store(false)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
		defer cancel()
		if err := g.otaUpdate(ctx, fw); err != nil {
			g.log.Error("firmware update failed", "version", fw.Version, "err", err)
			g.fwState(ctx, fw, "FAILED", err.Error())
		}
	})
}

// otaChunkIn receives a firmware chunk from the link.
func (g *Gateway) otaChunkIn(topic string, payload []byte) {
	// v2/fw/response/<req>/chunk/<n>
	parts := strings.Split(topic, "/")
	if len(parts) != 6 {
		return
	}
	req, err1 := strconv.Atoi(parts[3])
	n, err2 := strconv.Atoi(parts[5])
	if err1 != nil || err2 != nil {
		return
	}
	select {
	case g.ota.chunks <- otaChunk{req: req, n: n, data: payload}:
	default:
	}
}

func (g *Gateway) fwState(ctx context.Context, fw fwInfo, state, errText string) {
	vals := map[string]any{"current_fw_title": "tbgw", "current_fw_version": g.opts.Version, "fw_state": state}
	if fw.Title != "" {
		vals["target_fw_title"], vals["target_fw_version"] = fw.Title, fw.Version
	}
	if errText != "" {
		vals["fw_error"] = errText
	}
	b, _ := json.Marshal(map[string]any{"ts": g.now().UnixMilli(), "values": vals})
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if t, err := g.link.Publish(pctx, TopicOwnTelemetry, b, 1, len(vals)); err == nil {
		_ = t.Wait(pctx)
	}
}

func newHash(alg string) (hash.Hash, error) {
	switch strings.ToUpper(alg) {
	case "SHA256", "SHA-256":
		return sha256.New(), nil
	case "SHA384", "SHA-384":
		return sha512.New384(), nil
	case "SHA512", "SHA-512":
		return sha512.New(), nil
	case "MD5":
		return md5.New(), nil
	case "CRC32":
		return crc32.NewIEEE(), nil
	}
	return nil, fmt.Errorf("checksum algorithm %q not supported (SHA256, SHA384, SHA512, MD5, CRC32)", alg)
}

func (g *Gateway) otaUpdate(ctx context.Context, fw fwInfo) error {
	if fw.Size <= 0 || fw.Size > otaMaxSize {
		return fmt.Errorf("firmware size %d out of range", fw.Size)
	}
	h, err := newHash(fw.Algorithm)
	if err != nil {
		return err
	}
	exe := g.opts.Executable
	tmp := exe + ".new"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o755)
	if err != nil {
		return fmt.Errorf("cannot write beside the executable: %w", err)
	}
	ok := false
	defer func() {
		f.Close()
		if !ok {
			os.Remove(tmp)
		}
	}()
	g.log.Info("firmware update: downloading", "title", fw.Title, "version", fw.Version, "bytes", fw.Size)
	g.fwState(ctx, fw, "DOWNLOADING", "")
	req := int(g.ota.nextID.Add(1))
	var got int64
	for n := 0; got < fw.Size; n++ {
		topic := fmt.Sprintf("v2/fw/request/%d/chunk/%d", req, n)
		t, err := g.link.Publish(ctx, topic, []byte(strconv.Itoa(otaChunkSize)), 1, 1)
		if err == nil {
			err = t.Wait(ctx)
		}
		if err != nil {
			return fmt.Errorf("requesting chunk %d: %w", n, err)
		}
		data, err := g.awaitChunk(ctx, req, n)
		if err != nil {
			return err
		}
		if len(data) == 0 {
			return fmt.Errorf("chunk %d empty after %d of %d bytes", n, got, fw.Size)
		}
		if got+int64(len(data)) > fw.Size {
			return fmt.Errorf("firmware larger than fw_size %d", fw.Size)
		}
		if _, err := f.Write(data); err != nil {
			return err
		}
		h.Write(data)
		got += int64(len(data))
	}
	if err := f.Sync(); err != nil {
		return err
	}
	g.fwState(ctx, fw, "DOWNLOADED", "")
	sum := hex.EncodeToString(h.Sum(nil))
	if !strings.EqualFold(sum, fw.Checksum) {
		return fmt.Errorf("checksum mismatch: got %s, want %s", sum, fw.Checksum)
	}
	g.fwState(ctx, fw, "VERIFIED", "")
	f.Close()
	// The new binary must run on this machine before it replaces the old.
	tctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(tctx, tmp, "version").CombinedOutput(); err != nil {
		return fmt.Errorf("new binary does not run here: %v: %s", err, strings.TrimSpace(string(out)))
	}
	g.fwState(ctx, fw, "UPDATING", "")
	marker, _ := json.Marshal(fw)
	if err := atomicfile.Write(filepath.Join(g.opts.DataDir, otaPendingFile), marker, 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, exe); err != nil {
		return fmt.Errorf("replacing the executable: %w", err)
	}
	ok = true
	if d, err := os.Open(filepath.Dir(exe)); err == nil {
		d.Sync()
		d.Close()
	}
	g.log.Info("firmware update: installed, restarting", "version", fw.Version)
	g.requestRestart()
	return nil
}

func (g *Gateway) awaitChunk(ctx context.Context, req, n int) ([]byte, error) {
	timer := time.NewTimer(otaChunkTimeout)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-timer.C:
			return nil, fmt.Errorf("chunk %d: no answer within %v", n, otaChunkTimeout)
		case c := <-g.ota.chunks:
			if c.req == req && c.n == n {
				return c.data, nil
			}
		}
	}
}

// otaReport tells ThingsBoard, after a restart into a new version, that
// the update completed.
func (g *Gateway) otaReport(ctx context.Context) {
	path := filepath.Join(g.opts.DataDir, otaPendingFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) || err != nil {
		return
	}
	var fw fwInfo
	if json.Unmarshal(b, &fw) == nil {
		if fw.Version == g.opts.Version {
			g.fwState(ctx, fw, "UPDATED", "")
		} else {
			g.fwState(ctx, fw, "FAILED", "running version "+g.opts.Version+" after the update")
		}
	}
	os.Remove(path)
}

// otaCheck asks for the firmware attributes after a connect, so an update
// assigned while the gateway was offline starts too.
func (g *Gateway) otaCheck(ctx context.Context) {
	req, ok := g.link.(ownRequester)
	if g.opts.Executable == "" || !ok {
		return
	}
	g.spawn(func() {
		rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		_, shared, err := req.RequestOwnAttributes(rctx, nil, []string{"fw_title", "fw_version", "fw_size", "fw_checksum", "fw_checksum_algorithm"})
		if err != nil || len(shared) == 0 {
			return
		}
		m := map[string]json.RawMessage{}
		for k, v := range shared {
			b, _ := json.Marshal(v)
			m[k] = b
		}
		g.otaAttributes(m)
	})
}
