package transfer

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rdbferry/rdbferry/internal/server"
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

func (s *clusterSource) String() string { return "cluster " + server.Redact(s.url) }

func (s *clusterSource) Open(ctx context.Context) (Reader, error) {
	ep, err := server.ParseURL(s.url)
	if err != nil {
		return nil, fmt.Errorf("transfer: %w", err)
	}
	masters, err := discoverMasters(ctx, ep, s.opts)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: %w", ep.Addr, err)
	}
	if masters == nil {
		return s.perNode(s.url).Open(ctx) // not a cluster
	}
	name := "cluster " + ep.Redacted + " (masters " + strings.Join(masters, ", ") + ")"
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
		u, _ := url.Parse(s.url) // parsed above: cannot fail
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
func discoverMasters(ctx context.Context, ep server.Endpoint, opts ClusterOptions) ([]string, error) {
	c, err := server.Connect(ctx, ep, ep.Addr, server.Options{TLS: opts.TLS, Timeout: opts.DialTimeout})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	dctx, cancel := context.WithTimeout(ctx, opts.DialTimeout)
	defer cancel()
	ranges, err := c.Slots(dctx, ep)
	if err == server.ErrNotCluster {
		return nil, nil
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	masters := server.Masters(ranges)
	if len(masters) == 0 {
		return nil, errors.New("the cluster has no master serving slots")
	}
	return masters, nil
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
