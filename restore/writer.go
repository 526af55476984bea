package restore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rdbferry/rdbferry/internal/keyslot"
	"github.com/rdbferry/rdbferry/internal/resp"
	"github.com/rdbferry/rdbferry/internal/server"
	"github.com/rdbferry/rdbferry/rdb"
)

// Stats counts what a Writer did with the keys it was given. Every key
// given to Write ends up in exactly one of Written, SkippedExisting,
// SkippedExpired and Failed once Close returns.
type Stats struct {
	Written         int64 // acknowledged by the target
	SkippedExisting int64 // left alone: the target had the key (ExistingSkip)
	SkippedExpired  int64 // already expired when read: not written
	Failed          int64 // see Failures

	Converted   int64 // written with a re-encoded value (rdb.Convert)
	ViaCommands int64 // written with plain commands instead of RESTORE
	Retries     int64 // commands sent again (retryable replies, redirections, reconnections)
	Reconnects  int64

	FieldTTLsDropped       int64
	MemberExpiresStripped  int64
	MemberExpiresConverted int64
	MemberExpiresWritten   int64 // sent to a KeyDB target (PEXPIREMEMBERAT)
	StreamMetaDropped      int64 // keys whose stream metadata the target's encoding lacks
	PendingEntriesLost     int64 // stream PEL entries the command path cannot recreate
	MetaDropped            int64 // keys whose RDB 13 key metadata was dropped
}

// Failure is a key the Writer could not write.
type Failure struct {
	DB    int
	Key   []byte
	Node  string // the server that refused it, if any
	Reply string // the server's error reply, if any
	Err   error
}

func (f Failure) Error() string {
	s := "restore: db " + strconv.Itoa(f.DB) + " key " + rdb.QuoteKey(f.Key)
	if f.Node != "" {
		s += " on " + f.Node
	}
	return s + ": " + f.Err.Error()
}

// Writer writes keys into a Redis, Valkey or KeyDB server or cluster with
// pipelined RESTORE commands, falling back to plain commands where no
// payload fits. It is safe for one goroutine to call Write while others
// read Stats.
type Writer struct {
	opts Options
	ep   server.Endpoint
	info ServerInfo

	releaseOnce        sync.Once // parses info.Version for serverAtLeast
	relMajor, relMinor int
	relOK              bool

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc

	mu          sync.Mutex
	cond        *sync.Cond
	outstanding int   // jobs not finished
	outBytes    int64 // their bytes
	limitJobs   int
	limitBytes  int64
	nodes       map[string]*node
	slots       [keyslot.NumSlots]*node // cluster only
	single      *node                   // standalone only
	failures    []Failure
	fatal       error
	closed      bool
	lastRefresh time.Time

	bufs [maxRecycledShift + 1]sync.Pool // *[]byte: command buffers of acknowledged jobs, by size class

	waiting map[*job]*time.Timer // jobs waiting out a retry's backoff
	timers  sync.WaitGroup       // their timers, until stopped or run

	stats struct {
		written, skippedExisting, skippedExpired, failed                                    atomic.Int64
		converted, viaCommands, retries, reconnects                                         atomic.Int64
		fieldTTLs, mxStripped, mxConverted, mxWritten, streamMeta, pendingLost, metaDropped atomic.Int64
	}
	wg  sync.WaitGroup
	now func() time.Time
}

// node is one master and its connections.
type node struct {
	addr  string
	conns []*conn
}

// Dial connects to the server or cluster at rawURL
// (redis://[user:pass@]host:port[/db] or rediss://…), learns what it is
// (ServerInfo) and returns a Writer for it. When the URL names a database,
// every key is written there; otherwise each key goes to its own database.
func Dial(ctx context.Context, rawURL string, opts Options) (*Writer, error) {
	ep, err := server.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	if ep.Variant != "" {
		return nil, fmt.Errorf("restore: URL %s: a target's scheme is redis or rediss", ep.Redacted)
	}
	opts = opts.withDefaults()
	// DialTimeout bounds the whole setup: connection, login and queries.
	ctx, cancelSetup := context.WithTimeout(ctx, opts.DialTimeout)
	defer cancelSetup()
	c, err := server.Connect(ctx, ep, ep.Addr, serverOptions(&opts))
	if err != nil {
		return nil, fmt.Errorf("restore: connecting to %s: %w", ep.Addr, err)
	}
	defer c.Close()
	info, err := detect(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("restore: %s: %w", ep.Addr, err)
	}
	wctx, cancel := context.WithCancel(context.Background())
	w := &Writer{opts: opts, ep: ep, info: info, ctx: wctx, cancel: cancel, nodes: map[string]*node{}, now: time.Now}
	w.cond = sync.NewCond(&w.mu)
	if info.Cluster {
		if ep.DB != 0 {
			cancel()
			return nil, fmt.Errorf("restore: %s is a cluster: it has only database 0, not %d", ep.Addr, ep.DB)
		}
		ranges, err := c.Slots(ctx, ep)
		if err != nil {
			cancel()
			return nil, fmt.Errorf("restore: %s: %w", ep.Addr, err)
		}
		w.applySlots(ranges)
		for i, n := range w.slots {
			if n == nil {
				cancel()
				return nil, fmt.Errorf("restore: cluster at %s serves no master for slot %d", ep.Addr, i)
			}
		}
	} else {
		w.single = w.nodeLocked(ep.Addr)
	}
	for addr := range w.nodes {
		w.info.Nodes = append(w.info.Nodes, addr)
	}
	w.limitJobs = opts.Pipeline * opts.Conns * len(w.nodes)
	w.limitBytes = int64(opts.PipelineBytes) * int64(opts.Conns*len(w.nodes))
	return w, nil
}

// Info returns what Dial learned about the target.
func (w *Writer) Info() ServerInfo { return w.info }

// nodeLocked returns the node for addr, creating it and its connections.
// The caller holds w.mu (or is Dial).
func (w *Writer) nodeLocked(addr string) *node {
	if n := w.nodes[addr]; n != nil {
		return n
	}
	n := &node{addr: addr}
	for i := 0; i < w.opts.Conns; i++ {
		c := newConn(w, n)
		n.conns = append(n.conns, c)
		if w.closed {
			c.closing = true // after Close: jobs routed here fail at once
			continue
		}
		w.wg.Add(1)
		go c.run()
	}
	w.nodes[addr] = n
	return n
}

func (w *Writer) applySlots(ranges []server.SlotRange) {
	for _, r := range ranges {
		n := w.nodeLocked(r.Addr)
		for s := r.First; s <= r.Last && s < keyslot.NumSlots; s++ {
			if s >= 0 {
				w.slots[s] = n
			}
		}
	}
}

// refreshSlots reloads the cluster's slot map, at most every 100 ms.
func (w *Writer) refreshSlots() {
	w.mu.Lock()
	if time.Since(w.lastRefresh) < 100*time.Millisecond || w.closed {
		w.mu.Unlock()
		return
	}
	w.lastRefresh = time.Now()
	addrs := make([]string, 0, len(w.nodes))
	for a := range w.nodes {
		addrs = append(addrs, a)
	}
	w.mu.Unlock()
	for _, addr := range addrs {
		ctx, cancel := context.WithTimeout(w.ctx, w.opts.DialTimeout)
		c, err := server.Connect(ctx, w.ep, addr, serverOptions(&w.opts))
		if err != nil {
			cancel()
			continue
		}
		ranges, err := c.Slots(ctx, w.ep)
		c.Close()
		cancel()
		if err == nil {
			w.mu.Lock()
			w.applySlots(ranges)
			w.mu.Unlock()
			return
		}
	}
}

// Write queues a key for the target. It returns when the key is queued,
// waiting while the pipeline window is full; the key's outcome shows in
// Stats and Failures. The Writer copies what it keeps: k may be reused
// after Write returns.
//
// An error means the Writer cannot go on (a connection that could not be
// re-established, a cancelled context, Close); per-key failures are not
// errors.
func (w *Writer) Write(ctx context.Context, k *rdb.Key) error {
	if k.ExpireAt != 0 && k.ExpireAt <= w.now().UnixMilli() {
		w.stats.skippedExpired.Add(1)
		return nil
	}
	db := k.DB
	if w.ep.DB != 0 || w.info.Cluster {
		db = w.ep.DB
	}
	if w.info.Cluster && k.DB != 0 {
		w.fail(nil, Failure{DB: k.DB, Key: clone(k.Key), Err: fmt.Errorf("a cluster has only database 0: remap database %d", k.DB)})
		return nil
	}
	j, err := w.prepare(k, db)
	if err != nil {
		w.fail(nil, Failure{DB: k.DB, Key: clone(k.Key), Err: err})
		return nil
	}
	if j == nil {
		return nil
	}
	if err := w.acquire(ctx, j.size); err != nil {
		w.fail(nil, Failure{DB: k.DB, Key: j.key, Err: err})
		return err
	}
	w.route(j)
	return nil
}

// acquire waits for room in the pipeline window.
func (w *Writer) acquire(ctx context.Context, size int64) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	full := func() bool {
		return w.outstanding > 0 && (w.outstanding >= w.limitJobs || w.outBytes+size > w.limitBytes)
	}
	if full() {
		// Wait; the end of ctx must wake the wait. (Registered only here:
		// most keys find room at once.)
		stop := context.AfterFunc(ctx, func() {
			w.mu.Lock()
			w.cond.Broadcast()
			w.mu.Unlock()
		})
		defer stop()
		for full() && w.fatal == nil && !w.closed && ctx.Err() == nil {
			w.cond.Wait()
		}
	}
	switch {
	case w.fatal != nil:
		return w.fatal
	case w.closed:
		return errors.New("restore: Write after Close")
	case ctx.Err() != nil:
		return ctx.Err()
	}
	w.outstanding++
	w.outBytes += size
	return nil
}

// release ends a job's hold on the window. A full window wakes the waiting
// Write once an eighth of it is free, not at every key: the writer then
// queues keys in bursts instead of waking for each acknowledgement.
func (w *Writer) release(j *job) {
	w.mu.Lock()
	w.outstanding--
	w.outBytes -= j.size
	if w.outstanding <= w.limitJobs-w.limitJobs/8 {
		w.cond.Broadcast()
	}
	w.mu.Unlock()
}

// route sends a job to the connection of the node that serves its key.
func (w *Writer) route(j *job) {
	w.mu.Lock()
	var n *node
	switch {
	case j.askAddr != "":
		n = w.nodeLocked(j.askAddr)
	case w.info.Cluster:
		n = w.slots[j.slot]
	default:
		n = w.single
	}
	c := n.conns[j.hash%uint32(len(n.conns))]
	w.mu.Unlock()
	c.enqueue(j)
}

// fail records a failure. j, if not nil, is finished and released.
func (w *Writer) fail(j *job, f Failure) {
	w.stats.failed.Add(1)
	w.mu.Lock()
	if len(w.failures) < w.opts.MaxFailures {
		w.failures = append(w.failures, f)
	}
	w.mu.Unlock()
	if w.opts.OnFailure != nil {
		w.opts.OnFailure(f)
	}
	if j != nil {
		w.release(j)
	}
}

// setFatal stops the Writer with err.
func (w *Writer) setFatal(err error) {
	w.mu.Lock()
	if w.fatal == nil {
		w.fatal = err
	}
	w.cond.Broadcast()
	w.mu.Unlock()
}

// Flush waits until every key given to Write has been acknowledged, skipped
// or failed.
func (w *Writer) Flush(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() {
		w.mu.Lock()
		w.cond.Broadcast()
		w.mu.Unlock()
	})
	defer stop()
	w.mu.Lock()
	defer w.mu.Unlock()
	for w.outstanding > 0 && w.fatal == nil && ctx.Err() == nil {
		w.cond.Wait()
	}
	if w.fatal != nil {
		return w.fatal
	}
	return ctx.Err()
}

// Close flushes the pending keys (until ctx is done), closes the
// connections and returns the final statistics. Keys still in flight when
// ctx ends are counted as failed with ctx's error, so the counts add up.
func (w *Writer) Close(ctx context.Context) (Stats, error) {
	err := w.Flush(ctx)
	w.mu.Lock()
	w.closed = true
	if err != nil && w.fatal == nil {
		w.fatal = err
	}
	w.cond.Broadcast()
	waiting := w.waiting
	w.waiting = nil
	w.mu.Unlock()
	for j, tm := range waiting {
		if tm.Stop() {
			w.timers.Done()
		}
		w.fail(j, Failure{DB: j.db, Key: j.key, Node: j.node, Err: errors.New("restore: the Writer was closed while the key waited to be retried")})
	}
	w.cancel()
	// Connections made from now on (a slot map refresh still running) are
	// born closing, so this list is complete.
	w.mu.Lock()
	var conns []*conn
	for _, n := range w.nodes {
		conns = append(conns, n.conns...)
	}
	w.mu.Unlock()
	for _, c := range conns {
		c.shutdown()
	}
	w.timers.Wait()
	w.wg.Wait()
	return w.Stats(), err
}

// retryLater routes j again after delay, unless Close comes first: then j
// fails before Close returns.
func (w *Writer) retryLater(j *job, delay time.Duration) {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		w.fail(j, Failure{DB: j.db, Key: j.key, Node: j.node, Err: errors.New("restore: the Writer was closed before the key was acknowledged")})
		return
	}
	if w.waiting == nil {
		w.waiting = map[*job]*time.Timer{}
	}
	w.timers.Add(1)
	w.waiting[j] = time.AfterFunc(delay, func() {
		defer w.timers.Done()
		w.mu.Lock()
		_, ok := w.waiting[j] // else Close took it and failed it
		delete(w.waiting, j)
		w.mu.Unlock()
		if ok {
			w.route(j)
		}
	})
	w.mu.Unlock()
}

// Stats returns the counts so far.
func (w *Writer) Stats() Stats {
	s := &w.stats
	return Stats{
		Written: s.written.Load(), SkippedExisting: s.skippedExisting.Load(), SkippedExpired: s.skippedExpired.Load(),
		Failed: s.failed.Load(), Converted: s.converted.Load(), ViaCommands: s.viaCommands.Load(),
		Retries: s.retries.Load(), Reconnects: s.reconnects.Load(), FieldTTLsDropped: s.fieldTTLs.Load(),
		MemberExpiresStripped: s.mxStripped.Load(), MemberExpiresConverted: s.mxConverted.Load(), MemberExpiresWritten: s.mxWritten.Load(),
		StreamMetaDropped: s.streamMeta.Load(), PendingEntriesLost: s.pendingLost.Load(), MetaDropped: s.metaDropped.Load(),
	}
}

// Failures returns the failures so far (at most Options.MaxFailures).
func (w *Writer) Failures() []Failure {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]Failure(nil), w.failures...)
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }

// serverError returns the server error in a reply, or nil.
func serverError(x resp.Reply) *resp.ServerError {
	if x.Kind != resp.Error {
		return nil
	}
	return &resp.ServerError{Msg: string(x.Str)}
}
