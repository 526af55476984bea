package redistest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"github.com/rdbferry/rdbferry/internal/keyslot"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// assertGone checks that a stopped server's process has exited and its ports
// no longer accept connections.
func assertGone(t *testing.T, s *Server) {
	t.Helper()
	select {
	case <-s.done:
	default:
		t.Errorf("%s: process %d not waited for after Stop", s.Addr(), s.cmd.Process.Pid)
	}
	if !processGone(s.cmd.Process.Pid) {
		t.Errorf("%s: process %d still exists after Stop", s.Addr(), s.cmd.Process.Pid)
	}
	ports := []int{s.Port()}
	if s.busPort != 0 {
		ports = append(ports, s.busPort)
	}
	for _, p := range ports {
		c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)), 500*time.Millisecond)
		if err == nil {
			c.Close()
			t.Errorf("port %d still accepts connections after Stop", p)
		}
	}
	if _, err := s.Do("PING"); err == nil {
		t.Errorf("%s: Do after Stop succeeded", s.Addr())
	}
}

func bulk(t *testing.T, v any) string {
	t.Helper()
	b, ok := v.([]byte)
	if !ok {
		t.Fatalf("reply %#v is not a bulk string", v)
	}
	return string(b)
}

func TestStandaloneSaveAndLoad(t *testing.T) {
	t.Parallel()
	s := Start(t, Config("maxmemory", "10mb"))

	if got, want := s.Addr(), "127.0.0.1:"+strconv.Itoa(s.Port()); got != want {
		t.Errorf("Addr() = %q, want %q", got, want)
	}
	if got, want := s.URL(), "redis://"+s.Addr(); got != want {
		t.Errorf("URL() = %q, want %q", got, want)
	}
	if s.Port() == 6379 || s.Port() <= 0 {
		t.Errorf("Port() = %d", s.Port())
	}
	if fi, err := os.Stat(s.Dir()); err != nil || !fi.IsDir() {
		t.Errorf("Dir() %q: %v", s.Dir(), err)
	}
	if strings.Count(s.Version(), ".") != 2 {
		t.Errorf("Version() = %q", s.Version())
	}

	if got := s.MustDo(t, "SET", "greeting", "hello world"); got != "OK" {
		t.Errorf("SET = %#v, want \"OK\"", got)
	}
	if got := bulk(t, s.MustDo(t, "GET", "greeting")); got != "hello world" {
		t.Errorf("GET = %q", got)
	}
	if got := s.MustDo(t, "GET", "missing"); got != nil {
		t.Errorf("GET missing = %#v, want nil", got)
	}
	if got := s.MustDo(t, "INCRBY", "n", "41"); got != int64(41) {
		t.Errorf("INCRBY = %#v, want int64(41)", got)
	}
	cfg, _ := s.MustDo(t, "CONFIG", "GET", "maxmemory").([]any)
	if len(cfg) != 2 || bulk(t, cfg[1]) != "10485760" {
		t.Errorf("CONFIG GET maxmemory = %#v, want 10485760 from Config option", cfg)
	}
	_, err := s.Do("LPUSH", "greeting", "x")
	var e Error
	if !errors.As(err, &e) || !strings.HasPrefix(string(e), "WRONGTYPE") {
		t.Errorf("LPUSH on a string: err = %v, want a WRONGTYPE Error", err)
	}
	// An error reply does not break the connection.
	if got := s.MustDo(t, "PING"); got != "PONG" {
		t.Errorf("PING after error = %#v", got)
	}
	if !strings.Contains(s.Log(), "Ready to accept connections") {
		t.Errorf("Log() lacks the ready line:\n%s", s.Log())
	}

	path := s.Save(t)
	if want := filepath.Join(s.Dir(), "dump.rdb"); path != want {
		t.Errorf("Save() = %q, want %q", path, want)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(data, []byte("REDIS")) {
		t.Fatalf("%s starts with %q, want REDIS", path, data[:min(len(data), 9)])
	}

	s2 := Start(t, WithRDB(path))
	if s2.Port() == s.Port() || s2.Dir() == s.Dir() {
		t.Fatalf("second server shares port or dir with the first")
	}
	if got := bulk(t, s2.MustDo(t, "GET", "greeting")); got != "hello world" {
		t.Errorf("GET on the server started WithRDB = %q", got)
	}
	if got := s2.MustDo(t, "GET", "n"); bulk(t, got) != "41" {
		t.Errorf("GET n = %#v", got)
	}
	if !strings.Contains(s2.Log(), "DB loaded from disk") {
		t.Errorf("second server's log does not show the RDB load:\n%s", s2.Log())
	}

	s.Stop()
	s2.Stop()
	s2.Stop() // idempotent
	assertGone(t, s)
	assertGone(t, s2)
}

func TestReplica(t *testing.T) {
	t.Parallel()
	m := Start(t)
	m.MustDo(t, "SET", "before", "1")
	r := StartReplica(t, m)
	if got := bulk(t, r.MustDo(t, "GET", "before")); got != "1" {
		t.Errorf("replica GET before = %q", got)
	}
	m.MustDo(t, "SET", "after", "2")
	err := poll(5*time.Second, func() (bool, error) {
		v, err := r.Do("GET", "after")
		return err == nil && v != nil, err
	})
	if err != nil {
		t.Errorf("key written to the master after the sync never reached the replica: %v", err)
	}
	_, err = r.Do("SET", "x", "y")
	var e Error
	if !errors.As(err, &e) || !strings.HasPrefix(string(e), "READONLY") {
		t.Errorf("SET on replica: err = %v, want READONLY", err)
	}
	r.Stop()
	m.Stop()
	assertGone(t, r)
	assertGone(t, m)
}

func TestRequirePass(t *testing.T) {
	t.Parallel()
	s := Start(t, Config("requirepass", "s3 cret\"x"))
	if got := s.MustDo(t, "PING"); got != "PONG" {
		t.Errorf("PING = %#v", got)
	}
	if want := "redis://:s3 cret\"x@" + s.Addr(); s.URL() != want {
		t.Errorf("URL() = %q, want %q", s.URL(), want)
	}
	// A connection that does not authenticate is refused.
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "PING\r\n")
	line, _ := bufio.NewReader(c).ReadString('\n')
	if !strings.HasPrefix(line, "-NOAUTH") {
		t.Errorf("unauthenticated PING = %q, want -NOAUTH", line)
	}
	r := StartReplica(t, s)
	if got := r.MustDo(t, "PING"); got != "PONG" {
		t.Errorf("replica of a password-protected master: PING = %#v", got)
	}
}

func TestCluster(t *testing.T) {
	t.Parallel()
	c := StartCluster(t, 3)
	nodes := c.Nodes()
	if len(nodes) != 3 || len(c.Addrs()) != 3 {
		t.Fatalf("%d nodes, %d addrs, want 3", len(nodes), len(c.Addrs()))
	}
	for i, n := range nodes {
		if c.Addrs()[i] != n.Addr() {
			t.Errorf("Addrs()[%d] = %s, want %s", i, c.Addrs()[i], n.Addr())
		}
		info := bulk(t, n.MustDo(t, "CLUSTER", "INFO"))
		if !strings.Contains(info, "cluster_state:ok") {
			t.Errorf("%s: CLUSTER INFO:\n%s", n.Addr(), info)
		}
	}
	wantOwner := map[int]int{0: 0, 5460: 0, 5461: 1, 10922: 1, 10923: 2, 16383: 2}
	for slot, i := range wantOwner {
		if got := c.NodeForSlot(slot); got != nodes[i] {
			t.Errorf("NodeForSlot(%d) = %v, want node %d", slot, got.Addr(), i)
		}
	}
	if c.NodeForSlot(-1) != nil || c.NodeForSlot(NumSlots) != nil {
		t.Errorf("NodeForSlot out of range is not nil")
	}

	keys := []string{"foo", "bar", "c", "user:1000", "{user1000}.following", "{user1000}.followers", "a{}b", "{{x}}", "k\x00\xff"}
	seen := map[*Server]bool{}
	for _, k := range keys {
		slot := keyslot.Slot([]byte(k))
		// Every node computes the same slot as keyslot.Slot.
		for _, n := range nodes {
			if got := n.MustDo(t, "CLUSTER", "KEYSLOT", k); got != int64(slot) {
				t.Errorf("%s: CLUSTER KEYSLOT %q = %v, keyslot.Slot = %d", n.Addr(), k, got, slot)
			}
		}
		owner := c.NodeForKey(k)
		seen[owner] = true
		owner.MustDo(t, "SET", k, "v:"+k)
		if got := bulk(t, owner.MustDo(t, "GET", k)); got != "v:"+k {
			t.Errorf("GET %q on its owner = %q", k, got)
		}
		for _, n := range nodes {
			if n == owner {
				continue
			}
			_, err := n.Do("GET", k)
			want := fmt.Sprintf("MOVED %d %s", slot, owner.Addr())
			if err == nil || err.Error() != want {
				t.Errorf("GET %q on a non-owner: err = %v, want %q", k, err, want)
			}
		}
	}
	if len(seen) != 3 {
		t.Errorf("test keys cover %d nodes, want all 3", len(seen))
	}

	c.Stop()
	for _, n := range nodes {
		assertGone(t, n)
	}
}

func TestParallelStarts(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	ports := map[int]string{}
	for i := 0; i < 4; i++ {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			t.Parallel()
			s := Start(t)
			mu.Lock()
			if other, dup := ports[s.Port()]; dup {
				t.Errorf("port %d given to %s and %s", s.Port(), other, t.Name())
			}
			ports[s.Port()] = t.Name()
			mu.Unlock()
			s.MustDo(t, "SET", "name", t.Name())
			if got := bulk(t, s.MustDo(t, "GET", "name")); got != t.Name() {
				t.Errorf("GET = %q", got)
			}
		})
	}
}

// fakeTB records Fatal and Skip instead of ending the real test, and ends
// only the goroutine that called it (as the real ones do).
type fakeTB struct {
	testing.TB
	fatal, skip string
}

func (f *fakeTB) Fatal(args ...any) { f.fatal = fmt.Sprint(args...); runtime.Goexit() }
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.fatal = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (f *fakeTB) FailNow()         { f.fatal = "FailNow"; runtime.Goexit() }
func (f *fakeTB) Skip(args ...any) { f.skip = fmt.Sprint(args...); runtime.Goexit() }
func (f *fakeTB) Skipf(format string, args ...any) {
	f.skip = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (f *fakeTB) SkipNow() { f.skip = "SkipNow"; runtime.Goexit() }

func runFake(t *testing.T, fn func(tb testing.TB)) *fakeTB {
	f := &fakeTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
	return f
}

// Not parallel: it sets environment variables.
func TestMissingBinary(t *testing.T) {
	t.Setenv("REDIS_SERVER", "/nonexistent/redis-server")

	t.Setenv("RDBFERRY_ALLOW_SKIP", "")
	f := runFake(t, func(tb testing.TB) { Start(tb) })
	if f.skip != "" || !strings.Contains(f.fatal, "make test") || !strings.Contains(f.fatal, "apt-get install redis-server") {
		t.Errorf("without RDBFERRY_ALLOW_SKIP: fatal %q, skip %q; want a fatal naming make test and apt-get", f.fatal, f.skip)
	}

	t.Setenv("RDBFERRY_ALLOW_SKIP", "1")
	f = runFake(t, func(tb testing.TB) { Start(tb) })
	if f.fatal != "" || !strings.Contains(f.skip, "/nonexistent/redis-server") {
		t.Errorf("with RDBFERRY_ALLOW_SKIP=1: fatal %q, skip %q; want a skip", f.fatal, f.skip)
	}

	// WithBinary wins over $REDIS_SERVER.
	t.Setenv("RDBFERRY_ALLOW_SKIP", "")
	f = runFake(t, func(tb testing.TB) { Start(tb, WithBinary("redis-server")).Stop() })
	if f.fatal != "" || f.skip != "" {
		t.Errorf("WithBinary(redis-server): fatal %q, skip %q", f.fatal, f.skip)
	}
}

func TestStartFailureShowsLog(t *testing.T) {
	t.Parallel()
	f := runFake(t, func(tb testing.TB) { Start(tb, Config("no-such-directive", "1")) })
	if !strings.Contains(f.fatal, "exited during startup") || !strings.Contains(f.fatal, "no-such-directive") {
		t.Errorf("fatal = %q; want the exit and the server's complaint about the directive", f.fatal)
	}
}

// Not parallel: it replaces reserve while no other test can start a server.
func TestRetryWhenPortTaken(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	taken := l.Addr().(*net.TCPAddr).Port
	calls := 0
	orig := reserve
	reserve = func(bus bool) (int, func(), error) {
		calls++
		if calls == 1 {
			return taken, func() {}, nil
		}
		return orig(bus)
	}
	defer func() { reserve = orig }()

	s := Start(t)
	if calls != 2 || s.Port() == taken {
		t.Errorf("calls = %d, port %d (taken %d): want a second attempt on another port", calls, s.Port(), taken)
	}
	if got := s.MustDo(t, "PING"); got != "PONG" {
		t.Errorf("PING = %#v", got)
	}
}

func TestStartTimeoutKillsServer(t *testing.T) {
	t.Parallel()
	// A timeout too short for any server to start.
	f := runFake(t, func(tb testing.TB) { Start(tb, WithStartTimeout(time.Nanosecond)) })
	if f.fatal == "" {
		// The server beat a 1 ns timeout: it answered the very first probe.
		t.Skip("server was ready at the first probe")
	}
	if !strings.Contains(f.fatal, "not ready within") {
		t.Errorf("fatal = %q", f.fatal)
	}
}
