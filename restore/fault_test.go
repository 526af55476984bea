package restore

// Fault tests: connections cut mid-transfer, a full server (OOM), several
// connections with big windows and big values, cancellation. Every test runs
// against real redis-server processes; the network faults come from a small
// TCP proxy between the Writer and the server.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rdbferry/rdbferry/internal/rdbtest"
	"github.com/rdbferry/rdbferry/internal/redistest"
	"github.com/rdbferry/rdbferry/rdb"
)

// genScript fills the server with ARGV[1] keys named ARGV[2]..i of every
// type and of the encodings Redis 7.0 writes (int and raw strings, listpack
// and quicklist lists, intset and hashtable sets, listpack and skiplist
// sorted sets, listpack and hashtable hashes, streams with consumer groups
// and pending entries); one key in three expires (far in the future). It
// runs inside the server: one round trip for the whole dataset.
const genScript = `
local n = tonumber(ARGV[1])
local prefix = ARGV[2]
local function seq(i, count, tag)
  local t = {}
  for j = 1, count do t[j] = tag .. j .. ':' .. i end
  return t
end
for i = 1, n do
  local k = prefix .. i
  local m = i % 13
  if m == 0 then
    redis.call('SET', k, i * 7919)
  elseif m == 1 or m == 2 then
    redis.call('SET', k, string.rep(string.char(97 + i % 26), i % 90) .. 'v' .. i)
  elseif m == 3 then
    redis.call('SET', k, string.rep('x' .. i, 200 + i % 300))
  elseif m == 4 then
    redis.call('RPUSH', k, unpack(seq(i, 1 + i % 12, 'e')))
  elseif m == 5 then
    local c = 10
    if i % 7 == 0 then c = 150 + i % 100 end
    redis.call('RPUSH', k, unpack(seq(i, c, 'item-')))
  elseif m == 6 then
    local t = {}
    for j = 1, 1 + i % 20 do t[j] = j * 3 + i end
    if i % 11 == 0 then for j = 1, 600 do t[j] = j * 5 end end
    redis.call('SADD', k, unpack(t))
  elseif m == 7 then
    local c = 1 + i % 15
    if i % 9 == 0 then c = 140 + i % 50 end
    redis.call('SADD', k, unpack(seq(i, c, 'm')))
  elseif m == 8 or m == 9 then
    local c = 1 + i % 10
    if i % 8 == 0 then c = 130 + i % 40 end
    local t = {}
    for j = 1, c do
      t[2 * j - 1] = (j * 1.5 + i) .. ''
      t[2 * j] = 'z' .. j .. ':' .. i
    end
    redis.call('ZADD', k, unpack(t))
  elseif m == 10 or m == 11 then
    local c = 1 + i % 10
    if i % 10 == 0 then c = 130 + i % 30 end
    local t = {}
    for j = 1, c do
      t[2 * j - 1] = 'f' .. j
      t[2 * j] = 'value ' .. j .. ' of ' .. i
    end
    redis.call('HSET', k, unpack(t))
  else
    if i % 5 == 0 then
      for j = 1, 3 + i % 5 do
        redis.call('XADD', k, i .. '-' .. j, 'field', 'v' .. j, 'n', j)
      end
      redis.call('XGROUP', 'CREATE', k, 'grp', '0')
      redis.call('XREADGROUP', 'GROUP', 'grp', 'alice', 'COUNT', '2', 'STREAMS', k, '>')
      redis.call('XDEL', k, i .. '-2')
    else
      redis.call('SET', k, 'plain ' .. i)
    end
  end
  if i % 3 == 0 then
    redis.call('PEXPIREAT', k, 4102444800000 + i)
  end
end
return n
`

// dataset is a source server filled by genScript, saved.
type dataset struct {
	src  *redistest.Server
	path string // the saved RDB file
	keys int
	size int64 // bytes of the keys' names and raw values
	max  int   // largest raw value
}

// newDataset fills a scratch server with n keys named prefix+i and saves it.
func newDataset(t testing.TB, n int, prefix string, extra func(*redistest.Server)) *dataset {
	t.Helper()
	src := redistest.Start(t)
	src.MustDo(t, "EVAL", genScript, "0", strconv.Itoa(n), prefix)
	if extra != nil {
		extra(src)
	}
	d := &dataset{src: src, path: src.Save(t)}
	d.each(t, func(k *rdb.Key) {
		d.keys++
		d.size += int64(len(k.Key) + len(k.Raw))
		d.max = max(d.max, len(k.Raw))
	})
	return d
}

// want returns the source's canonical contents, with TTLs.
func (d *dataset) want(t testing.TB) map[string]rdbtest.Entry {
	t.Helper()
	data, err := os.ReadFile(d.path)
	if err != nil {
		t.Fatal(err)
	}
	want := rdbtest.Contents(t, data, true)
	if len(want) != d.keys {
		t.Fatalf("dataset: %d keys read, %d in Contents", d.keys, len(want))
	}
	return want
}

// each calls f with every key of the saved file, streaming it from disk.
func (d *dataset) each(t testing.TB, f func(k *rdb.Key)) {
	t.Helper()
	fh, err := os.Open(d.path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	r := rdb.NewReader(fh)
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if k, ok := rec.(*rdb.Key); ok {
			f(k)
		}
	}
}

// writeAll writes every key of d through w (failing the test on a Write
// error) and closes w.
func (d *dataset) writeAll(t testing.TB, w *Writer) Stats {
	t.Helper()
	ctx := context.Background()
	d.each(t, func(k *rdb.Key) {
		if err := w.Write(ctx, k); err != nil {
			t.Fatalf("Write %q: %v", k.Key, err)
		}
	})
	st, err := w.Close(ctx)
	if err != nil {
		t.Fatalf("Close: %v (stats %+v)", err, st)
	}
	return st
}

// proxy is a TCP proxy in front of a server that injects faults: when the
// bytes forwarded from clients (all connections together) cross each of
// cutAt, it cuts the connection that carried them abruptly, in the middle
// of whatever command (RST to the client, close to the server); once they
// cross stallAt it stops forwarding anything, for good.
//
// Before each cut it drops the server's replies on that connection from
// holdBytes bytes before the cut on: the server executes those commands but
// the client never learns it, the situation where a resent RESTORE finds
// its key. (Meant for one client connection at a time.)
type proxy struct {
	ln     net.Listener
	target string

	cutAt     []int64 // ascending
	holdBytes int64
	stallAt   int64 // 0: never

	mu      sync.Mutex
	up      int64 // bytes forwarded client -> server, all connections
	next    int   // next index in cutAt
	pairs   map[*pair]bool
	closed  bool
	stalled chan struct{} // closed when the stall begins
	unstall chan struct{} // closed by Close

	cuts     atomic.Int64
	accepted atomic.Int64
	busyKeys atomic.Int64 // "-BUSYKEY" replies forwarded to clients

	wg sync.WaitGroup
}

type pair struct {
	client, server *net.TCPConn
	hold           atomic.Bool // drop the server's replies
	cut            atomic.Bool // counted as a cut
	once           sync.Once
}

// kill closes both sides; the client gets a RST.
func (p *pair) kill() {
	p.once.Do(func() {
		p.client.SetLinger(0)
		p.client.Close()
		p.server.SetLinger(0)
		p.server.Close()
	})
}

func startProxy(t *testing.T, target string, cutAt []int64, holdBytes, stallAt int64) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, cutAt: cutAt, holdBytes: holdBytes, stallAt: stallAt,
		pairs: map[*pair]bool{}, stalled: make(chan struct{}), unstall: make(chan struct{})}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.Close)
	return p
}

func (p *proxy) URL() string { return "redis://" + p.ln.Addr().String() }

// Close stops the proxy, kills its connections and waits for its goroutines.
func (p *proxy) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	close(p.unstall)
	for pr := range p.pairs {
		pr.kill()
	}
	p.mu.Unlock()
	p.ln.Close()
	p.wg.Wait()
}

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		pr := &pair{client: c.(*net.TCPConn), server: s.(*net.TCPConn)}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			pr.kill()
			return
		}
		p.pairs[pr] = true
		p.mu.Unlock()
		p.accepted.Add(1)
		p.wg.Add(2)
		go p.upstream(pr)
		go p.downstream(pr)
	}
}

func (p *proxy) drop(pr *pair) {
	pr.kill()
	p.mu.Lock()
	delete(p.pairs, pr)
	p.mu.Unlock()
}

// upstream forwards client -> server and injects the faults.
func (p *proxy) upstream(pr *pair) {
	defer p.wg.Done()
	defer p.drop(pr)
	buf := make([]byte, 32<<10)
	for {
		n, err := pr.client.Read(buf)
		data := buf[:n]
		for len(data) > 0 {
			// Forward up to the next event (hold, cut, stall), then act.
			p.mu.Lock()
			limit := int64(len(data))
			event := ""
			if p.next < len(p.cutAt) {
				cut := p.cutAt[p.next]
				if hold := cut - p.holdBytes; p.up < hold && p.up+limit >= hold {
					limit, event = hold-p.up, "hold"
				} else if p.up+limit >= cut {
					limit, event = cut-p.up, "cut"
					p.next++
				}
			}
			if p.stallAt > 0 && p.up+limit >= p.stallAt {
				limit, event = max(p.stallAt-p.up, 0), "stall"
			}
			p.up += limit
			p.mu.Unlock()
			if _, werr := pr.server.Write(data[:limit]); werr != nil {
				return
			}
			data = data[limit:]
			switch event {
			case "hold":
				pr.hold.Store(true)
				// A client that waits for the replies being dropped sends
				// no more: cut anyway soon, as a real fault would.
				time.AfterFunc(200*time.Millisecond, func() {
					p.mu.Lock()
					if pr.cut.CompareAndSwap(false, true) {
						p.next++
						p.cuts.Add(1)
					}
					p.mu.Unlock()
					pr.kill()
				})
			case "cut":
				pr.hold.Store(true)
				time.Sleep(20 * time.Millisecond) // let the server execute what it got
				if pr.cut.CompareAndSwap(false, true) {
					p.cuts.Add(1)
				} else {
					p.mu.Lock()
					p.next-- // the timer counted this cut already
					p.mu.Unlock()
				}
				return
			case "stall":
				p.mu.Lock()
				select {
				case <-p.stalled:
				default:
					close(p.stalled)
				}
				p.mu.Unlock()
				<-p.unstall
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// downstream forwards server -> client.
func (p *proxy) downstream(pr *pair) {
	defer p.wg.Done()
	defer p.drop(pr)
	buf := make([]byte, 32<<10)
	for {
		n, err := pr.server.Read(buf)
		if n > 0 && !pr.hold.Load() {
			p.busyKeys.Add(int64(bytes.Count(buf[:n], []byte("-BUSYKEY"))))
			if _, err := pr.client.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// TestConnectionCutMidTransfer writes 20 000 keys of every type through a
// proxy that cuts the connection several times, in the middle of commands,
// after making sure the server executed commands whose replies the Writer
// never gets. With ExistingFail the resent RESTOREs of those keys get
// BUSYKEY, which the Writer must count as written; with ExistingReplace they
// simply run again. Either way the target must end up equal to the source.
func TestConnectionCutMidTransfer(t *testing.T) {
	d := newDataset(t, 20000, "cut:", nil)
	const cuts = 4
	for _, policy := range []ExistingPolicy{ExistingFail, ExistingReplace} {
		t.Run(fmt.Sprintf("policy=%d", policy), func(t *testing.T) {
			dst := redistest.Start(t)
			var cutAt []int64
			for i := 1; i <= cuts; i++ {
				cutAt = append(cutAt, d.size*int64(i)/(cuts+1))
			}
			px := startProxy(t, dst.Addr(), cutAt, 8<<10, 0)
			w, err := Dial(context.Background(), px.URL(), Options{Existing: policy, RetryBackoff: 5 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			st := d.writeAll(t, w)
			t.Logf("stats %+v; proxy: %d cuts, %d connections, %d BUSYKEY replies", st, px.cuts.Load(), px.accepted.Load(), px.busyKeys.Load())
			if px.cuts.Load() != cuts {
				t.Fatalf("the proxy cut %d times, want %d", px.cuts.Load(), cuts)
			}
			if st.Written != int64(d.keys) || st.Failed != 0 || st.Reconnects < cuts || st.Retries == 0 {
				t.Errorf("stats %+v, want %d written, 0 failed, ≥ %d reconnects; failures %v", st, d.keys, cuts, w.Failures())
			}
			if policy == ExistingFail && px.busyKeys.Load() == 0 {
				t.Errorf("no resent RESTORE met its key (BUSYKEY): the test did not exercise that path")
			}
			rdbtest.Compare(t, serverContents(t, dst, true), d.want(t))
		})
	}
}

// TestOOM writes more than a server with maxmemory 2mb and noeviction can
// hold: the keys beyond the limit fail with the server's OOM reply after
// the bounded retries, and the counts add up.
func TestOOM(t *testing.T) {
	srv := redistest.Start(t, redistest.Config("maxmemory", "2mb"), redistest.Config("maxmemory-policy", "noeviction"))
	w, err := Dial(context.Background(), srv.URL(), Options{MaxRetries: 2, RetryBackoff: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	const keys = 4000
	val := bytes.Repeat([]byte("0123456789abcdef"), 64) // 1 KiB
	raw := append([]byte{0x40 | byte(len(val)>>8), byte(len(val))}, val...)
	start := time.Now()
	for i := 0; i < keys; i++ {
		k := &rdb.Key{Key: []byte("oom:" + strconv.Itoa(i)), Type: rdb.TypeString, Raw: raw, Idle: -1, Freq: -1, Version: 10}
		if err := w.Write(context.Background(), k); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := w.Close(ctx)
	t.Logf("%v: stats %+v", time.Since(start), st)
	if err != nil {
		t.Fatalf("Close: %v", err)
	}
	if st.Written+st.Failed != keys || st.Written == 0 || st.Failed == 0 {
		t.Fatalf("stats %+v, want %d written or failed, some of each", st, keys)
	}
	if st.Retries < 2*st.Failed {
		t.Errorf("%d retries for %d failed keys: want 2 per failed key", st.Retries, st.Failed)
	}
	fs := w.Failures()
	if int64(len(fs)) != min(st.Failed, 1000) {
		t.Errorf("%d failures kept for %d failed", len(fs), st.Failed)
	}
	for _, f := range fs {
		if !strings.HasPrefix(f.Reply, "OOM") || !strings.HasPrefix(string(f.Key), "oom:") || f.Node != srv.Addr() {
			t.Fatalf("failure %+v (%v)", f, f)
		}
	}
	if n := srv.MustDo(t, "DBSIZE").(int64); n != st.Written {
		t.Errorf("DBSIZE %d, %d written", n, st.Written)
	}
}

// TestManyConnsBigValues writes 1 MB values among small keys over four
// connections with small windows: the target equals the source and the
// heap stays bounded by a few windows plus the largest value, far below
// the dataset's size.
func TestManyConnsBigValues(t *testing.T) {
	const bigValues, bigSize = 12, 1 << 20
	d := newDataset(t, 5000, "big:", func(src *redistest.Server) {
		rnd := rand.New(rand.NewSource(2))
		v := make([]byte, bigSize)
		for i := 0; i < bigValues; i++ {
			rnd.Read(v)
			for j, b := range v {
				v[j] = 'a' + b%26 // random letters: LZF cannot shrink them, %q leaves them alone
			}
			src.MustDo(t, "SET", "big:huge:"+strconv.Itoa(i), string(v))
			if i%2 == 0 {
				src.MustDo(t, "RPUSH", "big:hugelist:"+strconv.Itoa(i), string(v[:bigSize/2]), string(v[bigSize/2:]))
			}
		}
	})
	if d.max < bigSize*9/10 || d.size < 16*bigSize {
		t.Fatalf("largest value %d bytes, %d bytes in all", d.max, d.size)
	}
	dst := redistest.Start(t)
	opts := Options{Conns: 4, Pipeline: 64, PipelineBytes: 64 << 10, Existing: ExistingFail}
	w, err := Dial(context.Background(), dst.URL(), opts)
	if err != nil {
		t.Fatal(err)
	}

	// The bound is on what the Writer holds, not on how lazily the
	// collector frees it: collect at 10 % growth instead of 100 %.
	defer debug.SetGCPercent(debug.SetGCPercent(10))
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	st := d.writeAll(t, w)
	close(stop)
	<-sampled

	// What may be live: the window, the key in flight alone and the next
	// one prepared, the rdb.Reader's buffer (up to twice the largest
	// value), and what is allocated while the collector runs. Under half
	// the dataset: a Writer keeping what it wrote would not fit.
	window := uint64(opts.PipelineBytes * opts.Conns)
	bound := 7 * (window + uint64(d.max))
	grew := peak.Load() - min(base, peak.Load())
	t.Logf("stats %+v; heap in use: %d MiB before, peak %.1f MiB (+%.1f MiB; bound %.1f MiB = 7 × (window %d KiB + largest value %d KiB); dataset %.1f MiB)",
		st, base>>20, float64(peak.Load())/(1<<20), float64(grew)/(1<<20), float64(bound)/(1<<20), window>>10, d.max>>10, float64(d.size)/(1<<20))
	if st.Written != int64(d.keys) || st.Failed != 0 {
		t.Errorf("stats %+v, want %d written; failures %v", st, d.keys, w.Failures())
	}
	if grew > bound {
		t.Errorf("the heap grew by %d bytes, more than %d", grew, bound)
	}
	// Every one of the four connections carried keys.
	if n := len(w.single.conns); n != opts.Conns {
		t.Errorf("%d connections, want %d", n, opts.Conns)
	}
	for i, c := range w.single.conns {
		c.mu.Lock()
		used := c.gen > 0
		c.mu.Unlock()
		if !used {
			t.Errorf("connection %d never connected", i)
		}
	}
	rdbtest.Compare(t, serverContents(t, dst, true), d.want(t))
}

// waitGoroutines waits until no more goroutines run than before.
func waitGoroutines(t *testing.T, before int) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= before {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("%d goroutines, %d before:\n%s", n, before, buf)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestCloseCancelled stops a Writer whose server stops answering: Close
// with a context that ends after 100 ms returns within a second, every key
// given to Write is written or failed, and no goroutine is left.
func TestCloseCancelled(t *testing.T) {
	keys := make([]*rdb.Key, 3000)
	for i := range keys {
		keys[i] = &rdb.Key{Key: []byte("cancel:" + strconv.Itoa(i)), Type: rdb.TypeString, Raw: append([]byte{0x40 | 1, 0}, bytes.Repeat([]byte{'v'}, 256)...), Idle: -1, Freq: -1, Version: 10}
	}
	closeWithin := func(t *testing.T, w *Writer, given int64) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		st, err := w.Close(ctx)
		took := time.Since(start)
		t.Logf("Close took %v: %v; stats %+v", took, err, st)
		if took > time.Second {
			t.Errorf("Close took %v", took)
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Close: %v, want the context's error", err)
		}
		if st.Written+st.Failed != given || st.Failed == 0 {
			t.Errorf("stats %+v: want %d keys written or failed, some failed", st, given)
		}
		if got := w.Stats(); got != st {
			t.Errorf("stats changed after Close returned: %+v, then %+v", st, got)
		}
	}

	// The proxy forwards about 300 keys, then nothing: keys stay in flight.
	t.Run("stalled proxy", func(t *testing.T) {
		srv := redistest.Start(t)
		px := startProxy(t, srv.Addr(), nil, 0, 100<<10)
		before := runtime.NumGoroutine()
		w, err := Dial(context.Background(), px.URL(), Options{Conns: 2, Pipeline: 4096})
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			if err := w.Write(context.Background(), k); err != nil {
				t.Fatal(err)
			}
		}
		<-px.stalled
		time.Sleep(20 * time.Millisecond)
		closeWithin(t, w, int64(len(keys)))
		px.Close()
		waitGoroutines(t, before)
	})

	// A Write waits for room in a full window when its context ends.
	t.Run("blocked Write", func(t *testing.T) {
		srv := redistest.Start(t)
		px := startProxy(t, srv.Addr(), nil, 0, 100<<10)
		before := runtime.NumGoroutine()
		w, err := Dial(context.Background(), px.URL(), Options{Pipeline: 1000})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		given := int64(0)
		for _, k := range keys {
			given++
			if err := w.Write(ctx, k); err != nil {
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("Write: %v", err)
				}
				break
			}
		}
		if given == int64(len(keys)) {
			t.Fatal("no Write blocked")
		}
		closeWithin(t, w, given)
		px.Close()
		waitGoroutines(t, before)
	})

	// The server itself sleeps (DEBUG SLEEP from another connection).
	t.Run("DEBUG SLEEP", func(t *testing.T) {
		srv := redistest.Start(t)
		before := runtime.NumGoroutine()
		w, err := Dial(context.Background(), srv.URL(), Options{Pipeline: 4096})
		if err != nil {
			t.Fatal(err)
		}
		slept := make(chan error, 1)
		go func() { _, err := srv.Do("DEBUG", "SLEEP", "1.5"); slept <- err }()
		time.Sleep(50 * time.Millisecond)
		for _, k := range keys {
			if err := w.Write(context.Background(), k); err != nil {
				t.Fatal(err)
			}
		}
		closeWithin(t, w, int64(len(keys)))
		if err := <-slept; err != nil {
			t.Fatal(err)
		}
		waitGoroutines(t, before)
	})
}

// TestCloseDuringRetryBackoff closes a Writer while keys wait out the
// backoff before a retry (OOM replies): Close must count them as failed
// before it returns, and the counts must not move afterwards.
func TestCloseDuringRetryBackoff(t *testing.T) {
	srv := redistest.Start(t, redistest.Config("maxmemory", "1b"), redistest.Config("maxmemory-policy", "noeviction"))
	before := runtime.NumGoroutine()
	w, err := Dial(context.Background(), srv.URL(), Options{MaxRetries: 5, RetryBackoff: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	const keys = 50
	for i := 0; i < keys; i++ {
		k := &rdb.Key{Key: []byte("backoff:" + strconv.Itoa(i)), Type: rdb.TypeString, Raw: []byte("\x01v"), Idle: -1, Freq: -1, Version: 10}
		if err := w.Write(context.Background(), k); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(50 * time.Millisecond) // every key got OOM and waits for its retry
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	st, err := w.Close(ctx)
	t.Logf("Close took %v: %v; stats %+v", time.Since(start), err, st)
	if time.Since(start) > time.Second || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close took %v and returned %v", time.Since(start), err)
	}
	if st.Written+st.Failed != keys || st.Retries == 0 {
		t.Errorf("stats %+v at Close: want %d keys failed, after retries", st, keys)
	}
	time.Sleep(700 * time.Millisecond) // past the backoff
	if got := w.Stats(); got != st {
		t.Errorf("stats changed after Close returned: %+v, then %+v", st, got)
	}
	waitGoroutines(t, before)
}

// TestDialUnresponsiveServer dials a server that accepts the connection
// but never answers: Dial returns when its context ends, and within
// DialTimeout when the context has no deadline.
func TestDialUnresponsiveServer(t *testing.T) {
	srv := redistest.Start(t)
	px := startProxy(t, srv.Addr(), nil, 0, 1) // forwards nothing
	t.Run("cancelled context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(200*time.Millisecond, cancel)
		start := time.Now()
		_, err := Dial(ctx, px.URL(), Options{})
		t.Logf("Dial after %v: %v", time.Since(start), err)
		if err == nil || time.Since(start) > 2*time.Second {
			t.Errorf("Dial returned %v after %v", err, time.Since(start))
		}
	})
	t.Run("DialTimeout", func(t *testing.T) {
		start := time.Now()
		_, err := Dial(context.Background(), px.URL(), Options{DialTimeout: 300 * time.Millisecond})
		t.Logf("Dial after %v: %v", time.Since(start), err)
		if err == nil || time.Since(start) > 2*time.Second {
			t.Errorf("Dial returned %v after %v", err, time.Since(start))
		}
	})
}

// TestSilentConnection: the first connection's replies never arrive (a
// network that drops without closing). After ReplyTimeout the Writer gives
// up on it and sends everything again on a new connection.
func TestSilentConnection(t *testing.T) {
	srv := redistest.Start(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var conns atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", srv.Addr())
			if err != nil {
				c.Close()
				return
			}
			silent := conns.Add(1) == 2 // the first is Dial's setup connection
			go func() { io.Copy(s, c); s.Close() }()
			go func() {
				if silent {
					io.Copy(io.Discard, s)
				} else {
					io.Copy(c, s)
				}
				c.Close()
			}()
		}
	}()
	w, err := Dial(context.Background(), "redis://"+ln.Addr().String(), Options{ReplyTimeout: 300 * time.Millisecond, Existing: ExistingReplace})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		k := &rdb.Key{Key: []byte(fmt.Sprintf("k%d", i)), Type: rdb.TypeString, Raw: []byte("\x01v"), Idle: -1, Freq: -1}
		if err := w.Write(context.Background(), k); err != nil {
			t.Fatal(err)
		}
	}
	st, err := w.Close(context.Background())
	if err != nil || st.Written != 100 || st.Reconnects < 1 {
		t.Fatalf("stats %+v, %v", st, err)
	}
	if n := srv.MustDo(t, "DBSIZE"); n != int64(100) {
		t.Errorf("DBSIZE = %v", n)
	}
}
