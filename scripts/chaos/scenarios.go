package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tbgw/tbgw/scripts/rig"
)

type chaos struct {
	o   options
	ctx context.Context
	log io.Writer
}

// In-flight windows behind the duplicate bounds: the uplink loop has up to
// 8 batches of readBatch records unacknowledged by ThingsBoard; the device
// broker has up to brokerInflight messages handed to the gateway and not
// yet acknowledged; the generator up to genWindow per connection.
const (
	readBatch      = 1000
	uplinkBatches  = 8
	brokerInflight = 1000
	genWindow      = 1000
	genConns       = 4
)

const uplinkWindow = uplinkBatches * readBatch

// cursorLag is how far the log's persisted cursor may trail the
// acknowledgements (it is written every second or every 8192 acknowledged
// records): a gateway killed meanwhile delivers those again.
const cursorLag = 8192

func (c *chaos) sleep(d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-c.ctx.Done():
		return c.ctx.Err()
	case <-t.C:
		return nil
	}
}

// setup starts a rig with the gateway on the write-ahead log (fsync per
// batch, rejecting rather than dropping on overflow) and waits until data
// flows end to end.
func (c *chaos) setup(v *Verdict, gc rig.GatewayConfig) (*rig.Rig, error) {
	name := v.Name
	gc.Bin, gc.Storage, gc.Overflow, gc.ReadBatch = c.o.Bin, "file", "reject_new", readBatch
	r, err := rig.New(rig.Options{Dir: filepath.Join(c.o.Work, name), Gateway: gc, Log: c.log})
	if err != nil {
		return nil, err
	}
	v.rig = r
	if err := r.GW.Start(); err == nil {
		err = r.WaitReady(30 * time.Second)
	}
	if err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// load starts the generator at rate datapoints/s.
func (c *chaos) load(r *rig.Rig, rate float64) {
	r.Gen = rig.StartGenerator(r.Led, rig.GenConfig{Addr: r.Dev.Addr(), Devices: r.Devices("dev", c.o.Devices),
		Rate: rate / 8, Window: genWindow, Conns: genConns})
}

// finish stops the load, waits for every accepted message, stops the
// gateway and accounts.
func (c *chaos) finish(r *rig.Rig, v *Verdict) error {
	err := r.StopLoad(5 * time.Minute)
	v.Acc = r.Led.Account()
	v.LostList = r.Led.Lost(1 << 20)
	if serr := r.GW.Stop(); serr != nil && err == nil {
		err = fmt.Errorf("gateway stop: %w", serr)
	}
	if err != nil {
		return err
	}
	r.Logf("%s: %s", v.Name, v.Acc)
	return nil
}

// recover waits until everything acknowledged up to m is delivered and
// records the drain time.
func (c *chaos) recover(r *rig.Rig, v *Verdict, m rig.Mark, from time.Time) error {
	v.Backlog = max(v.Backlog, r.Led.Backlog())
	if _, err := r.WaitCovered(m, 10*time.Minute+4*c.o.Outage); err != nil {
		return err
	}
	v.Drain += time.Since(from)
	return nil
}

// tbOutage: the ThingsBoard side stops for the outage under load and comes
// back; the backlog must drain, at least 10 times faster than it built up.
func (c *chaos) tbOutage(v *Verdict) error {
	r, err := c.setup(v, rig.GatewayConfig{})
	if err != nil {
		return err
	}
	defer r.Close()
	c.load(r, c.o.Rate)
	if err := c.sleep(time.Second); err != nil {
		return err
	}
	r.Event("ThingsBoard down")
	r.TB.Stop()
	start := time.Now()
	if err := c.sleep(c.o.Outage); err != nil {
		return err
	}
	m := r.Led.Mark()
	v.Backlog = r.Led.Backlog()
	if err := r.TB.Start(); err != nil {
		return err
	}
	r.Event("ThingsBoard up")
	back := time.Now()
	v.Fault, v.Faults = back.Sub(start), 1
	n := r.TB.Connects()
	if err := r.Await(5*time.Minute, "the gateway's new ThingsBoard session", func() bool { return r.TB.Connects() > n }); err != nil {
		return err
	}
	// The session's start as ThingsBoard saw it, on the ledger clock.
	since := r.Led.Since(r.TB.LastConnect())
	v.Reconnect = time.Since(back) - since
	r.Logf("tb-outage: reconnected after %s, backlog %d messages", rig.Dur(v.Reconnect), v.Backlog)
	if err := c.recover(r, v, m, time.Now().Add(-since)); err != nil {
		return err
	}
	v.Ratio = true
	v.DupBound = uplinkWindow
	v.Note = fmt.Sprintf("%.0f dp/s offered; drained at %.0f dp/s after reconnecting", c.o.Rate,
		float64(v.Backlog)*8/v.Drain.Seconds())
	return c.finish(r, v)
}

// brokerRestart: the device broker is stopped (SIGTERM: it saves its
// sessions) and started again, several times, under load.
func (c *chaos) brokerRestart(v *Verdict) error {
	r, err := c.setup(v, rig.GatewayConfig{})
	if err != nil {
		return err
	}
	defer r.Close()
	c.load(r, c.o.Rate)
	for i := range c.o.Restarts {
		if err := c.sleep(time.Second); err != nil {
			return err
		}
		r.Event(fmt.Sprintf("device broker stopping (%d)", i+1))
		if err := r.Dev.Stop(); err != nil {
			return err
		}
		r.Event("device broker stopped")
		start := time.Now()
		if err := c.sleep(c.o.BrokerDown); err != nil {
			return err
		}
		if err := r.Dev.Start(); err != nil {
			return err
		}
		r.Event("device broker started")
		back := time.Now()
		v.Fault += back.Sub(start)
		v.Faults++
		// Recovered when data published after the restart arrives.
		delivered := r.Led.Counters().Delivered
		if err := r.Await(2*time.Minute, "data after the broker restart", func() bool {
			return r.Led.Counters().Delivered > delivered
		}); err != nil {
			return err
		}
		v.Drain += time.Since(back)
		if _, err := r.WaitCovered(r.Led.Mark(), 2*time.Minute); err != nil {
			return err
		}
	}
	v.DupBound = uint64(v.Faults) * (brokerInflight + genWindow*genConns)
	v.Note = "graceful stop (the broker persists its sessions); drain: until new data arrives"
	return c.finish(r, v)
}

// sigkill kills the gateway with SIGKILL at random moments under load and
// starts it again on the same data.
func (c *chaos) sigkill(v *Verdict) error {
	r, err := c.setup(v, rig.GatewayConfig{})
	if err != nil {
		return err
	}
	defer r.Close()
	c.load(r, c.o.Rate)
	var last time.Time
	for i := range c.o.Kills {
		run := c.o.KillMin + rand.N(c.o.KillMax-c.o.KillMin+1)
		if err := c.sleep(run); err != nil {
			return err
		}
		if !r.GW.Alive() {
			return fmt.Errorf("gateway died by itself before kill %d:\n%s", i+1, r.GW.LogTail(3000))
		}
		r.Event(fmt.Sprintf("SIGKILL %d", i+1))
		r.GW.Kill()
		down := rand.N(300 * time.Millisecond)
		if err := c.sleep(down); err != nil {
			return err
		}
		if err := r.GW.Start(); err != nil {
			return err
		}
		v.Faults++
		last = time.Now()
	}
	r.Logf("sigkill: %d kills done", v.Faults)
	if err := c.recover(r, v, r.Led.Mark(), last); err != nil {
		return err
	}
	v.DupBound = uint64(v.Faults) * (uplinkWindow + brokerInflight + cursorLag)
	v.Note = fmt.Sprintf("runs of %s..%s between kills at %.0f dp/s", c.o.KillMin, c.o.KillMax, c.o.Rate)
	return c.finish(r, v)
}

// diskFull puts the log on a small filesystem, stops ThingsBoard so the
// backlog fills it, keeps it full for a while, then lets ThingsBoard back:
// the log must drain, free space and take data again.
func (c *chaos) diskFull(v *Verdict) error {
	fs, err := rig.MountSmallFS(filepath.Join(c.o.Work, v.Name, "walfs"), c.o.FSSize)
	if errors.Is(err, rig.ErrNoSmallFS) {
		v.Skipped = err.Error()
		return nil
	}
	if err != nil {
		return err
	}
	defer fs.Unmount()
	r, err := c.setup(v, rig.GatewayConfig{WALDir: filepath.Join(fs.Dir, "wal")})
	if err != nil {
		return err
	}
	defer r.Close()
	c.load(r, c.o.FillRate)
	if err := c.sleep(500 * time.Millisecond); err != nil {
		return err
	}
	r.TB.Stop()
	start := time.Now()
	r.Event(fmt.Sprintf("ThingsBoard down, filling %d bytes", c.o.FSSize))
	storeErrs := func() int { return strings.Count(r.GW.LogTail(1<<20), "cannot store") }
	if err := r.Await(5*time.Minute, "the filesystem to fill up", func() bool {
		return fs.Free() < 64<<10 || storeErrs() > 0
	}); err != nil {
		return err
	}
	full := time.Now()
	r.Event("disk full")
	r.Gen.SetRate(c.o.Rate / 8)
	if err := c.sleep(c.o.DiskHold); err != nil {
		return err
	}
	if !r.GW.Alive() {
		return fmt.Errorf("gateway died with the disk full:\n%s", r.GW.LogTail(3000))
	}
	m := r.Led.Mark()
	v.Backlog = r.Led.Backlog()
	if err := r.TB.Start(); err != nil {
		return err
	}
	r.Event("ThingsBoard up")
	back := time.Now()
	v.Fault, v.Faults = back.Sub(start), 1
	if err := c.recover(r, v, m, back); err != nil {
		return err
	}
	// Writing resumed: what arrives now is stored and delivered too.
	if err := c.sleep(2 * time.Second); err != nil {
		return err
	}
	if _, err := r.WaitCovered(r.Led.Mark(), 2*time.Minute); err != nil {
		return fmt.Errorf("after the disk had room again: %w", err)
	}
	v.DupBound = uplinkWindow
	v.Note = fmt.Sprintf("%d MiB tmpfs full after %s, held %s; %d store errors logged", c.o.FSSize>>20,
		rig.Dur(full.Sub(start)), c.o.DiskHold, storeErrs())
	return c.finish(r, v)
}

// tailScenario kills the gateway under load while ThingsBoard is down (so
// the log tail holds undelivered events), damages the tail with f, and
// restarts everything.
func (c *chaos) tailScenario(v *Verdict, damage func(r *rig.Rig, seg string) error) (*rig.Rig, error) {
	r, err := c.setup(v, rig.GatewayConfig{})
	if err != nil {
		return nil, err
	}
	c.load(r, c.o.Rate)
	if err := c.sleep(time.Second); err != nil {
		return r, err
	}
	r.TB.Stop()
	if err := c.sleep(time.Second + rand.N(time.Second)); err != nil {
		return r, err
	}
	r.Event("SIGKILL")
	r.GW.Kill()
	seg, err := rig.LastSegment(r.GW.Cfg.WALDir)
	if err != nil {
		return r, err
	}
	if err := damage(r, seg); err != nil {
		return r, err
	}
	if err := r.GW.Start(); err != nil {
		return r, err
	}
	r.Event("gateway started on the damaged log")
	if err := r.TB.Start(); err != nil {
		return r, err
	}
	r.Event("ThingsBoard up")
	back := time.Now()
	v.Faults = 1
	if err := c.recover(r, v, r.Led.Mark(), back); err != nil {
		return r, err
	}
	v.DupBound = uplinkWindow + brokerInflight + cursorLag
	return r, nil
}

func repaired(r *rig.Rig) bool {
	b, _ := os.ReadFile(r.GW.LogPath())
	return strings.Contains(string(b), "damaged tail repaired")
}

// tornTail: a write cut short (the start of a record after the last one)
// must be repaired without losing anything.
func (c *chaos) tornTail(v *Verdict) error {
	r, err := c.tailScenario(v, func(_ *rig.Rig, seg string) error { return rig.TearTail(seg) })
	if r != nil {
		defer r.Close()
	}
	if err != nil {
		return err
	}
	if err := c.finish(r, v); err != nil {
		return err
	}
	if !repaired(r) {
		return errors.New("the gateway did not report a repaired tail")
	}
	v.Note = "half a record appended after SIGKILL; repaired on start"
	return nil
}

// corruptTail: stored records destroyed on disk (bytes flipped in one, the
// last cut in half) may be lost, and nothing else.
func (c *chaos) corruptTail(v *Verdict) error {
	v.Destroyed = map[string]bool{}
	r, err := c.tailScenario(v, func(r *rig.Rig, seg string) error {
		recs, err := rig.CorruptTail(seg)
		for _, rec := range recs {
			for _, s := range rec.Msgs {
				v.Destroyed[fmt.Sprintf("%s#%d", rec.Device, s)] = true
				r.Led.Excuse(rec.Device, s)
			}
		}
		if err == nil && len(v.Destroyed) == 0 {
			err = errors.New("corrupt tail: the damaged records hold no generated messages")
		}
		return err
	})
	if r != nil {
		defer r.Close()
	}
	if err != nil {
		return err
	}
	if err := c.finish(r, v); err != nil {
		return err
	}
	v.Note = "one record's bytes flipped, the last cut in half, after SIGKILL"
	if !repaired(r) {
		return errors.New("the gateway did not report a repaired tail")
	}
	return nil
}
