package transfer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rdbferry/rdbferry/internal/rdbtest"
	"github.com/rdbferry/rdbferry/internal/redistest"
	"github.com/rdbferry/rdbferry/internal/resp"
	"github.com/rdbferry/rdbferry/rdb"
)

// scanExpireAt is an absolute expiration an hour or more away, the same for
// the whole test run.
var scanExpireAt = time.Now().Add(time.Hour).UnixMilli()

// scanPopulate writes keys of every type through do, which routes each
// command by its key (the first argument after the command name), with
// prefix in front of every key name. It returns the number of keys.
func scanPopulate(t *testing.T, do func(args ...string), prefix string) int {
	t.Helper()
	k := func(name string) string { return prefix + name }
	many := func(cmd, key string, n int, gen func(i int) []string) {
		args := []string{cmd, key}
		for i := 0; i < n; i++ {
			args = append(args, gen(i)...)
		}
		do(args...)
	}
	do("SET", k("str"), "hello")
	do("SET", k("int"), "123456")
	do("SET", k("big"), strings.Repeat("abcdefgh", 1000)) // LZF in the file
	do("SET", k("bin\x00\xff\r\n key"), "\x00\x01\xfe\xff")
	do("SET", k("ttl:str"), "expiring")
	do("PEXPIREAT", k("ttl:str"), strconv.FormatInt(scanExpireAt, 10))
	do("RPUSH", k("list"), "a", "b", "c", "1", "2")
	many("RPUSH", k("biglist"), 300, func(i int) []string { return []string{fmt.Sprintf("element-%04d-%s", i, strings.Repeat("x", 20))} })
	do("RPUSH", k("biglist"), strings.Repeat("L", 10000))
	do("SADD", k("set:int"), "1", "2", "3", "100000")
	do("SADD", k("set"), "a", "b", "c")
	many("SADD", k("bigset"), 600, func(i int) []string { return []string{"member-" + strconv.Itoa(i)} })
	do("ZADD", k("zset"), "1", "a", "2.5", "b", "-3", "c")
	many("ZADD", k("bigzset"), 300, func(i int) []string {
		return []string{strconv.FormatFloat(float64(i)/7, 'g', -1, 64), "m" + strconv.Itoa(i)}
	})
	do("HSET", k("hash"), "f1", "v1", "f2", "v2")
	many("HSET", k("bighash"), 600, func(i int) []string { return []string{"field-" + strconv.Itoa(i), strconv.Itoa(i * i)} })
	do("HSET", k("ttl:hash"), "a", "1")
	do("PEXPIREAT", k("ttl:hash"), strconv.FormatInt(scanExpireAt+1234, 10))
	s := k("stream")
	for i := 1; i <= 5; i++ {
		do("XADD", s, fmt.Sprintf("%d-%d", 1700000000000+i, i), "field", strconv.Itoa(i), "other", "value")
	}
	do("XGROUP", "CREATE", s, "g1", "0")
	do("XREADGROUP", "GROUP", "g1", "alice", "COUNT", "2", "STREAMS", s, ">")
	do("XREADGROUP", "GROUP", "g1", "bob", "COUNT", "1", "STREAMS", s, ">")
	do("XGROUP", "CREATE", s, "g2", "$")
	do("XDEL", s, fmt.Sprintf("%d-%d", 1700000000000+4, 4))
	return 16
}

// scanFillStrings writes n string keys prefix0 … prefix<n-1> with a script.
func scanFillStrings(t *testing.T, s *redistest.Server, prefix string, n int) {
	t.Helper()
	s.MustDo(t, "EVAL", `for i = 0, tonumber(ARGV[2]) - 1 do redis.call('SET', ARGV[1] .. i, 'value-' .. i) end`,
		"0", prefix, strconv.Itoa(n))
}

func scanReadFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// scanRecords returns the kinds of records of an RDB stream, counted.
func scanRecords(t *testing.T, data []byte) map[string]int {
	t.Helper()
	out := map[string]int{}
	r := rdb.NewReader(bytes.NewReader(data))
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("reading the output: %v", err)
		}
		out[fmt.Sprintf("%T", rec)]++
	}
}

// scanCheckAccounting asserts that every key read is accounted for.
func scanCheckAccounting(t *testing.T, st Stats) {
	t.Helper()
	if st.KeysRead != st.KeysWritten+st.KeysFiltered+st.KeysSkipped+st.KeysFailed {
		t.Errorf("accounting: %+v", st)
	}
}

// hookSink passes records on to a Sink, calling onKey before each key.
type hookSink struct {
	Sink
	n     int
	onKey func(n int, k *rdb.Key) error
}

func (h *hookSink) Write(ctx context.Context, rec rdb.Record) error {
	if k, ok := rec.(*rdb.Key); ok && h.onKey != nil {
		h.n++
		if err := h.onKey(h.n, k); err != nil {
			return err
		}
	}
	return h.Sink.Write(ctx, rec)
}

// captureSource keeps the Reader its Source opened.
type captureSource struct {
	Source
	r Reader
}

func (c *captureSource) Open(ctx context.Context) (Reader, error) {
	r, err := c.Source.Open(ctx)
	c.r = r
	return r, err
}

func scanStatsOf(t *testing.T, r Reader) ScanStats {
	t.Helper()
	sr, ok := r.(ScanReporter)
	if !ok {
		t.Fatalf("%T does not implement ScanReporter", r)
	}
	return sr.ScanStats()
}

// commandCalls returns how often the server ran cmd since CONFIG RESETSTAT.
func commandCalls(t *testing.T, s *redistest.Server, cmd string) int {
	t.Helper()
	v := s.MustDo(t, "INFO", "commandstats")
	for _, line := range strings.Split(string(v.([]byte)), "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_"+cmd+":calls="); ok {
			n, _ := strconv.Atoi(strings.SplitN(rest, ",", 2)[0])
			return n
		}
	}
	return 0
}

func TestScanEqualsSave(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t)
	do := func(args ...string) { s.MustDo(t, args...) }
	nDB0 := scanPopulate(t, do, "")
	do("SELECT", "1")
	n := nDB0 + scanPopulate(t, do, "db1:")
	do("SELECT", "5")
	do("SET", "five", "5")
	do("PEXPIREAT", "five", strconv.FormatInt(scanExpireAt+5, 10))
	do("SELECT", "0")
	n++
	want := rdbtest.Contents(t, scanReadFile(t, s.Save(t)), true)
	if len(want) != n {
		t.Fatalf("the SAVE file has %d keys, want %d", len(want), n)
	}

	for _, scheme := range []string{"redis", "redis+scan"} {
		t.Run(scheme, func(t *testing.T) {
			var buf bytes.Buffer
			var last Progress
			url := scheme + "://" + s.Addr()
			st, err := Run(context.Background(), Scan(url, ScanOptions{Count: 7, Pipeline: 5}), ToWriter(&buf, FileOptions{}),
				OnProgress(time.Hour, func(p Progress) { last = p }))
			if err != nil {
				t.Fatal(err)
			}
			scanCheckAccounting(t, st)
			rdbtest.Compare(t, rdbtest.Contents(t, buf.Bytes(), true), want)
			if st.KeysRead != int64(n) || st.KeysWritten != int64(n) {
				t.Errorf("read %d, wrote %d keys, want %d", st.KeysRead, st.KeysWritten, n)
			}
			if st.Source.Version != 10 || st.Source.Flavor != rdb.FlavorRedis || !strings.Contains(st.Source.Name, s.Addr()) {
				t.Errorf("source info %+v, want redis RDB 10 naming %s", st.Source, s.Addr())
			}
			if recs := scanRecords(t, buf.Bytes()); recs["*rdb.SelectDB"] != 3 {
				t.Errorf("records %v, want 3 SelectDB", recs)
			}
			if last.BytesRead != int64(n) || last.BytesTotal != int64(n) || last.Percent() != 100 {
				t.Errorf("final progress %+v, want %d of %d keys", last, n, n)
			}
		})
	}

	t.Run("records", func(t *testing.T) {
		r, err := Scan(s.URL(), ScanOptions{DBs: []int{5, 0}}).Open(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		var got []string
		curDB := -1
		for {
			rec, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			switch rec := rec.(type) {
			case *rdb.SelectDB:
				got = append(got, "select "+strconv.Itoa(rec.DB))
				curDB = rec.DB
			case *rdb.Key:
				if rec.DB != curDB || rec.Idle != -1 || rec.Freq != -1 || rec.Version != 10 || rec.Type.Kind() == rdb.KindUnknown {
					t.Errorf("key %q after SelectDB %d: %+v", rec.Key, curDB, rec)
				}
				if string(rec.Key) == "five" && rec.ExpireAt != scanExpireAt+5 || string(rec.Key) == "str" && rec.ExpireAt != 0 {
					t.Errorf("key %q expires at %d", rec.Key, rec.ExpireAt)
				}
				if string(rec.Key) == "bin\x00\xff\r\n key" && rec.Type != rdb.TypeString {
					t.Errorf("binary key has type %v", rec.Type)
				}
			default:
				t.Errorf("unexpected record %T", rec)
			}
		}
		// A SelectDB before each database's keys, in the order of DBs.
		if want := []string{"select 5", "select 0"}; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("records %v, want %v", got, want)
		}
		if read, total := r.Progress(); read != int64(nDB0+1) || read != total {
			t.Errorf("progress %d of %d, want %d", read, total, nDB0+1)
		}
	})

	t.Run("PTTL", func(t *testing.T) {
		src := Scan(s.URL(), ScanOptions{DBs: []int{0, 5}})
		src.(*scanSource).forcePTTL = true
		var buf bytes.Buffer
		if _, err := Run(context.Background(), src, ToWriter(&buf, FileOptions{})); err != nil {
			t.Fatal(err)
		}
		got := rdbtest.Contents(t, buf.Bytes(), true)
		wantSome := map[string]rdbtest.Entry{}
		for k, e := range want {
			if !strings.HasPrefix(k, "1/") {
				wantSome[k] = e
			}
		}
		// PTTL's expirations are the time the command was sent plus the
		// TTL: at most the real one, and close to it.
		for k, g := range got {
			w := wantSome[k]
			if w.ExpireAt != 0 && g.ExpireAt <= w.ExpireAt && g.ExpireAt > w.ExpireAt-2000 {
				g.ExpireAt = w.ExpireAt
				got[k] = g
			}
		}
		rdbtest.Compare(t, got, wantSome)
	})
}

func TestScanMatchAndTypePushed(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t)
	for i := 0; i < 50; i++ {
		s.MustDo(t, "SET", "user:"+strconv.Itoa(i), "u")
		s.MustDo(t, "SET", "other:"+strconv.Itoa(i), "o")
		s.MustDo(t, "HSET", "h:"+strconv.Itoa(i), "f", "v")
	}
	s.MustDo(t, "HSET", "user:hash", "f", "v")

	for _, tc := range []struct {
		name string
		opts ScanOptions
		want func(key string) bool
		n    int
	}{
		{"match", ScanOptions{Match: "user:*"}, func(k string) bool { return strings.HasPrefix(k, "user:") }, 51},
		{"type", ScanOptions{Type: "hash"}, func(k string) bool { return strings.HasPrefix(k, "h:") || k == "user:hash" }, 51},
		{"both", ScanOptions{Match: "user:*", Type: "hash", Count: 3}, func(k string) bool { return k == "user:hash" }, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s.MustDo(t, "CONFIG", "RESETSTAT")
			var buf bytes.Buffer
			src := &captureSource{Source: Scan(s.URL(), tc.opts)}
			st, err := Run(context.Background(), src, ToWriter(&buf, FileOptions{}))
			if err != nil {
				t.Fatal(err)
			}
			got := rdbtest.Contents(t, buf.Bytes(), false)
			for k := range got {
				if !tc.want(strings.TrimPrefix(k, "0/")) {
					t.Errorf("key %q does not match", k)
				}
			}
			if len(got) != tc.n || st.KeysRead != int64(tc.n) {
				t.Errorf("%d keys (%d read), want %d", len(got), st.KeysRead, tc.n)
			}
			// Filtered on the server: DUMP ran for the matching keys only.
			if calls := commandCalls(t, s, "dump"); calls != tc.n {
				t.Errorf("DUMP ran %d times, want %d", calls, tc.n)
			}
			if _, total := src.r.Progress(); total != -1 {
				t.Errorf("progress total %d with a filter, want -1", total)
			}
		})
	}
}

func TestScanKeysDeletedMidScan(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t)

	t.Run("flush", func(t *testing.T) {
		scanFillStrings(t, s, "k:", 5000)
		// Once the first key is written, every key is deleted: those SCAN
		// returned but DUMP had not reached are passed over.
		var buf bytes.Buffer
		src := &captureSource{Source: Scan(s.URL(), ScanOptions{Count: 1000, Pipeline: 64})}
		sink := &hookSink{Sink: ToWriter(&buf, FileOptions{}), onKey: func(n int, k *rdb.Key) error {
			if n == 1 {
				_, err := s.Do("FLUSHALL")
				return err
			}
			return nil
		}}
		st, err := Run(context.Background(), src, sink)
		if err != nil {
			t.Fatal(err)
		}
		scanCheckAccounting(t, st)
		ss := scanStatsOf(t, src.r)
		if ss.Skipped == 0 || ss.Scanned != st.KeysRead+ss.Skipped {
			t.Errorf("scan stats %+v, stats %+v: want skipped keys, scanned = read + skipped", ss, st)
		}
		for k, e := range rdbtest.Contents(t, buf.Bytes(), false) {
			i, err := strconv.Atoi(strings.TrimPrefix(k, "0/k:"))
			if err != nil || e.Value != fmt.Sprintf("string %q", "value-"+strconv.Itoa(i)) {
				t.Errorf("key %q = %s", k, e.Value)
			}
		}
	})

	t.Run("concurrent", func(t *testing.T) {
		s.MustDo(t, "FLUSHALL")
		const n = 4000
		scanFillStrings(t, s, "c:", n)
		started := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		var delErr error
		go func() {
			defer wg.Done()
			<-started
			for i := 1; i < n; i += 200 { // the odd keys, in batches
				args := []string{"DEL"}
				for j := i; j < i+200 && j < n; j += 2 {
					args = append(args, "c:"+strconv.Itoa(j))
				}
				if _, err := s.Do(args...); err != nil {
					delErr = err
					return
				}
			}
		}()
		var buf bytes.Buffer
		src := &captureSource{Source: Scan(s.URL(), ScanOptions{Count: 50, Pipeline: 8})}
		sink := &hookSink{Sink: ToWriter(&buf, FileOptions{}), onKey: func(n int, k *rdb.Key) error {
			if n == 1 {
				close(started)
			}
			return nil
		}}
		st, err := Run(context.Background(), src, sink)
		wg.Wait()
		if err != nil {
			t.Fatal(err)
		}
		if delErr != nil {
			t.Fatal(delErr)
		}
		scanCheckAccounting(t, st)
		got := rdbtest.Contents(t, buf.Bytes(), false)
		// Keys present during the whole scan are all read.
		for i := 0; i < n; i += 2 {
			if _, ok := got["0/c:"+strconv.Itoa(i)]; !ok {
				t.Errorf("key c:%d missing", i)
			}
		}
		ss := scanStatsOf(t, src.r)
		if int64(len(got)) != st.KeysWritten || ss.Scanned != st.KeysRead+ss.Skipped {
			t.Errorf("%d keys in the file, stats %+v, scan stats %+v", len(got), st, ss)
		}
		t.Logf("%d keys read, %d skipped", st.KeysRead, ss.Skipped)
	})
}

func TestScanAuth(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t, redistest.Config("requirepass", "s3cret"))
	scanPopulate(t, func(args ...string) { s.MustDo(t, args...) }, "")
	s.MustDo(t, "ACL", "SETUSER", "reader", "on", ">pw", "~*", "+@all")
	s.MustDo(t, "ACL", "SETUSER", "nodump", "on", ">pw", "~*", "+@all", "-dump")
	s.MustDo(t, "ACL", "SETUSER", "nopexpiretime", "on", ">pw", "~*", "+@all", "-pexpiretime")
	want := rdbtest.Contents(t, scanReadFile(t, s.Save(t)), true)

	for _, url := range []string{s.URL(), "redis://reader:pw@" + s.Addr(), "redis+scan://s3cret@" + s.Addr()} {
		var buf bytes.Buffer
		if _, err := Run(context.Background(), Scan(url, ScanOptions{}), ToWriter(&buf, FileOptions{})); err != nil {
			t.Fatalf("%s: %v", url, err)
		}
		rdbtest.Compare(t, rdbtest.Contents(t, buf.Bytes(), true), want)
	}
	// PEXPIRETIME refused by the ACL: PTTL instead.
	var buf bytes.Buffer
	if _, err := Run(context.Background(), Scan("redis://nopexpiretime:pw@"+s.Addr(), ScanOptions{}), ToWriter(&buf, FileOptions{})); err != nil {
		t.Fatalf("without PEXPIRETIME: %v", err)
	}
	for k, e := range rdbtest.Contents(t, buf.Bytes(), true) {
		if w := want[k]; e.Value != w.Value || e.ExpireAt > w.ExpireAt || e.ExpireAt < w.ExpireAt-2000 {
			t.Errorf("without PEXPIRETIME: key %q = %.100s expiring at %d, want %.100s at %d", k, e.Value, e.ExpireAt, w.Value, w.ExpireAt)
		}
	}

	_, err := Run(context.Background(), Scan("redis://:wrong@"+s.Addr(), ScanOptions{}), ToWriter(io.Discard, FileOptions{}))
	if err == nil || !strings.Contains(err.Error(), s.Addr()) || !strings.Contains(err.Error(), "AUTH") || strings.Contains(err.Error(), "wrong") {
		t.Errorf("wrong password: %v", err)
	}
	_, err = Run(context.Background(), Scan("redis://"+s.Addr(), ScanOptions{}), ToWriter(io.Discard, FileOptions{}))
	if err == nil || !strings.Contains(err.Error(), s.Addr()) || !strings.Contains(err.Error(), "NOAUTH") {
		t.Errorf("no password: %v", err)
	}
	// A refused DUMP names the server and the key.
	_, err = Run(context.Background(), Scan("redis://nodump:pw@"+s.Addr(), ScanOptions{Match: "zset"}), ToWriter(io.Discard, FileOptions{}))
	if err == nil || !strings.Contains(err.Error(), s.Addr()) || !strings.Contains(err.Error(), `DUMP "zset"`) || !strings.Contains(err.Error(), "NOPERM") {
		t.Errorf("DUMP refused: %v", err)
	}
}

func TestScanBadURL(t *testing.T) {
	t.Parallel()
	for _, url := range []string{"http://127.0.0.1:1", "redis+psync://127.0.0.1:1", "redis://", "redis://127.0.0.1:1/x", "redis://a b"} {
		if _, err := Scan(url, ScanOptions{}).Open(context.Background()); err == nil {
			t.Errorf("%s: no error", url)
		}
	}
	_, err := Scan("redis://:pass@127.0.0.1:1", ScanOptions{DialTimeout: time.Second}).Open(context.Background())
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") || strings.Contains(err.Error(), "pass") {
		t.Errorf("refused connection: %v", err)
	}
}

func TestScanCancel(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t)
	scanFillStrings(t, s, "k:", 3000)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	src := &captureSource{Source: Scan(s.URL(), ScanOptions{Count: 100, Pipeline: 16})}
	sink := &hookSink{Sink: ToWriter(io.Discard, FileOptions{}), onKey: func(n int, k *rdb.Key) error {
		if n == 10 {
			cancel()
		}
		return nil
	}}
	start := time.Now()
	st, err := Run(ctx, src, sink)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v, want context.Canceled", err)
	}
	if st.KeysRead >= 3000 || time.Since(start) > 5*time.Second {
		t.Errorf("read %d keys in %v after cancellation", st.KeysRead, time.Since(start))
	}
	// The connection is closed: the server sees one client (ours, for Do).
	if err := waitFor(2*time.Second, func() bool {
		v, _ := s.Do("INFO", "clients")
		b, _ := v.([]byte)
		return strings.Contains(string(b), "connected_clients:1\r")
	}); err != nil {
		t.Error("the scan connection is still open after cancellation")
	}
	if _, err := src.r.Next(); !errors.Is(err, context.Canceled) {
		t.Errorf("Next after cancellation: %v", err)
	}
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(timeout time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return errors.New("timed out")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

// fakeServer answers each command with reply(args) on 127.0.0.1 (a zero
// Reply hangs up), for
// behaviour real test servers cannot show (old versions, duplicates from
// SCAN, corrupt payloads).
func fakeServer(t *testing.T, reply func(args []string) resp.Reply) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				r, w := resp.NewReader(c), resp.NewWriter(c)
				for {
					x, err := r.ReadReply()
					if err != nil {
						return
					}
					var args []string
					for _, e := range x.Elems {
						args = append(args, string(e.Str))
					}
					x = reply(args)
					if x.Kind == 0 {
						w.Flush()
						return // hang up
					}
					w.WriteReply(x)
					if r.Buffered() == 0 && w.Flush() != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func bulkReply(b []byte) resp.Reply { return resp.Reply{Kind: resp.Bulk, Str: b} }

func errReply(msg string) resp.Reply { return resp.Reply{Kind: resp.Error, Str: []byte(msg)} }

func arrayReply(elems ...resp.Reply) resp.Reply { return resp.Reply{Kind: resp.Array, Elems: elems} }

// oldRedis is a fake Redis 5.0: no PEXPIRETIME, no SCAN TYPE. Its SCAN
// returns duplicates, a key deleted before DUMP ("gone"), one created
// between PTTL and DUMP ("late") and a hash ("h"), then extra.
func oldRedis(extra ...string) func(args []string) resp.Reply {
	str := func(v string) resp.Reply {
		return bulkReply(rdb.AppendDumpPayload(nil, rdb.TypeString, append([]byte{byte(len(v))}, v...), 9))
	}
	return func(args []string) resp.Reply {
		cmd := strings.ToUpper(args[0])
		switch {
		case cmd == "INFO" && args[1] == "server":
			return bulkReply([]byte("# Server\r\nredis_version:5.0.7\r\n"))
		case cmd == "INFO" && args[1] == "keyspace":
			return bulkReply([]byte("# Keyspace\r\ndb0:keys=6,expires=1,avg_ttl=0\r\n"))
		case cmd == "COMMAND":
			return arrayReply(resp.Reply{Kind: resp.Nil})
		case cmd == "SCAN" && len(args) > 4 && args[4] == "TYPE":
			return errReply("ERR syntax error")
		case cmd == "SCAN" && args[1] == "0":
			return arrayReply(bulkReply([]byte("7")), arrayReply(bulkReply([]byte("a")), bulkReply([]byte("b")), bulkReply([]byte("a"))))
		case cmd == "SCAN":
			keys := []resp.Reply{bulkReply([]byte("b")), bulkReply([]byte("c")), bulkReply([]byte("h")), bulkReply([]byte("gone")), bulkReply([]byte("late"))}
			for _, k := range extra {
				keys = append(keys, bulkReply([]byte(k)))
			}
			return arrayReply(bulkReply([]byte("0")), arrayReply(keys...))
		case cmd == "PTTL":
			switch args[1] {
			case "b":
				return resp.Reply{Kind: resp.Int, Int: 5000}
			case "gone", "late":
				return resp.Reply{Kind: resp.Int, Int: -2}
			}
			return resp.Reply{Kind: resp.Int, Int: -1}
		case cmd == "DUMP":
			switch args[1] {
			case "gone":
				return resp.Reply{Kind: resp.Nil}
			case "h":
				return bulkReply(rdb.AppendDumpPayload(nil, rdb.TypeHash, []byte{1, 1, 'f', 1, 'v'}, 9))
			case "hangup":
				return resp.Reply{}
			case "bad":
				p := rdb.AppendDumpPayload(nil, rdb.TypeString, []byte{1, 'x'}, 9)
				p[1] = 'y'
				return bulkReply(p)
			}
			return str("value of " + args[1])
		}
		return errReply("ERR unknown command '" + args[0] + "'")
	}
}

func TestScanOldServer(t *testing.T) {
	t.Parallel()
	addr := fakeServer(t, oldRedis())
	src := &captureSource{Source: Scan("redis://"+addr, ScanOptions{Type: "string"})}
	var got []*rdb.Key
	sent := time.Now().UnixMilli()
	st, err := Run(context.Background(), src, &recordKeys{keys: &got})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, k := range got {
		names = append(names, string(k.Key))
		if k.Version != 9 || k.Type != rdb.TypeString || string(k.Raw[1:]) != "value of "+string(k.Key) {
			t.Errorf("key %q: %+v", k.Key, k)
		}
		if want := k.Key[0] == 'b'; (k.ExpireAt != 0) != want || want && (k.ExpireAt < sent+5000 || k.ExpireAt > time.Now().UnixMilli()+5000) {
			t.Errorf("key %q expires at %d (PTTL 5000 sent at %d)", k.Key, k.ExpireAt, sent)
		}
	}
	// Duplicates dropped, the hash left out by the client-side type filter,
	// the vanished and the late key passed over.
	if fmt.Sprint(names) != "[a b c]" || st.KeysRead != 3 {
		t.Errorf("keys %q, stats %+v", names, st)
	}
	if ss := scanStatsOf(t, src.r); ss != (ScanStats{Scanned: 6, Skipped: 2, Duplicates: 2}) {
		t.Errorf("scan stats %+v", ss)
	}
	if st.Source.Version != 9 || st.Source.Flavor != rdb.FlavorRedis {
		t.Errorf("source %+v", st.Source)
	}
	if _, total := src.r.Progress(); total != -1 {
		t.Errorf("total %d with Type, want -1", total)
	}

	// A corrupt payload names the server and the key.
	addr = fakeServer(t, oldRedis("bad"))
	_, err = Run(context.Background(), Scan("redis+scan://"+addr, ScanOptions{}), ToWriter(io.Discard, FileOptions{}))
	if err == nil || !strings.Contains(err.Error(), addr) || !strings.Contains(err.Error(), `DUMP "bad"`) || !errors.Is(err, rdb.ErrChecksum) {
		t.Errorf("corrupt payload: %v", err)
	}

	// A connection closed in mid-scan is an error, not the end.
	addr = fakeServer(t, oldRedis("hangup"))
	_, err = Run(context.Background(), Scan("redis://"+addr, ScanOptions{}), ToWriter(io.Discard, FileOptions{}))
	if err == nil || !strings.Contains(err.Error(), addr) || !strings.Contains(err.Error(), "closed the connection") {
		t.Errorf("hang-up: %v", err)
	}
}

// recordKeys is a Sink keeping clones of the keys.
type recordKeys struct{ keys *[]*rdb.Key }

func (s *recordKeys) Begin(context.Context, SourceInfo) error { return nil }

func (s *recordKeys) Write(_ context.Context, rec rdb.Record) error {
	if k, ok := rec.(*rdb.Key); ok {
		*s.keys = append(*s.keys, k.Clone())
	}
	return nil
}

func (s *recordKeys) Close(context.Context) (Result, error) {
	return Result{Written: int64(len(*s.keys))}, nil
}
