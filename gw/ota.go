package gw

import (
	"github.com/tbgw/tbgw/drivers/kit/atomicfile"

	"context"
	"crypto/md5"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
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
// fw_checksum_algorithm) with the expected title (thingsboard.ota.title,
// default "tbgw") whose version differs from the running one, the image is
// fetched in chunks (v2/fw/request/<id>/chunk/<n> →
// v2/fw/response/<id>/chunk/<n>), its checksum verified, and then either
//
//   - (binary mode) written beside the executable, test-run (`<new>
//     version`), installed with the previous binary kept as <exe>.prev, and
//     Run returns ErrUpdate: main then runs the new binary on trial
//     (RunTrial, otatrial.go), which commits it once it is healthy or
//     restores the previous binary; or
//   - (image mode, thingsboard.ota.updater set) handed to the updater
//     command (RAUC, SWUpdate, sysupgrade or a wrapper) as its last
//     argument; the system's update mechanism does the rest.
//
// Each step is reported as telemetry fw_state (DOWNLOADING, DOWNLOADED,
// VERIFIED, UPDATING, UPDATED or FAILED with fw_error). A firmware that
// failed (its trial or its updater) is not retried automatically until
// ThingsBoard assigns another one.

const (
	otaChunkSize    = 64 << 10
	otaChunkTimeout = 30 * time.Second
	otaMaxSize      = 256 << 20
	otaPendingFile  = ".tbgw-ota-pending"
	otaFailedFile   = ".tbgw-ota-failed"
	otaImageFile    = "tbgw-ota-image"
	otaDefaultTitle = "tbgw"
)

// ErrUpdate is returned by Run when a new binary has been installed and
// must now run on trial (RunTrial). It wraps ErrRestart.
var ErrUpdate = fmt.Errorf("new binary installed, trial run pending: %w", ErrRestart)

// otaMarker is the pending-update file in the data directory.
type otaMarker struct {
	fwInfo
	// State: "trial" (installed, not yet healthy), "committed", "failed"
	// (previous binary restored), "installed" (handed to the updater). A
	// marker without state (older tbgw) counts as committed.
	State  string `json:"state,omitempty"`
	Prev   string `json:"prev,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Writer is the instance that wrote the marker; an image update is
	// judged only by a later instance.
	Writer string `json:"writer,omitempty"`
}

func readMarker(dataDir string) (otaMarker, bool) {
	var m otaMarker
	b, err := os.ReadFile(filepath.Join(dataDir, otaPendingFile))
	if err != nil || json.Unmarshal(b, &m) != nil {
		return m, false
	}
	return m, true
}

func writeMarker(dataDir string, m otaMarker) error {
	b, _ := json.Marshal(m)
	return atomicfile.Write(filepath.Join(dataDir, otaPendingFile), b, 0o600)
}

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
	busy     atomic.Bool
	nextID   atomic.Int64
	chunks   chan otaChunk
	refused  atomic.Pointer[string]          // last fw_title/version refused (logged once)
	update   atomic.Bool                     // Run returns ErrUpdate
	instance string                          // random id of this process's gateway
	base     atomic.Pointer[context.Context] // Run's context: updates end with it
}

func (g *Gateway) otaTitle() string {
	if t := g.cfg.ThingsBoard.OTA.Title; t != "" {
		return t
	}
	return otaDefaultTitle
}

// failedBefore reports whether fw is the firmware whose update failed last.
func failedBefore(dataDir string, fw fwInfo) bool {
	b, err := os.ReadFile(filepath.Join(dataDir, otaFailedFile))
	if err != nil {
		return false
	}
	var f fwInfo
	return json.Unmarshal(b, &f) == nil && f.Title == fw.Title && f.Version == fw.Version && strings.EqualFold(f.Checksum, fw.Checksum)
}

func rememberFailed(dataDir string, fw fwInfo) {
	b, _ := json.Marshal(fw)
	atomicfile.Write(filepath.Join(dataDir, otaFailedFile), b, 0o600)
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
	if fw.Title != g.otaTitle() {
		key := fw.Title + "\x00" + fw.Version
		if old := g.ota.refused.Swap(&key); old != nil && *old == key {
			return // refused and reported already
		}
		g.log.Warn("firmware update refused: wrong fw_title", "fw_title", fw.Title, "want", g.otaTitle(), "version", fw.Version)
		g.spawn(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			g.fwState(ctx, fw, "FAILED", fmt.Sprintf("fw_title %q is not %q (thingsboard.ota.title)", fw.Title, g.otaTitle()))
		})
		return
	}
	if failedBefore(g.opts.DataDir, fw) {
		g.log.Debug("firmware update skipped: this firmware failed before", "version", fw.Version)
		return
	}
	if !g.ota.busy.CompareAndSwap(false, true) {
		g.log.Info("firmware update already in progress", "version", fw.Version)
		return
	}
	g.spawn(func() {
		defer g.ota.busy.Store(false)
		base := context.Background()
		if p := g.ota.base.Load(); p != nil {
			base = *p
		}
		ctx, cancel := context.WithTimeout(base, 30*time.Minute)
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
	vals := map[string]any{"current_fw_title": g.otaTitle(), "current_fw_version": g.opts.Version, "fw_state": state}
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
	image := len(g.cfg.ThingsBoard.OTA.Updater) > 0
	if image {
		tmp = filepath.Join(g.opts.DataDir, otaImageFile)
	}
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o700)
	if err != nil {
		return fmt.Errorf("cannot write the image: %w", err)
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
	if image {
		return g.otaHandOver(ctx, fw, tmp)
	}
	// The new binary must run on this machine before it replaces the old.
	tctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(tctx, tmp, "version").CombinedOutput(); err != nil {
		return fmt.Errorf("new binary does not run here: %v: %s", err, strings.TrimSpace(string(out)))
	}
	g.fwState(ctx, fw, "UPDATING", "")
	// Keep the running binary until the new one has proved itself.
	prev := exe + ".prev"
	os.Remove(prev)
	if err := os.Link(exe, prev); err != nil {
		if err := copyFile(exe, prev); err != nil {
			return fmt.Errorf("keeping the previous binary: %w", err)
		}
	}
	if err := writeMarker(g.opts.DataDir, otaMarker{fwInfo: fw, State: "trial", Prev: prev, Writer: g.ota.instance}); err != nil {
		os.Remove(prev)
		return err
	}
	if err := os.Rename(tmp, exe); err != nil {
		os.Remove(prev)
		os.Remove(filepath.Join(g.opts.DataDir, otaPendingFile))
		return fmt.Errorf("replacing the executable: %w", err)
	}
	ok = true
	syncDir(filepath.Dir(exe))
	g.log.Info("firmware update: installed, restarting into it on trial", "version", fw.Version, "previous", prev)
	g.ota.update.Store(true)
	g.requestRestart()
	return nil
}

// otaHandOver gives a verified image to the configured updater.
func (g *Gateway) otaHandOver(ctx context.Context, fw fwInfo, path string) error {
	defer os.Remove(path)
	argv := append(append([]string{}, g.cfg.ThingsBoard.OTA.Updater...), path)
	g.fwState(ctx, fw, "UPDATING", "")
	if err := writeMarker(g.opts.DataDir, otaMarker{fwInfo: fw, State: "installed", Writer: g.ota.instance}); err != nil {
		return err
	}
	g.log.Info("firmware update: handing the image to the updater", "command", strings.Join(argv, " "), "version", fw.Version)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "TB_GW_FW_TITLE="+fw.Title, "TB_GW_FW_VERSION="+fw.Version,
		"TB_GW_FW_CHECKSUM="+fw.Checksum, "TB_GW_FW_CHECKSUM_ALGORITHM="+fw.Algorithm)
	cmd.Dir = g.opts.DataDir
	cmd.WaitDelay = 5 * time.Second
	out := &capBuffer{max: 4 << 10}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		os.Remove(filepath.Join(g.opts.DataDir, otaPendingFile))
		rememberFailed(g.opts.DataDir, fw)
		text, _, _ := out.since(0)
		return fmt.Errorf("updater %s: %v: %s", argv[0], err, lastLines(text, 5))
	}
	g.log.Info("firmware update: the updater accepted the image; UPDATED is reported once the new version runs", "version", fw.Version)
	return nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	fi, err := os.Stat(from)
	if err != nil {
		return err
	}
	return atomicfile.Write(to, b, fi.Mode().Perm())
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
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

// otaReport tells ThingsBoard, after a restart, how the last update
// ended.
func (g *Gateway) otaReport(ctx context.Context) {
	m, ok := readMarker(g.opts.DataDir)
	if !ok || g.opts.Trial != nil {
		return
	}
	path := filepath.Join(g.opts.DataDir, otaPendingFile)
	switch m.State {
	case "trial":
		// Interrupted before the trial ended; main resumes it at start.
		return
	case "installed":
		if m.Writer == g.ota.instance {
			return // the updater has not taken effect yet
		}
		if m.Version == g.opts.Version {
			g.fwState(ctx, m.fwInfo, "UPDATED", "")
		} else {
			rememberFailed(g.opts.DataDir, m.fwInfo)
			g.fwState(ctx, m.fwInfo, "FAILED", "still running version "+g.opts.Version+" after the updater ran")
		}
	case "failed":
		rememberFailed(g.opts.DataDir, m.fwInfo)
		g.fwState(ctx, m.fwInfo, "FAILED", m.Reason)
	default: // committed
		if m.Version == g.opts.Version {
			g.fwState(ctx, m.fwInfo, "UPDATED", "")
		} else {
			g.fwState(ctx, m.fwInfo, "FAILED", "running version "+g.opts.Version+" after the update")
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
