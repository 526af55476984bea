package transfer

import (
	"bytes"
	"context"
	"errors"
	"io"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rdbferry/rdbferry/internal/rdbtest"
	"github.com/rdbferry/rdbferry/internal/redistest"
	"github.com/rdbferry/rdbferry/rdb"
)

func scanPerNode(u string) Source { return Scan(u, ScanOptions{}) }

// clusterPopulate writes keys of every type into every node of the
// cluster, and 200 strings spread over the nodes. It returns the number of
// keys.
func clusterPopulate(t *testing.T, c *redistest.Cluster) int {
	t.Helper()
	n := 0
	for _, node := range c.Nodes() {
		tag := clusterTagFor(c, node)
		n += scanPopulate(t, func(args ...string) { node.MustDo(t, args...) }, tag+":")
	}
	for i := 0; i < 200; i++ {
		k := "n:" + strconv.Itoa(i)
		node := c.NodeForKey(k)
		node.MustDo(t, "SET", k, strings.Repeat("v", i))
		if i%3 == 0 {
			node.MustDo(t, "PEXPIREAT", k, strconv.FormatInt(scanExpireAt+int64(i), 10))
		}
	}
	return n + 200
}

// clusterTagFor returns a hash tag ("{t7}") whose slot node owns.
func clusterTagFor(c *redistest.Cluster, node *redistest.Server) string {
	for j := 0; ; j++ {
		tag := "{t" + strconv.Itoa(j) + "}"
		if c.NodeForKey(tag) == node {
			return tag
		}
	}
}

// clusterSaved returns the union of the nodes' SAVE files.
func clusterSaved(t *testing.T, c *redistest.Cluster) map[string]rdbtest.Entry {
	t.Helper()
	all := map[string]rdbtest.Entry{}
	for _, node := range c.Nodes() {
		part := rdbtest.Contents(t, scanReadFile(t, node.Save(t)), true)
		if len(part) == 0 {
			t.Fatalf("node %s holds no keys", node.Addr())
		}
		for k, e := range part {
			if _, dup := all[k]; dup {
				t.Fatalf("key %q on two nodes", k)
			}
			all[k] = e
		}
	}
	return all
}

// clusterFillNodes writes n string keys on every node, with a script per
// node and a hash tag the node owns.
func clusterFillNodes(t *testing.T, c *redistest.Cluster, n int) {
	t.Helper()
	for i, node := range c.Nodes() {
		tag := clusterTagFor(c, node)
		node.MustDo(t, "EVAL", `for i = 0, tonumber(ARGV[1]) - 1 do redis.call('SET', KEYS[1] .. i, i) end`,
			"1", tag+"n"+strconv.Itoa(i)+":", strconv.Itoa(n))
	}
}

func TestClusterScanEqualsSaves(t *testing.T) {
	t.Parallel()
	c := redistest.StartCluster(t, 3)
	n := clusterPopulate(t, c)
	want := clusterSaved(t, c)
	if len(want) != n {
		t.Fatalf("%d keys saved, want %d", len(want), n)
	}

	var buf bytes.Buffer
	var last Progress
	src := &captureSource{Source: Cluster("redis+scan://"+c.Nodes()[1].Addr(), scanPerNode)}
	st, err := Run(context.Background(), src, ToWriter(&buf, FileOptions{}), OnProgress(time.Hour, func(p Progress) { last = p }))
	if err != nil {
		t.Fatal(err)
	}
	scanCheckAccounting(t, st)
	rdbtest.Compare(t, rdbtest.Contents(t, buf.Bytes(), true), want)
	if recs := scanRecords(t, buf.Bytes()); recs["*rdb.SelectDB"] != 1 || recs["*rdb.Key"] != n {
		t.Errorf("records %v, want one SelectDB and %d keys", recs, n)
	}
	if st.KeysRead != int64(n) || last.BytesRead != int64(n) || last.BytesTotal != int64(n) {
		t.Errorf("stats %+v, progress %+v: want %d keys", st, last, n)
	}
	if st.Source.Version != 10 || st.Source.Flavor != rdb.FlavorRedis {
		t.Errorf("source %+v", st.Source)
	}
	for _, a := range c.Addrs() {
		if !strings.Contains(st.Source.Name, a) {
			t.Errorf("source name %q does not list %s", st.Source.Name, a)
		}
	}
	if ss := scanStatsOf(t, src.r); ss.Scanned != int64(n) || ss.Skipped != 0 {
		t.Errorf("scan stats %+v", ss)
	}

	// With PSYNC per node: the same keys.
	t.Run("PSYNC", func(t *testing.T) {
		var buf bytes.Buffer
		src := Cluster(c.Nodes()[0].URL(), func(u string) Source { return PSYNC(u, PSYNCOptions{}) })
		st, err := Run(context.Background(), src, ToWriter(&buf, FileOptions{}))
		if err != nil {
			t.Fatal(err)
		}
		scanCheckAccounting(t, st)
		rdbtest.Compare(t, rdbtest.Contents(t, buf.Bytes(), true), want)
		if recs := scanRecords(t, buf.Bytes()); recs["*rdb.SelectDB"] != 1 || recs["*rdb.Key"] != n {
			t.Errorf("records %v, want one SelectDB and %d keys", recs, n)
		}
		if st.Source.Version != 10 {
			t.Errorf("source %+v", st.Source)
		}
		// Each aux field once, none of one node's replication state.
		aux := map[string]int{}
		r := rdb.NewReader(bytes.NewReader(buf.Bytes()))
		for {
			rec, err := r.Next()
			if err != nil {
				break
			}
			if a, ok := rec.(*rdb.Aux); ok {
				aux[a.Key]++
			}
		}
		for k, n := range aux {
			if n != 1 || strings.HasPrefix(k, "repl-") {
				t.Errorf("aux %q %d times", k, n)
			}
		}
		if aux["redis-ver"] != 1 {
			t.Errorf("aux fields %v, want redis-ver", aux)
		}
	})
}

func TestClusterOfStandaloneServer(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t)
	do := func(args ...string) { s.MustDo(t, args...) }
	scanPopulate(t, do, "")
	do("SELECT", "2")
	scanPopulate(t, do, "two:")
	do("SELECT", "0")
	want := rdbtest.Contents(t, scanReadFile(t, s.Save(t)), true)
	var buf bytes.Buffer
	if _, err := Run(context.Background(), Cluster(s.URL(), scanPerNode), ToWriter(&buf, FileOptions{})); err != nil {
		t.Fatal(err)
	}
	rdbtest.Compare(t, rdbtest.Contents(t, buf.Bytes(), true), want)
}

func TestClusterNodeStopped(t *testing.T) {
	t.Parallel()
	c := redistest.StartCluster(t, 3)
	clusterFillNodes(t, c, 3000)
	victim := c.Nodes()[1]
	sink := &hookSink{Sink: ToWriter(io.Discard, FileOptions{}), onKey: func(n int, k *rdb.Key) error {
		if n == 1 {
			victim.Stop()
		}
		return nil
	}}
	src := Cluster(c.Nodes()[0].URL(), func(u string) Source { return Scan(u, ScanOptions{Count: 100, Pipeline: 16}) })
	st, err := Run(context.Background(), src, sink)
	if err == nil {
		t.Fatalf("no error after a node stopped; stats %+v", st)
	}
	if !strings.Contains(err.Error(), "node "+victim.Addr()) {
		t.Errorf("error %q does not name node %s", err, victim.Addr())
	}
	if st.KeysRead >= 9000 {
		t.Errorf("%d keys read", st.KeysRead)
	}
	t.Log(err)

	// A node missing from the start fails Open naming it... or the first
	// Next: either way the run fails naming the node.
	_, err = Run(context.Background(), Cluster(c.Nodes()[0].URL(), scanPerNode), ToWriter(io.Discard, FileOptions{}))
	if err == nil || !strings.Contains(err.Error(), victim.Addr()) {
		t.Errorf("cluster with a stopped node: %v", err)
	}
}

// transferGoroutines returns the stacks of goroutines running code of this
// package's types (sources and readers), other than the caller.
func transferGoroutines() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for i, g := range strings.Split(string(buf), "\n\n") {
		if i > 0 && strings.Contains(g, "rdbferry/transfer.(*") {
			out = append(out, g)
		}
	}
	return out
}

// Not parallel: it counts goroutines.
func TestClusterCancelLeavesNoGoroutines(t *testing.T) {
	c := redistest.StartCluster(t, 3)
	clusterFillNodes(t, c, 2000)
	for _, tc := range []struct {
		name  string
		after int // cancel after this many keys (0: before Run)
	}{{"mid-read", 5}, {"before", 0}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.after == 0 {
				cancel()
			}
			sink := &hookSink{Sink: ToWriter(io.Discard, FileOptions{}), onKey: func(n int, k *rdb.Key) error {
				if n == tc.after {
					cancel()
				}
				return nil
			}}
			_, err := Run(ctx, Cluster(c.Nodes()[2].URL(), scanPerNode), sink)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("Run: %v, want context.Canceled", err)
			}
			var left []string
			if waitFor(2*time.Second, func() bool { left = transferGoroutines(); return len(left) == 0 }) != nil {
				t.Errorf("%d goroutines left:\n%s", len(left), strings.Join(left, "\n\n"))
			}
		})
	}
	// Close without reading to the end stops every node's goroutine too.
	r, err := Cluster(c.Nodes()[0].URL(), scanPerNode).Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		if _, err := r.Next(); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	var left []string
	if waitFor(2*time.Second, func() bool { left = transferGoroutines(); return len(left) == 0 }) != nil {
		t.Errorf("%d goroutines left after Close:\n%s", len(left), strings.Join(left, "\n\n"))
	}
}
