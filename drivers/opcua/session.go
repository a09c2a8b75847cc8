package opcua

import (
	"github.com/tbgw/tbgw/drivers/kit"

	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/gopcua/opcua"
	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/ua"
)

// session is one connected client: secure channel plus session. It is
// replaced as a whole when anything about the connection goes wrong.
type session struct {
	cl      *opcua.Client
	log     *slog.Logger
	timeout time.Duration

	lost     chan struct{} // closed when gopcua reports the connection gone
	lostOnce sync.Once
	done     chan struct{} // closed by close
	wg       sync.WaitGroup

	maxRead    int // nodes per Read
	maxMonitor int // items per CreateMonitoredItems

	mu       sync.Mutex
	children map[string]*kids // browse cache: node id -> children
	cached   int              // children held in the cache
	types    map[string]typeInfo
}

type child struct {
	name ua.QualifiedName
	id   *ua.NodeID
}

// kids are the children of one node, indexed by browse name.
type kids struct {
	list   []child
	byName map[string][]int
}

type typeInfo struct {
	typ   ua.TypeID
	array bool
}

// Cache bounds: children over all browsed nodes, and write targets whose
// type is remembered.
const (
	cacheLimit     = 200000
	typeCacheLimit = 10000
)

// dial connects a new session.
func (c *Connector) dial(ctx context.Context) (*session, error) {
	stateCh := make(chan opcua.ConnState, 32)
	opts, err := c.clientOptions(ctx, stateCh)
	if err != nil {
		return nil, err
	}
	cl, err := opcua.NewClient(c.cfg.url, opts...)
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, 2*c.cfg.timeout)
	defer cancel()
	if err := cl.Connect(cctx); err != nil {
		closeClient(cl, c.cfg.timeout)
		return nil, fmt.Errorf("connect: %w", err)
	}
	s := &session{
		cl:       cl,
		log:      c.log,
		timeout:  c.cfg.timeout,
		lost:     make(chan struct{}),
		done:     make(chan struct{}),
		maxRead:  100,
		children: map[string]*kids{},
		types:    map[string]typeInfo{},
	}
	s.wg.Add(1)
	go func() {
		// A panic here ends the session (and is logged) instead of the process.
		if err := kit.Protect("opcua state watch", func() error { s.watchState(stateCh); return nil }); err != nil {
			s.log.Error("session watcher failed", "err", err)
			s.markLost()
		}
	}()
	s.readLimits(ctx, c.cfg)
	return s, nil
}

func closeClient(cl *opcua.Client, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	_ = cl.Close(ctx)
}

// watchState turns gopcua's state changes into s.lost.
func (s *session) watchState(ch <-chan opcua.ConnState) {
	defer s.wg.Done()
	for {
		select {
		case <-s.done:
			return
		case st := <-ch:
			if st == opcua.Disconnected || st == opcua.Closed {
				s.markLost()
			}
		}
	}
}

func (s *session) markLost() { s.lostOnce.Do(func() { close(s.lost) }) }

// close ends the session; the channel's state sends that follow land in
// the buffered state channel.
func (s *session) close() {
	close(s.done)
	s.wg.Wait()
	closeClient(s.cl, s.timeout)
}

// readLimits reads the server's operation limits.
func (s *session) readLimits(ctx context.Context, cfg *settings) {
	s.maxMonitor = cfg.subBatch
	rctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	res, err := s.cl.Read(rctx, &ua.ReadRequest{
		NodesToRead: []*ua.ReadValueID{
			{NodeID: ua.NewNumericNodeID(0, id.Server_ServerCapabilities_OperationLimits_MaxNodesPerRead), AttributeID: ua.AttributeIDValue},
			{NodeID: ua.NewNumericNodeID(0, id.Server_ServerCapabilities_OperationLimits_MaxMonitoredItemsPerCall), AttributeID: ua.AttributeIDValue},
		},
		TimestampsToReturn: ua.TimestampsToReturnNeither,
	})
	if err != nil || len(res.Results) != 2 {
		s.log.Debug("server operation limits not readable, using defaults", "err", err)
		return
	}
	if v, ok := uintValue(res.Results[0]); ok && v > 0 {
		s.maxRead = int(min(v, 10000))
	}
	if v, ok := uintValue(res.Results[1]); ok && v > 0 {
		s.maxMonitor = int(min(v, uint64(cfg.subBatch)))
	}
	s.log.Debug("server limits", "maxNodesPerRead", s.maxRead, "maxMonitoredItemsPerCall", s.maxMonitor)
}

func uintValue(dv *ua.DataValue) (uint64, bool) {
	if dv == nil || dv.Status != ua.StatusOK || dv.Value == nil {
		return 0, false
	}
	switch x := dv.Value.Value().(type) {
	case uint32:
		return uint64(x), true
	case uint16:
		return uint64(x), true
	case uint64:
		return x, true
	case int32:
		return uint64(max(x, 0)), true
	}
	return 0, false
}

// ctx returns a request context bounded by the request timeout.
func (s *session) ctx(parent context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(parent, s.timeout)
}

// clearCache forgets browse results (before a rescan).
func (s *session) clearCache() {
	s.mu.Lock()
	s.children, s.cached = map[string]*kids{}, 0
	s.types = map[string]typeInfo{}
	s.mu.Unlock()
}

// browse lists the hierarchical children of node, from the cache if there.
func (s *session) browse(ctx context.Context, node *ua.NodeID) (*kids, error) {
	key := node.String()
	s.mu.Lock()
	k, ok := s.children[key]
	s.mu.Unlock()
	if ok {
		return k, nil
	}
	rctx, cancel := s.ctx(ctx)
	defer cancel()
	res, err := s.cl.Browse(rctx, &ua.BrowseRequest{
		View: &ua.ViewDescription{ViewID: ua.NewTwoByteNodeID(0)},
		NodesToBrowse: []*ua.BrowseDescription{{
			NodeID:          node,
			BrowseDirection: ua.BrowseDirectionForward,
			ReferenceTypeID: ua.NewNumericNodeID(0, id.HierarchicalReferences),
			IncludeSubtypes: true,
			NodeClassMask:   uint32(ua.NodeClassAll),
			ResultMask:      uint32(ua.BrowseResultMaskBrowseName),
		}},
	})
	if err != nil {
		return nil, fmt.Errorf("browse %s: %w", key, err)
	}
	if len(res.Results) != 1 {
		return nil, fmt.Errorf("browse %s: %d results", key, len(res.Results))
	}
	r := res.Results[0]
	if isBad(r.StatusCode) {
		return nil, fmt.Errorf("browse %s: %w", key, r.StatusCode)
	}
	refs := r.References
	cp := r.ContinuationPoint
	for guard := 0; len(cp) > 0 && guard < 10000; guard++ {
		nctx, ncancel := s.ctx(ctx)
		nres, err := s.cl.BrowseNext(nctx, &ua.BrowseNextRequest{ContinuationPoints: [][]byte{cp}})
		ncancel()
		if err != nil {
			return nil, fmt.Errorf("browse next %s: %w", key, err)
		}
		if len(nres.Results) != 1 || isBad(nres.Results[0].StatusCode) {
			break
		}
		refs = append(refs, nres.Results[0].References...)
		cp = nres.Results[0].ContinuationPoint
	}
	k = &kids{list: make([]child, 0, len(refs)), byName: make(map[string][]int, len(refs))}
	for _, ref := range refs {
		if ref.NodeID == nil || ref.NodeID.NodeID == nil || ref.BrowseName == nil {
			continue
		}
		if ref.NodeID.ServerIndex != 0 || ref.NodeID.NamespaceURI != "" {
			continue // remote nodes cannot be read through this session
		}
		k.byName[ref.BrowseName.Name] = append(k.byName[ref.BrowseName.Name], len(k.list))
		k.list = append(k.list, child{name: *ref.BrowseName, id: ref.NodeID.NodeID})
	}
	s.mu.Lock()
	if s.cached+len(k.list) > cacheLimit {
		s.children, s.cached = map[string]*kids{}, 0
	}
	s.children[key] = k
	s.cached += len(k.list)
	s.mu.Unlock()
	return k, nil
}

var rootFolder = ua.NewNumericNodeID(0, id.RootFolder)

// resolve finds the nodes a ref names; base is the device node for
// relative paths. Several nodes may match a path (equal browse names).
func (s *session) resolve(ctx context.Context, r ref, base *ua.NodeID, all bool) ([]*ua.NodeID, error) {
	switch r.kind {
	case refNodeID:
		return []*ua.NodeID{r.id}, nil
	case refAbsolute:
		base = rootFolder
	case refRelative:
		if base == nil {
			return nil, fmt.Errorf("relative path %s without a device node", r)
		}
	default:
		return nil, fmt.Errorf("%q is a constant, not a node", r.text)
	}
	level := []*ua.NodeID{base}
	for _, seg := range r.segs {
		var next []*ua.NodeID
		for _, n := range level {
			kids, err := s.browse(ctx, n)
			if err != nil {
				return nil, err
			}
			for _, i := range kids.byName[seg.name] {
				if k := kids.list[i]; seg.ns < 0 || int(k.name.NamespaceIndex) == seg.ns {
					next = append(next, k.id)
					if !all {
						break
					}
				}
			}
			if !all && len(next) > 0 {
				break
			}
		}
		if len(next) == 0 && seg.re != nil {
			next = s.matchLegacy(ctx, level, seg, all)
		}
		if len(next) == 0 {
			return nil, fmt.Errorf("%w: %s (no %q)", errNotFound, r, seg.String())
		}
		level = next
	}
	return level, nil
}

var errNotFound = errors.New("node not found")

// matchLegacy finds the children of level whose browse names match seg as
// a regular expression (upstream before 3.4.4), in browse order.
func (s *session) matchLegacy(ctx context.Context, level []*ua.NodeID, seg segment, all bool) []*ua.NodeID {
	var next []*ua.NodeID
	for _, n := range level {
		kids, err := s.browse(ctx, n) // cached by the literal pass
		if err != nil {
			continue
		}
		for _, k := range kids.list {
			if (seg.ns < 0 || int(k.name.NamespaceIndex) == seg.ns) && seg.re.MatchString(k.name.Name) {
				next = append(next, k.id)
				if !all {
					return next
				}
			}
		}
	}
	return next
}

// resolveOne is resolve for a single node.
func (s *session) resolveOne(ctx context.Context, r ref, base *ua.NodeID) (*ua.NodeID, error) {
	ids, err := s.resolve(ctx, r, base, false)
	if err != nil {
		return nil, err
	}
	return ids[0], nil
}

// read reads the values of nodes, in batches of the server's limit.
func (s *session) read(ctx context.Context, nodes []*ua.NodeID) ([]*ua.DataValue, error) {
	out := make([]*ua.DataValue, 0, len(nodes))
	for start := 0; start < len(nodes); start += s.maxRead {
		end := min(start+s.maxRead, len(nodes))
		req := &ua.ReadRequest{TimestampsToReturn: ua.TimestampsToReturnBoth}
		for _, n := range nodes[start:end] {
			req.NodesToRead = append(req.NodesToRead, &ua.ReadValueID{NodeID: n, AttributeID: ua.AttributeIDValue})
		}
		rctx, cancel := s.ctx(ctx)
		res, err := s.cl.Read(rctx, req)
		cancel()
		if err != nil {
			return nil, err
		}
		if len(res.Results) != end-start {
			return nil, fmt.Errorf("read: %d results for %d nodes", len(res.Results), end-start)
		}
		out = append(out, res.Results...)
	}
	return out, nil
}

// readValue reads one node's value; a bad status is an error.
func (s *session) readValue(ctx context.Context, node *ua.NodeID) (any, error) {
	res, err := s.read(ctx, []*ua.NodeID{node})
	if err != nil {
		return nil, err
	}
	dv := res[0]
	if isBad(dv.Status) {
		return nil, fmt.Errorf("read %s: %w", node, statusError(dv.Status))
	}
	return variantValue(dv.Value), nil
}

// typeOf finds the built-in type and array-ness of a variable's value: from
// its current value, else from its DataType attribute.
func (s *session) typeOf(ctx context.Context, node *ua.NodeID) (typeInfo, error) {
	key := node.String()
	s.mu.Lock()
	ti, ok := s.types[key]
	s.mu.Unlock()
	if ok {
		return ti, nil
	}
	rctx, cancel := s.ctx(ctx)
	defer cancel()
	res, err := s.cl.Read(rctx, &ua.ReadRequest{
		NodesToRead: []*ua.ReadValueID{
			{NodeID: node, AttributeID: ua.AttributeIDValue},
			{NodeID: node, AttributeID: ua.AttributeIDDataType},
			{NodeID: node, AttributeID: ua.AttributeIDValueRank},
		},
		TimestampsToReturn: ua.TimestampsToReturnNeither,
	})
	if err != nil {
		return typeInfo{}, err
	}
	if len(res.Results) != 3 {
		return typeInfo{}, fmt.Errorf("read type of %s: bad response", node)
	}
	if isBad(res.Results[1].Status) {
		return typeInfo{}, fmt.Errorf("%s: %w", node, statusError(res.Results[1].Status))
	}
	if v := res.Results[0].Value; v != nil && v.Type() != ua.TypeIDNull {
		ti = typeInfo{typ: v.Type(), array: v.ArrayLength() > 0 || v.Has(0x80)}
	} else if dt := res.Results[1].Value; dt != nil {
		if id := dt.NodeID(); id != nil && id.Namespace() == 0 && id.IntID() >= 1 && id.IntID() <= 25 {
			ti.typ = ua.TypeID(id.IntID())
		}
		if vr := res.Results[2].Value; vr != nil {
			if r, ok := vr.Value().(int32); ok && r >= 1 {
				ti.array = true
			}
		}
	}
	s.mu.Lock()
	if len(s.types) >= typeCacheLimit {
		s.types = map[string]typeInfo{}
	}
	s.types[key] = ti
	s.mu.Unlock()
	return ti, nil
}

// write writes v to node, cast to the node's type.
func (s *session) write(ctx context.Context, node *ua.NodeID, v any) (any, error) {
	ti, err := s.typeOf(ctx, node)
	if err != nil {
		return nil, err
	}
	var variant *ua.Variant
	if ti.typ == 0 {
		variant, err = guessVariant(v)
	} else {
		variant, err = toVariant(ti.typ, ti.array, v)
	}
	if err != nil {
		return nil, fmt.Errorf("write %s: %w", node, err)
	}
	rctx, cancel := s.ctx(ctx)
	defer cancel()
	res, err := s.cl.Write(rctx, &ua.WriteRequest{NodesToWrite: []*ua.WriteValue{{
		NodeID:      node,
		AttributeID: ua.AttributeIDValue,
		Value:       &ua.DataValue{EncodingMask: ua.DataValueValue, Value: variant},
	}}})
	if err != nil {
		return nil, fmt.Errorf("write %s: %w", node, err)
	}
	if len(res.Results) != 1 {
		return nil, fmt.Errorf("write %s: bad response", node)
	}
	if isBad(res.Results[0]) {
		return nil, fmt.Errorf("write %s: %w", node, statusError(res.Results[0]))
	}
	return variantValue(variant), nil
}
