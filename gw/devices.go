package gw

import (
	"github.com/tbgw/tbgw/drivers/kit/atomicfile"

	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"sync"
	"time"
)

// DevicesFile is the name of the persisted device registry.
const DevicesFile = "connected_devices.json"

// device is one entry of the registry.
type device struct {
	Name      string
	Type      string
	Connector string // connector name
	ConnID    string
	Renamed   string // current name in ThingsBoard, "" if not renamed
	lastSeen  time.Time
	announced bool // v1/gateway/connect published in this session
	gone      bool // disconnected (inactivity or by its connector)
}

// registry tracks the devices the gateway has announced to ThingsBoard.
type registry struct {
	path string

	mu      sync.Mutex
	devs    map[string]*device // by original name
	renames map[string]string  // current ThingsBoard name -> original
	dirty   bool
	// kick, when set, is called (under mu, must not block) when the
	// registry becomes dirty: housekeeping arms its timer on demand.
	kick func()
}

// setDirty marks the registry for saving. Callers hold mu.
func (r *registry) setDirty() {
	if !r.dirty {
		r.dirty = true
		if r.kick != nil {
			r.kick()
		}
	}
}

// busy reports the work housekeeping has: unsaved changes (dirty), and,
// with the inactivity check, devices still connected (watch).
func (r *registry) busy(activity bool) (dirty, watch bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if activity {
		for _, d := range r.devs {
			if !d.gone && !d.lastSeen.IsZero() {
				watch = true
				break
			}
		}
	}
	return r.dirty, watch
}

func newRegistry(path string) *registry {
	return &registry{path: path, devs: map[string]*device{}, renames: map[string]string{}}
}

// persisted is one entry of connected_devices.json (tb-gateway 6.2).
type persisted struct {
	ConnectorName string  `json:"connectorName"`
	ConnectorID   string  `json:"connectorId"`
	DeviceType    string  `json:"deviceType"`
	Renaming      *string `json:"renaming"`
	Disconnected  bool    `json:"disconnected"`
}

// load reads the persisted registry. Entries of connectors that no longer
// exist (by id, then by name) are dropped. Legacy list entries
// [connectorName, deviceType, newName?] are accepted.
func (r *registry) load(connectors map[string]string) error {
	src, err := os.ReadFile(r.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(src, &raw); err != nil {
		return fmt.Errorf("%s: %w (starting with an empty registry)", r.path, err)
	}
	byID := map[string]string{}
	for name, id := range connectors {
		byID[id] = name
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for name, v := range raw {
		var p persisted
		if err := json.Unmarshal(v, &p); err != nil {
			var legacy []string
			if json.Unmarshal(v, &legacy) != nil || len(legacy) < 2 {
				continue
			}
			p = persisted{ConnectorName: legacy[0], DeviceType: legacy[1]}
			if len(legacy) > 2 && legacy[2] != "" {
				p.Renaming = &legacy[2]
			}
		}
		conn := byID[p.ConnectorID]
		if conn == "" {
			if _, ok := connectors[p.ConnectorName]; ok {
				conn = p.ConnectorName
			}
		}
		if conn == "" {
			r.setDirty()
			continue
		}
		d := &device{Name: name, Type: p.DeviceType, Connector: conn, ConnID: connectors[conn]}
		if p.Renaming != nil && *p.Renaming != "" && *p.Renaming != name {
			d.Renamed = *p.Renaming
			r.renames[d.Renamed] = name
		}
		r.devs[name] = d
	}
	return nil
}

// save writes the registry atomically (temp file, fsync, rename, fsync dir)
// if it changed.
func (r *registry) save() error {
	r.mu.Lock()
	if !r.dirty {
		r.mu.Unlock()
		return nil
	}
	out := make(map[string]persisted, len(r.devs))
	for name, d := range r.devs {
		p := persisted{ConnectorName: d.Connector, ConnectorID: d.ConnID, DeviceType: d.Type}
		if d.Renamed != "" {
			rn := d.Renamed
			p.Renaming = &rn
		}
		out[name] = p
	}
	r.dirty = false
	r.mu.Unlock()
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(r.path, b, 0o600); err != nil {
		r.mu.Lock()
		r.setDirty()
		r.mu.Unlock()
		return err
	}
	return nil
}

// seen records data of a device. It returns the device and whether it must
// be announced (new, or not announced in this session, or it had gone).
func (r *registry) seen(name, typ, conn, connID string, now time.Time) (dev device, announce bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	d := r.devs[name]
	if d == nil {
		if typ == "" {
			typ = "default"
		}
		d = &device{Name: name, Type: typ, Connector: conn, ConnID: connID}
		r.devs[name] = d
		r.setDirty()
	} else if d.Connector != conn || (typ != "" && d.Type != typ) {
		d.Connector, d.ConnID = conn, connID
		if typ != "" {
			d.Type = typ
		}
		d.announced = false
		r.setDirty()
	}
	d.lastSeen = now
	if !d.announced || d.gone {
		d.announced, d.gone = true, false
		return *d, true
	}
	return *d, false
}

// unannounceAll marks every device as not announced (after a reconnect)
// and returns them.
func (r *registry) unannounceAll() []device {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]device, 0, len(r.devs))
	for _, d := range r.devs {
		if d.gone {
			continue
		}
		d.announced = true
		out = append(out, *d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// resetAnnounced forgets which devices were announced in this session.
func (r *registry) resetAnnounced() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, d := range r.devs {
		d.announced = false
	}
}

// lookup finds a device by its ThingsBoard name (renamed or original).
func (r *registry) lookup(tbName string) (device, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	name := tbName
	if orig, ok := r.renames[tbName]; ok {
		name = orig
	}
	d, ok := r.devs[name]
	if !ok {
		return device{}, false
	}
	return *d, true
}

// tbName maps an original device name to its current ThingsBoard name.
func (r *registry) tbName(name string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if d, ok := r.devs[name]; ok && d.Renamed != "" {
		return d.Renamed
	}
	return name
}

// hasRenames reports whether any device is renamed (fast path for uplink).
func (r *registry) hasRenames() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.renames) > 0
}

// rename applies a gateway_device_renamed notification: old -> new name in
// ThingsBoard. old may itself be a current (renamed) name.
func (r *registry) rename(oldName, newName string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	orig := oldName
	if o, ok := r.renames[oldName]; ok {
		orig = o
		delete(r.renames, oldName)
	}
	d, ok := r.devs[orig]
	if !ok {
		return false
	}
	if newName == orig {
		d.Renamed = ""
	} else {
		d.Renamed = newName
		r.renames[newName] = orig
	}
	r.setDirty()
	return true
}

// remove forgets a device (deleted in ThingsBoard, or disconnected by its
// connector) so its next data announces it again.
func (r *registry) remove(tbName string) (device, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	name := tbName
	if orig, ok := r.renames[tbName]; ok {
		name = orig
		delete(r.renames, tbName)
	}
	d, ok := r.devs[name]
	if !ok {
		return device{}, false
	}
	delete(r.devs, name)
	if d.Renamed != "" {
		delete(r.renames, d.Renamed)
	}
	r.setDirty()
	return *d, true
}

// markGone flags a device disconnected without forgetting it.
func (r *registry) markGone(name string) (device, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	d, ok := r.devs[name]
	if !ok || d.gone {
		return device{}, false
	}
	d.gone = true
	return *d, true
}

// inactive returns devices not seen since before cutoff and marks them gone.
func (r *registry) inactive(cutoff time.Time) []device {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []device
	for _, d := range r.devs {
		if !d.gone && !d.lastSeen.IsZero() && d.lastSeen.Before(cutoff) {
			d.gone = true
			out = append(out, *d)
		}
	}
	return out
}

// ofConnector lists the devices of a connector.
func (r *registry) ofConnector(conn string) []device {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []device
	for _, d := range r.devs {
		if d.Connector == conn {
			out = append(out, *d)
		}
	}
	return out
}

// all maps ThingsBoard device names to connector names.
func (r *registry) all() map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]string, len(r.devs))
	for _, d := range r.devs {
		n := d.Name
		if d.Renamed != "" {
			n = d.Renamed
		}
		out[n] = d.Connector
	}
	return out
}
