// Package redistest starts real redis-server processes for tests.
//
// Every server listens on a free 127.0.0.1 port (never 6379), runs in its own
// t.TempDir(), logs to a file there (see [Server.Log]) and is stopped in
// t.Cleanup: SHUTDOWN NOSAVE, then SIGKILL if it has not exited within a few
// seconds, and the process is always waited for. On Linux the child also gets
// SIGKILL if the test binary dies, so a crashed or timed-out test run leaves no
// server behind. Servers are independent of each other, so tests using this
// package may call t.Parallel.
//
// The binary is, in order: the [WithBinary] option, $REDIS_SERVER, or
// redis-server on $PATH. When it cannot be found the test fails (run
// `make test`, whose deps target installs it, or `apt-get install
// redis-server`); with RDBFERRY_ALLOW_SKIP=1 in the environment it is skipped
// instead.
//
//	s := redistest.Start(t, redistest.Config("maxmemory", "10mb"))
//	s.MustDo(t, "SET", "k", "v")
//	path := s.Save(t) // .../dump.rdb
//	s2 := redistest.Start(t, redistest.WithRDB(path))
package redistest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	defaultStartTimeout = 10 * time.Second
	// cmdTimeout bounds one Do round trip (SAVE of a large dataset included).
	cmdTimeout = 60 * time.Second
	// stopTimeout is how long Stop waits after SHUTDOWN before SIGKILL.
	stopTimeout = 10 * time.Second
	// startAttempts is how many ports are tried when the chosen port was
	// taken by someone else between probing it and redis binding it.
	startAttempts = 5
	logFile       = "redis.log"
	outFile       = "stdout.log" // the process's stdout and stderr
	confFile      = "redis.conf"
)

// Option configures a server started by [Start], [StartReplica] or
// [StartCluster].
type Option func(*options)

type options struct {
	bin        string
	directives [][]string
	rdb        string
	timeout    time.Duration
}

func newOptions(opts []Option) *options {
	o := &options{timeout: defaultStartTimeout}
	for _, opt := range opts {
		opt(o)
	}
	return o
}

// Config adds a configuration directive, written to the server's config file
// after the package's own defaults so that it overrides them:
// Config("maxmemory", "10mb"), Config("save", "") or
// Config("requirepass", "secret") (then every connection of this package
// authenticates, and URL includes the password). port, bind, dir and logfile
// are managed by the package and must not be set.
func Config(directive string, args ...string) Option {
	d := append([]string{directive}, args...)
	return func(o *options) { o.directives = append(o.directives, d) }
}

// WithRDB copies the RDB file at path into the server's directory as
// dump.rdb before the server starts, so that the server loads it. Start
// returns once loading has finished. Not supported by [StartCluster].
func WithRDB(path string) Option {
	return func(o *options) { o.rdb = path }
}

// WithBinary runs the server binary at path (or the name looked up on $PATH)
// instead of $REDIS_SERVER or redis-server, for example a valkey-server.
func WithBinary(path string) Option {
	return func(o *options) { o.bin = path }
}

// WithStartTimeout sets how long to wait for the server to answer PING after
// it was launched, including loading an RDB file (default 10s). StartReplica
// also allows this long for the first sync, and StartCluster three times this
// long for the cluster to form.
func WithStartTimeout(d time.Duration) Option {
	return func(o *options) { o.timeout = d }
}

// Server is a redis-server process started by this package.
type Server struct {
	bin      string
	version  string
	major    int
	port     int
	busPort  int // 0 unless cluster-enabled
	dir      string
	password string
	cmd      *exec.Cmd
	done     chan struct{} // closed once cmd.Wait has returned
	waitErr  error         // cmd.Wait's result; read only after done is closed
	release  func()        // frees the port reservation

	stopOnce sync.Once

	mu     sync.Mutex // guards conn and closed
	conn   *respConn
	closed bool
}

// Start starts a standalone redis-server and returns once it answers PING
// (after loading the RDB file given by [WithRDB], if any). The server is
// stopped when the test ends. It must be called from the test's goroutine.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	return start(t, newOptions(opts), nil, false)
}

// StartReplica starts a redis-server replicating master (replicaof, with
// masterauth when master has a password) and returns once
// INFO replication shows master_link_status:up and no sync in progress, so
// every key written to master before the call is on the replica.
func StartReplica(t testing.TB, master *Server, opts ...Option) *Server {
	t.Helper()
	pre := []Option{Config("replicaof", "127.0.0.1", strconv.Itoa(master.port))}
	if master.password != "" {
		pre = append(pre, Config("masterauth", master.password))
	}
	o := newOptions(append(pre, opts...))
	r := start(t, o, nil, false)
	err := poll(o.timeout, func() (bool, error) {
		info, err := r.info("replication")
		if err != nil {
			return false, err
		}
		if info["master_link_status"] != "up" || info["master_sync_in_progress"] != "0" {
			return false, fmt.Errorf("master_link_status:%s master_sync_in_progress:%s",
				info["master_link_status"], info["master_sync_in_progress"])
		}
		return true, nil
	})
	if err != nil {
		t.Fatalf("redistest: replica %s of %s not in sync after %v: %v\nreplica log:\n%s\nmaster log:\n%s",
			r.Addr(), master.Addr(), o.timeout, err, r.logTail(), master.logTail())
	}
	return r
}

func start(t testing.TB, o *options, extra [][]string, bus bool) *Server {
	t.Helper()
	bin := resolveBinary(t, o.bin)
	version, major, err := binaryVersion(bin)
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	var lastErr error
	for attempt := 0; attempt < startAttempts; attempt++ {
		port, release, err := reserve(bus)
		if err != nil {
			t.Fatalf("redistest: %v", err)
		}
		s := &Server{
			bin:     bin,
			version: version,
			major:   major,
			port:    port,
			dir:     t.TempDir(),
			done:    make(chan struct{}),
			release: release,
		}
		if bus {
			s.busPort = port + 10000
		}
		err = s.launch(o, extra)
		if err == nil {
			t.Cleanup(func() {
				s.Stop()
				if log := s.Log(); strings.Contains(log, "BUG REPORT START") {
					t.Errorf("redistest: %s (%s) crashed; log tail:\n%s", s.Addr(), s.bin, s.logTail())
				}
			})
			return s
		}
		release()
		lastErr = err
		var pe portInUseError
		if !errors.As(err, &pe) {
			break
		}
	}
	t.Fatalf("redistest: %v", lastErr)
	return nil
}

// portInUseError reports that redis could not bind its port (someone else
// took it after reservePort probed it); start retries with another port.
type portInUseError struct{ msg string }

func (e portInUseError) Error() string { return e.msg }

// launch writes the config, starts the process and waits until it answers.
// On error the process has been killed and waited for.
func (s *Server) launch(o *options, extra [][]string) error {
	if o.rdb != "" {
		if err := copyFile(o.rdb, filepath.Join(s.dir, "dump.rdb")); err != nil {
			return fmt.Errorf("WithRDB: %w", err)
		}
	}
	conf := s.config(extra, o.directives)
	confPath := filepath.Join(s.dir, confFile)
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		return err
	}
	out, err := os.Create(filepath.Join(s.dir, outFile))
	if err != nil {
		return err
	}
	defer out.Close()
	s.cmd = exec.Command(s.bin, confPath)
	s.cmd.Dir = s.dir
	s.cmd.Stdout = out
	s.cmd.Stderr = out
	setSysProcAttr(s.cmd)
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", s.bin, err)
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.done)
	}()

	deadline := time.Now().Add(o.timeout)
	var lastErr error
	for {
		select {
		case <-s.done:
			msg := fmt.Sprintf("%s exited during startup on %s (%v); log tail:\n%s", s.bin, s.Addr(), s.waitErr, s.logTail())
			if strings.Contains(s.Log()+s.output(), "Address already in use") {
				return portInUseError{msg}
			}
			return errors.New(msg)
		default:
		}
		ready, err := s.probe()
		if ready {
			return nil
		}
		lastErr = err
		if time.Now().After(deadline) {
			s.kill()
			return fmt.Errorf("%s on %s not ready within %v (last: %v); log tail:\n%s",
				s.bin, s.Addr(), o.timeout, lastErr, s.logTail())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// probe reports whether the server answers PING and is our own process (a
// foreign server that grabbed the port is never talked to beyond PING/INFO).
func (s *Server) probe() (bool, error) {
	c, err := s.dial(200 * time.Millisecond)
	if err != nil {
		return false, err
	}
	defer c.Close()
	if _, err := c.do(time.Second, "PING"); err != nil {
		return false, err // -LOADING while an RDB file loads
	}
	pid, err := c.pid()
	if err != nil {
		return false, err
	}
	if pid != s.cmd.Process.Pid {
		return false, fmt.Errorf("port %d answered by another process (pid %d)", s.port, pid)
	}
	return true, nil
}

// pid returns the server's process_id from INFO server.
func (c *respConn) pid() (int, error) {
	v, err := c.do(time.Second, "INFO", "server")
	if err != nil {
		return 0, err
	}
	b, _ := v.([]byte)
	pid, err := strconv.Atoi(parseInfo(b)["process_id"])
	if err != nil {
		return 0, fmt.Errorf("INFO server has no process_id")
	}
	return pid, nil
}

func (s *Server) config(extra, user [][]string) string {
	var b strings.Builder
	line := func(args ...string) {
		for i, a := range args {
			if i > 0 {
				b.WriteByte(' ')
			}
			if i == 0 {
				b.WriteString(a)
			} else {
				b.WriteString(quote(a))
			}
		}
		b.WriteByte('\n')
	}
	line("port", strconv.Itoa(s.port))
	line("bind", "127.0.0.1")
	line("dir", s.dir)
	line("logfile", filepath.Join(s.dir, logFile))
	line("daemonize", "no")
	line("save", "") // no automatic snapshots: tests call Save
	line("appendonly", "no")
	line("dbfilename", "dump.rdb")
	line("repl-diskless-sync-delay", "0") // a replica syncs at once, not after 5 s
	if s.major >= 7 {
		line("enable-debug-command", "local")
	}
	for _, d := range extra {
		line(d...)
	}
	for _, d := range user {
		line(d...)
		if d[0] == "requirepass" && len(d) > 1 {
			s.password = d[1]
		}
	}
	return b.String()
}

// quote returns a as a double-quoted redis config argument.
func quote(a string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(a); i++ {
		switch c := a[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c >= 0x7f:
			fmt.Fprintf(&b, "\\x%02x", c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// Addr returns the server's address, "127.0.0.1:port".
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// Port returns the server's TCP port.
func (s *Server) Port() int { return s.port }

// Dir returns the server's working directory, where its config (redis.conf),
// log (redis.log), stdout/stderr (stdout.log) and dump.rdb live.
func (s *Server) Dir() string { return s.dir }

// URL returns "redis://127.0.0.1:port", or "redis://:password@127.0.0.1:port"
// when the server was configured with requirepass.
func (s *Server) URL() string {
	if s.password != "" {
		return "redis://:" + s.password + "@" + s.Addr()
	}
	return "redis://" + s.Addr()
}

// Version returns the server's version as reported by its --version, for
// example "7.0.15".
func (s *Server) Version() string { return s.version }

// Do sends one command and returns its reply: a simple string as string, an
// integer as int64, a bulk string as []byte, an array as []any, a null as nil.
// An error reply is returned as an [Error] (inside arrays, as an element). Do
// uses one connection per server, kept between calls (so SELECT sticks) and
// guarded by a mutex, so it may be called from several goroutines; after a
// network error the next call reconnects.
func (s *Server) Do(args ...string) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, fmt.Errorf("redistest: %s: server stopped", s.Addr())
	}
	if s.conn == nil {
		c, err := s.dial(time.Second)
		if err != nil {
			return nil, err
		}
		s.conn = c
	}
	v, err := s.conn.do(cmdTimeout, args...)
	if err != nil {
		var e Error
		if !errors.As(err, &e) {
			s.conn.Close()
			s.conn = nil
			err = fmt.Errorf("redistest: %s: %w", s.Addr(), err)
		}
	}
	return v, err
}

// MustDo is Do, failing the test on any error (an error reply included). It
// must be called from the test's goroutine.
func (s *Server) MustDo(t testing.TB, args ...string) any {
	t.Helper()
	v, err := s.Do(args...)
	if err != nil {
		t.Fatalf("redistest: %s %q: %v", s.Addr(), args, err)
	}
	return v
}

// Save runs SAVE and returns the path of the RDB file it wrote.
func (s *Server) Save(t testing.TB) string {
	t.Helper()
	// A background save (a replica's full sync, say) may still be running:
	// SAVE refuses to start until it ends.
	for deadline := time.Now().Add(30 * time.Second); ; {
		_, err := s.Do("SAVE")
		if err == nil {
			break
		}
		if !strings.Contains(err.Error(), "in progress") || time.Now().After(deadline) {
			t.Fatalf("redistest: %s SAVE: %v", s.Addr(), err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	name := "dump.rdb"
	if v, err := s.Do("CONFIG", "GET", "dbfilename"); err == nil {
		if a, ok := v.([]any); ok && len(a) == 2 {
			if b, ok := a[1].([]byte); ok {
				name = string(b)
			}
		}
	}
	return filepath.Join(s.dir, name)
}

// Log returns the contents of the server's log file ("" if it has none yet).
func (s *Server) Log() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, logFile))
	return string(b)
}

// output returns what the process wrote to stdout and stderr (config errors
// are reported there, before the log file is opened).
func (s *Server) output() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, outFile))
	return string(b)
}

// logTail returns the last lines of the process output and the log file.
func (s *Server) logTail() string {
	var b strings.Builder
	if out := tail(s.output(), 20); out != "" {
		b.WriteString("--- stdout/stderr:\n" + out)
	}
	b.WriteString("--- " + filepath.Join(s.dir, logFile) + ":\n" + tail(s.Log(), 30))
	return b.String()
}

func tail(s string, n int) string {
	lines := strings.SplitAfter(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	out := strings.Join(lines, "")
	if out != "" && !strings.HasSuffix(out, "\n") {
		out += "\n"
	}
	return out
}

// Stop shuts the server down (SHUTDOWN NOSAVE, then SIGKILL after 10 s),
// waits for the process to exit and frees its port. It is safe to call more
// than once and from any goroutine; the test's cleanup calls it too. After
// Stop, Do returns an error.
func (s *Server) Stop() {
	s.stopOnce.Do(func() {
		select {
		case <-s.done:
		default:
			if err := s.shutdown(); err != nil {
				s.kill()
			}
		}
		select {
		case <-s.done:
		case <-time.After(stopTimeout):
			s.kill()
		}
		s.mu.Lock()
		s.closed = true
		if s.conn != nil {
			s.conn.Close()
			s.conn = nil
		}
		s.mu.Unlock()
		s.release()
	})
}

// shutdown sends SHUTDOWN NOSAVE on a fresh connection after checking that
// the server on the port is our process.
func (s *Server) shutdown() error {
	c, err := s.dial(time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	pid, err := c.pid()
	if err != nil {
		return err
	}
	if pid != s.cmd.Process.Pid {
		return fmt.Errorf("port %d answered by another process", s.port)
	}
	args := []string{"SHUTDOWN", "NOSAVE"}
	if s.major >= 7 {
		args = append(args, "NOW") // do not wait for lagging replicas
	}
	_, err = c.do(time.Second, args...)
	var e Error
	if errors.As(err, &e) {
		return err // the server refused
	}
	return nil // a closed connection (EOF) is the expected answer
}

// kill sends SIGKILL and waits for the process.
func (s *Server) kill() {
	_ = s.cmd.Process.Kill()
	<-s.done
}

// dial opens a connection, authenticated when the server has a password.
func (s *Server) dial(timeout time.Duration) (*respConn, error) {
	c, err := dialRESP(s.Addr(), timeout)
	if err != nil {
		return nil, err
	}
	if s.password != "" {
		if _, err := c.do(time.Second, "AUTH", s.password); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

// info runs INFO section and parses its "field:value" lines.
func (s *Server) info(section string) (map[string]string, error) {
	v, err := s.Do("INFO", section)
	if err != nil {
		return nil, err
	}
	b, ok := v.([]byte)
	if !ok {
		return nil, fmt.Errorf("INFO %s: unexpected reply %T", section, v)
	}
	return parseInfo(b), nil
}

func parseInfo(b []byte) map[string]string {
	m := make(map[string]string)
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimRight(line, "\r")
		if k, v, ok := strings.Cut(line, ":"); ok && !strings.HasPrefix(line, "#") {
			m[k] = v
		}
	}
	return m
}

// poll calls f every 20 ms until it returns true or timeout passes; then it
// returns f's last error.
func poll(timeout time.Duration, f func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := f()
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = errors.New("timed out")
			}
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// resolveBinary finds the server binary, failing or skipping the test when
// it is missing.
func resolveBinary(t testing.TB, bin string) string {
	t.Helper()
	if bin == "" {
		bin = os.Getenv("REDIS_SERVER")
	}
	if bin == "" {
		bin = "redis-server"
	}
	path, err := exec.LookPath(bin)
	if err == nil {
		return path
	}
	msg := fmt.Sprintf("redistest: %s not found (%v): run `make test` (its deps target installs redis-server) "+
		"or `apt-get install redis-server`, or set REDIS_SERVER to a server binary", bin, err)
	if os.Getenv("RDBFERRY_ALLOW_SKIP") == "1" {
		t.Skip(msg + " [skipped: RDBFERRY_ALLOW_SKIP=1]")
	}
	t.Fatal(msg)
	return ""
}

var (
	versionsMu sync.Mutex
	versions   = map[string]string{} // binary path -> version
	versionRE  = regexp.MustCompile(`v=(\d+)\.(\d+)\.(\d+)`)
)

// binaryVersion runs bin --version once per binary and returns the version
// string and its major number.
func binaryVersion(bin string) (string, int, error) {
	versionsMu.Lock()
	defer versionsMu.Unlock()
	v, ok := versions[bin]
	if !ok {
		out, err := exec.Command(bin, "--version").Output()
		if err != nil {
			return "", 0, fmt.Errorf("%s --version: %v", bin, err)
		}
		m := versionRE.FindSubmatch(out)
		if m == nil {
			return "", 0, fmt.Errorf("%s --version: no version in %q", bin, bytes.TrimSpace(out))
		}
		v = fmt.Sprintf("%s.%s.%s", m[1], m[2], m[3])
		versions[bin] = v
	}
	major, _ := strconv.Atoi(strings.SplitN(v, ".", 2)[0])
	return v, major, nil
}

// reserve is reservePort; tests replace it to force a port conflict.
var reserve = reservePort

var (
	portsMu   sync.Mutex
	portsHeld = map[int]bool{} // ports given to servers of this process that are not stopped yet
)

// reservePort picks a free loopback port, and with bus also checks that
// port+10000 (the cluster bus) is free. It never returns 6379 or 16379. The
// ports are probed by listening on them; redis may still lose a race for them
// to another process, which start handles by retrying.
func reservePort(bus bool) (int, func(), error) {
	var lastErr error
	for i := 0; i < 200; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, nil, fmt.Errorf("finding a free port: %w", err)
		}
		p := l.Addr().(*net.TCPAddr).Port
		ports := []int{p}
		if bus {
			ports = append(ports, p+10000)
		}
		ok := true
		var lb net.Listener
		for _, q := range ports {
			if q == 6379 || q == 16379 || q > 65535 {
				ok = false
			}
		}
		if ok && bus {
			lb, err = net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p+10000)))
			if err != nil {
				ok, lastErr = false, err
			}
		}
		if ok {
			portsMu.Lock()
			for _, q := range ports {
				if portsHeld[q] {
					ok = false
				}
			}
			if ok {
				for _, q := range ports {
					portsHeld[q] = true
				}
			}
			portsMu.Unlock()
		}
		l.Close()
		if lb != nil {
			lb.Close()
		}
		if ok {
			var once sync.Once
			return p, func() {
				once.Do(func() {
					portsMu.Lock()
					for _, q := range ports {
						delete(portsHeld, q)
					}
					portsMu.Unlock()
				})
			}, nil
		}
	}
	return 0, nil, fmt.Errorf("no free port found (last error: %v)", lastErr)
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
