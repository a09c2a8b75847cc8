package can

import (
	"fmt"
	"time"

	"github.com/tbgw/tbgw/codec/model"
	"github.com/tbgw/tbgw/drivers/can/socketcan"
	"github.com/tbgw/tbgw/gw/connector"
)

// converter turns frames into device data. It belongs to the reader
// goroutine.
type converter struct {
	c       *Connector
	out     []connector.Data
	idx     map[*device]int
	warned  map[*item]bool
	errLog  map[string]time.Time
	errSeen map[string]uint64

	pyWarned  map[*device]bool
	pyDevs    []*device           // devices with an uplink converter matched by the current frame
	pyMatched map[*device][]*item // their items
}

func newConverter(c *Connector) *converter {
	return &converter{c: c, idx: map[*device]int{}, warned: map[*item]bool{},
		errLog: map[string]time.Time{}, errSeen: map[string]uint64{},
		pyWarned: map[*device]bool{}, pyMatched: map[*device][]*item{}}
}

// convert returns the data of frames: one Data per frame and device, so
// that every frame's values get their own timestamp (the gateway stamps
// each Data once). The returned slice is reused by the next call.
func (v *converter) convert(frames []socketcan.Frame) []connector.Data {
	v.out = v.out[:0]
	st := &v.c.stats
	st.Add("framesReceived", uint64(len(frames)))
	for i := range frames {
		f := &frames[i]
		if f.Err {
			v.errorFrame(f)
			continue
		}
		clear(v.idx)
		items := v.c.plan.routes[route{id: f.ID, ext: f.Extended}]
		payload := f.Payload()
		matched := false
		for _, it := range items {
			if !it.Matches(payload) {
				continue
			}
			matched = true
			if it.dev.pyUp != nil {
				if len(v.pyMatched[it.dev]) == 0 {
					v.pyDevs = append(v.pyDevs, it.dev)
				}
				v.pyMatched[it.dev] = append(v.pyMatched[it.dev], it)
				continue
			}
			val, err := it.Decode(payload)
			if err != nil {
				st.Add("decodeErrors", 1)
				if !v.warned[it] {
					v.warned[it] = true
					v.c.log.Warn("cannot convert CAN frame (logged once per key)", "device", it.dev.name, "key", it.Key, "frame", f.String(), "err", err)
				}
				continue
			}
			v.add(it, val)
		}
		if !matched {
			st.Add("framesIgnored", 1)
		}
		for _, d := range v.pyDevs {
			v.pyConvert(d, v.pyMatched[d], payload, time.Now().UnixMilli())
			v.pyMatched[d] = v.pyMatched[d][:0]
		}
		v.pyDevs = v.pyDevs[:0]
	}
	for i := 0; i < len(v.out); {
		if len(v.out[i].Attributes) == 0 && len(v.out[i].Telemetry) == 0 {
			v.out = append(v.out[:i], v.out[i+1:]...)
			continue
		}
		i++
	}
	return v.out
}

func (v *converter) add(it *item, val any) {
	d := it.dev
	if d.onlyOnChange {
		k := "a:" + it.Key
		if it.telemetry {
			k = "t:" + it.Key
		}
		if old, ok := d.last[k]; ok && old == val {
			return
		}
		if _, raw := val.([]byte); !raw {
			d.last[k] = val
		}
	}
	i, ok := v.idx[d]
	if !ok {
		i = len(v.out)
		v.idx[d] = i
		v.out = append(v.out, connector.Data{Device: d.name, Type: d.typ})
	}
	p := model.Point{Key: it.Key, Value: val, Report: it.report}
	if it.telemetry {
		v.out[i].Telemetry = append(v.out[i].Telemetry, p)
	} else {
		v.out[i].Attributes = append(v.out[i].Attributes, p)
	}
}

// errorFrame counts what an error frame reports and logs each kind at
// most once a minute.
func (v *converter) errorFrame(f *socketcan.Frame) {
	st := &v.c.stats
	st.Add("errorFrames", 1)
	for _, ev := range f.ErrorEvents() {
		st.Add("error."+ev, 1)
		v.errSeen[ev]++
		now := time.Now()
		if now.Sub(v.errLog[ev]) < time.Minute {
			continue
		}
		v.errLog[ev] = now
		v.c.log.Warn(fmt.Sprintf("CAN bus %s", ev), "channel", v.c.plan.channel, "frame", f.String(), "seen", v.errSeen[ev])
	}
}
