package transfer

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rdbferry/rdbferry/internal/resp"
	"github.com/rdbferry/rdbferry/rdb"
)

// ClusterOptions configure how ClusterWithOptions finds the masters. The
// per-node sources have options of their own.
type ClusterOptions struct {
	// TLS configures the discovery connection of a rediss:// URL. Nil means
	// the system's roots and the URL's host as server name.
	TLS *tls.Config
	// DialTimeout bounds connecting and the discovery queries; default 10 s.
	DialTimeout time.Duration
}

// Cluster returns a source reading every master of a cluster in parallel,
// each through the given per-node source constructor (PSYNC or Scan),
// merged into one stream of records with per-node progress and errors.
// Records from different nodes interleave; each node's own order is kept.
//
// Open connects to rawURL (redis://, rediss://, with any "+variant" such as
// redis+scan://, and credentials) and discovers the masters with CLUSTER
// SHARDS (Redis 7.0+) or CLUSTER SLOTS. perNode is called with each
// master's URL: rawURL with its host and port replaced. A server without
// cluster support is read as a single node: perNode(rawURL) alone.
//
// Each node's Reader runs in its own goroutine; records cross to the
// caller's goroutine as copies (keys through Key.Clone), through a small
// channel, so memory stays bounded by a few values per node. The merged
// stream has a SelectDB before the first key and wherever the database
// changes (cluster nodes only have db 0: one SelectDB), keeps the first
// Aux field of each name except the nodes' own replication fields (repl-id,
// repl-offset, repl-stream-db…), keeps each function library once, passes
// module aux data on, and drops the per-node size hints (ResizeDB,
// SlotInfo) and Valkey slot imports.
//
// The first record is returned once every node has read its first record
// (or ended), so that Info describes them all: Name lists the cluster and
// its masters, Version is the lowest of the nodes' RDB versions, Flavor the
// first node's. Progress sums the nodes' (total -1 if any node's is
// unknown). An error in any node stops the whole source with an error
// naming the node and cancels the others; Close stops every goroutine. The
// per-node Readers must return from Next when the context given to Open is
// done.
func Cluster(rawURL string, perNode func(nodeURL string) Source) Source {
	return ClusterWithOptions(rawURL, ClusterOptions{}, perNode)
}

// ClusterWithOptions is Cluster with options for the discovery connection.
func ClusterWithOptions(rawURL string, opts ClusterOptions, perNode func(nodeURL string) Source) Source {
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = 10 * time.Second
	}
	return &clusterSource{url: rawURL, opts: opts, perNode: perNode}
}

type clusterSource struct {
	url     string
	opts    ClusterOptions
	perNode func(string) Source
}

func (s *clusterSource) String() string { return "cluster " + redactURL(s.url) }

func (s *clusterSource) Open(ctx context.Context) (Reader, error) {
	ep, err := parseServerURL(s.url)
	if err != nil {
		return nil, err
	}
	masters, err := discoverMasters(ctx, ep, s.opts)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: %w", ep.addr, err)
	}
	if masters == nil {
		return s.perNode(s.url).Open(ctx) // not a cluster
	}
	name := "cluster " + ep.redacted + " (masters " + strings.Join(masters, ", ") + ")"
	cctx, cancel := context.WithCancel(ctx)
	r := &clusterReader{
		name:     name,
		ctx:      ctx,
		cancel:   cancel,
		ch:       make(chan clusterItem, 4),
		errc:     make(chan clusterItem, len(masters)),
		ready:    make(chan struct{}, len(masters)),
		live:     len(masters),
		curDB:    -1,
		aux:      map[string]bool{},
		function: map[string]bool{},
	}
	for _, addr := range masters {
		u := *ep.u
		u.Host = addr
		n := &clusterNode{addr: addr, url: u.String()}
		n.total.Store(-1)
		r.nodes = append(r.nodes, n)
	}
	r.wg.Add(len(r.nodes))
	for i, n := range r.nodes {
		go r.runNode(cctx, i, n, s.perNode(n.url))
	}
	return r, nil
}

// discoverMasters returns the masters' addresses in the order of their
// first slots, or nil when the server has no cluster support.
func discoverMasters(ctx context.Context, ep serverURL, opts ClusterOptions) ([]string, error) {
	c, err := dialServer(ctx, ep, ep.addr, opts.TLS, opts.DialTimeout)
	if err != nil {
		return nil, err
	}
	defer c.nc.Close()
	stop := context.AfterFunc(ctx, func() { c.nc.Close() })
	defer stop()
	c.nc.SetDeadline(time.Now().Add(opts.DialTimeout))

	var masters []string
	x, err := c.do("CLUSTER", "SHARDS")
	if err == nil {
		masters, err = parseShardMasters(x, ep)
	} else if isServerError(err) && !clusterDisabled(err) {
		x, err = c.do("CLUSTER", "SLOTS")
		if err == nil {
			masters, err = parseSlotMasters(x, ep)
		} else if isServerError(err) && !clusterDisabled(err) {
			err = fmt.Errorf("CLUSTER SLOTS: %w", err)
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if clusterDisabled(err) {
			return nil, nil
		}
		return nil, err
	}
	if len(masters) == 0 {
		return nil, errors.New("the cluster has no master serving slots")
	}
	return masters, nil
}

func isServerError(err error) bool {
	var se *resp.ServerError
	return errors.As(err, &se)
}

func clusterDisabled(err error) bool {
	return isServerError(err) && strings.Contains(err.Error(), "cluster support disabled")
}

// nodeAddr returns host:port of a node, with the seed's host for a node
// that does not know its address ("" or "?").
func nodeAddr(host string, port int64, ep serverURL) string {
	if host == "" || host == "?" {
		host = ep.host
	}
	return net.JoinHostPort(host, strconv.FormatInt(port, 10))
}

// parseShardMasters reads the masters from a CLUSTER SHARDS reply, in the
// order of their first slots.
func parseShardMasters(x resp.Reply, ep serverURL) ([]string, error) {
	type shard struct {
		first int64
		addr  string
	}
	var shards []shard
	for _, sh := range x.Elems {
		var slots, nodes []resp.Reply
		for i := 0; i+1 < len(sh.Elems); i += 2 {
			switch string(sh.Elems[i].Str) {
			case "slots":
				slots = sh.Elems[i+1].Elems
			case "nodes":
				nodes = sh.Elems[i+1].Elems
			}
		}
		if len(slots) < 2 {
			continue // no slots: nothing to read
		}
		first := slots[0].Int
		for i := 2; i < len(slots); i += 2 {
			first = min(first, slots[i].Int)
		}
		addr, failed := "", ""
		for _, n := range nodes {
			f := map[string]resp.Reply{}
			for i := 0; i+1 < len(n.Elems); i += 2 {
				f[string(n.Elems[i].Str)] = n.Elems[i+1]
			}
			if string(f["role"].Str) != "master" {
				continue
			}
			host := string(f["endpoint"].Str)
			if host == "" || host == "?" {
				host = string(f["ip"].Str)
			}
			port := f["port"].Int
			if tp := f["tls-port"].Int; tp != 0 && (ep.tls || port == 0) {
				port = tp
			}
			if health := string(f["health"].Str); health == "fail" {
				failed += " " + nodeAddr(host, port, ep) + " (health " + health + ")"
				continue
			}
			addr = nodeAddr(host, port, ep)
		}
		if addr == "" {
			return nil, fmt.Errorf("CLUSTER SHARDS: the shard of slot %d has no healthy master:%s", first, failed)
		}
		shards = append(shards, shard{first, addr})
	}
	for i := 1; i < len(shards); i++ { // insertion sort: a handful of shards
		for j := i; j > 0 && shards[j].first < shards[j-1].first; j-- {
			shards[j], shards[j-1] = shards[j-1], shards[j]
		}
	}
	out := make([]string, 0, len(shards))
	for _, s := range shards {
		out = appendUnique(out, s.addr)
	}
	return out, nil
}

// parseSlotMasters reads the masters from a CLUSTER SLOTS reply.
func parseSlotMasters(x resp.Reply, ep serverURL) ([]string, error) {
	type rng struct {
		first int64
		addr  string
	}
	var ranges []rng
	for _, e := range x.Elems {
		if len(e.Elems) < 3 || len(e.Elems[2].Elems) < 2 {
			return nil, fmt.Errorf("CLUSTER SLOTS: unexpected entry %.200s", e.String())
		}
		m := e.Elems[2]
		ranges = append(ranges, rng{e.Elems[0].Int, nodeAddr(string(m.Elems[0].Str), m.Elems[1].Int, ep)})
	}
	for i := 1; i < len(ranges); i++ {
		for j := i; j > 0 && ranges[j].first < ranges[j-1].first; j-- {
			ranges[j], ranges[j-1] = ranges[j-1], ranges[j]
		}
	}
	var out []string
	for _, r := range ranges {
		out = appendUnique(out, r.addr)
	}
	return out, nil
}

func appendUnique(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

// clusterReader merges the records of the nodes' Readers.
type clusterReader struct {
	name   string
	ctx    context.Context
	cancel context.CancelFunc
	nodes  []*clusterNode
	ch     chan clusterItem // records and ends of streams, in each node's order
	errc   chan clusterItem // errors, at most one per node: never blocks
	ready  chan struct{}    // one token per node once its first Next returned
	wg     sync.WaitGroup

	started  bool
	live     int // nodes that have not ended
	curDB    int // database of the last SelectDB emitted
	held     *rdb.Key
	aux      map[string]bool
	function map[string]bool
	err      error
	closed   bool
}

// clusterNode is what the merged reader knows of a node's Reader, updated
// by the node's goroutine.
type clusterNode struct {
	addr, url string

	read, total atomic.Int64
	scan        atomic.Pointer[ScanStats]
	mu          sync.Mutex
	info        SourceInfo
	hasInfo     bool
}

// clusterItem is a record (owned by the receiver), the end of a node's
// stream, or a node's error (sent on errc, so that it is seen at once).
type clusterItem struct {
	node int
	rec  rdb.Record
	err  error
	eof  bool
}

// runNode reads one node's source and sends its records.
func (r *clusterReader) runNode(ctx context.Context, i int, n *clusterNode, src Source) {
	defer r.wg.Done()
	readySent := false
	signal := func() {
		if !readySent {
			readySent = true
			r.ready <- struct{}{}
		}
	}
	defer signal()
	send := func(it clusterItem) bool {
		it.node = i
		select {
		case r.ch <- it:
			return true
		case <-ctx.Done():
			return false
		}
	}
	sr, err := src.Open(ctx)
	if err != nil {
		r.errc <- clusterItem{node: i, err: err}
		return
	}
	defer sr.Close()
	for count := 0; ; count++ {
		rec, err := sr.Next()
		n.update(sr, count == 0 || err != nil || count&255 == 0)
		signal()
		if err == io.EOF {
			send(clusterItem{eof: true})
			return
		}
		if err != nil {
			r.errc <- clusterItem{node: i, err: err}
			return
		}
		if rec = copyRecord(rec); rec != nil && !send(clusterItem{rec: rec}) {
			return
		}
	}
}

// update records a node Reader's progress, and its Info and ScanStats when
// full.
func (n *clusterNode) update(sr Reader, full bool) {
	read, total := sr.Progress()
	n.read.Store(read)
	n.total.Store(total)
	if full {
		if sc, ok := sr.(ScanReporter); ok {
			st := sc.ScanStats()
			n.scan.Store(&st)
		}
		info := sr.Info()
		n.mu.Lock()
		n.info, n.hasInfo = info, true
		n.mu.Unlock()
	}
}

// copyRecord returns a copy of rec that does not alias its Reader's
// memory, or nil for records the merged stream leaves out.
func copyRecord(rec rdb.Record) rdb.Record {
	switch rec := rec.(type) {
	case *rdb.Key:
		return rec.Clone()
	case *rdb.Aux:
		c := *rec
		return &c
	case *rdb.Function:
		c := *rec
		return &c
	case *rdb.ModuleAux:
		c := *rec
		c.Raw = append([]byte(nil), rec.Raw...)
		return &c
	case *rdb.SelectDB:
		return nil // the merged stream has its own, from the keys' DB
	case *rdb.ResizeDB, *rdb.SlotInfo, *rdb.SlotImport:
		return nil // per-node hints, wrong for the merged stream
	}
	return nil // rdb.Record has no other kinds
}

func (r *clusterReader) Next() (rdb.Record, error) {
	if r.err != nil {
		return nil, r.err
	}
	if r.held != nil {
		k := r.held
		r.held = nil
		return k, nil
	}
	if !r.started {
		for range r.nodes {
			select {
			case <-r.ready:
			case it := <-r.errc:
				return nil, r.nodeFailed(it)
			case <-r.ctx.Done():
				return nil, r.fail(fmt.Errorf("%s: %w", r.name, r.ctx.Err()))
			}
		}
		r.started = true
	}
	for {
		if r.live == 0 {
			r.err = io.EOF
			return nil, io.EOF
		}
		var it clusterItem
		select {
		case it = <-r.ch:
		case it = <-r.errc:
			return nil, r.nodeFailed(it)
		case <-r.ctx.Done():
			return nil, r.fail(fmt.Errorf("%s: %w", r.name, r.ctx.Err()))
		}
		if it.eof {
			r.live--
			continue
		}
		switch rec := it.rec.(type) {
		case *rdb.Key:
			if rec.DB != r.curDB {
				r.curDB = rec.DB
				r.held = rec
				return &rdb.SelectDB{DB: rec.DB}, nil
			}
			return rec, nil
		case *rdb.Aux:
			if r.aux[rec.Key] || strings.HasPrefix(rec.Key, "repl-") {
				continue // one node's replication id and offset
			}
			r.aux[rec.Key] = true
		case *rdb.Function:
			id := rec.Name + "\x00" + rec.Code
			if r.function[id] {
				continue
			}
			r.function[id] = true
		}
		return it.rec, nil
	}
}

// nodeFailed fails with a node's error.
func (r *clusterReader) nodeFailed(it clusterItem) error {
	return r.fail(fmt.Errorf("cluster node %s: %w", r.nodes[it.node].addr, it.err))
}

// fail makes err sticky and stops the nodes.
func (r *clusterReader) fail(err error) error {
	r.err = err
	r.cancel()
	return err
}

func (r *clusterReader) Progress() (int64, int64) {
	var read, total int64
	for _, n := range r.nodes {
		read += n.read.Load()
		t := n.total.Load()
		if t < 0 || total < 0 {
			total = -1
		} else {
			total += t
		}
	}
	return read, total
}

func (r *clusterReader) Info() SourceInfo {
	info := SourceInfo{Name: r.name}
	for i, n := range r.nodes {
		n.mu.Lock()
		ni, ok := n.info, n.hasInfo
		n.mu.Unlock()
		if !ok {
			continue
		}
		if i == 0 {
			info.Flavor = ni.Flavor
		}
		if ni.Version != 0 && (info.Version == 0 || ni.Version < info.Version) {
			info.Version = ni.Version
		}
	}
	return info
}

// ScanStats implements ScanReporter: the sums of the nodes' that have them.
func (r *clusterReader) ScanStats() ScanStats {
	var st ScanStats
	for _, n := range r.nodes {
		if s := n.scan.Load(); s != nil {
			st.Scanned += s.Scanned
			st.Skipped += s.Skipped
			st.Duplicates += s.Duplicates
		}
	}
	return st
}

// Close stops the nodes' goroutines, which close their Readers, and waits
// for them.
func (r *clusterReader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	r.cancel()
	r.wg.Wait()
	return nil
}
