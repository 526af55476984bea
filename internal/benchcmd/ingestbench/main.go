//go:build linux

// Command ingestbench measures how fast restore.Writer loads an RDB file
// into a local redis-server, side by side with `redis-cli --pipe` fed the
// same RESTORE commands, in one run. `make bench` runs it.
//
// README
//
//	go run ./internal/benchcmd/ingestbench                 # 1 000 000 keys, 3 rounds
//	go run ./internal/benchcmd/ingestbench -keys 3000000 -rounds 5
//	go run ./internal/benchcmd/ingestbench -cpuprofile /tmp/ours.pprof
//	go run ./internal/benchcmd/ingestbench -pipeline 2048 -conns 2   # our options
//	go run ./internal/benchcmd/ingestbench -live -rounds 3   # PSYNC from a live source (live.go)
//	go run ./internal/benchcmd/ingestbench -rss-gb 1         # peak RSS reading a ≥ 1 GiB file (live.go)
//
// The dataset is generated into a temporary directory (removed at the end
// unless -keep): an RDB file (RDB 10, what Debian's Redis 7.0 writes) of
// -keys keys of every type — strings (short, integer, 1 KB, a few 64 KB),
// lists, sets, sorted sets and hashes in both their small and large
// encodings, and a few streams with consumer groups — 30 % of them with an
// absolute TTL a week ahead. The aggregate values are DUMP payloads of 16
// template keys per kind built in a scratch redis-server; strings are
// generated per key. Beside it, the same keys as a RESP file of
// `RESTORE key ttl payload REPLACE [ABSTTL]` commands, the commands
// restore.Writer sends.
//
// Each round measures, in an order that alternates from round to round,
// each on a fresh redis-server (save "", appendonly no):
//
//	ours       a child process (this binary) reads the RDB file with
//	           rdb.Reader and writes every key with restore.Writer (default
//	           options, ExistingReplace); the time is the child's, from
//	           Dial to Close; the peak RSS is the child's (rusage maxrss)
//	redis-cli  redis-cli --pipe < the RESP file; the time is redis-cli's
//	           run only (the file is generated beforehand and sits in the
//	           page cache)
//
// Each run's line also shows the server's CPU time during the run (from
// /proc): a server busy for the whole run is the bottleneck, one with idle
// time waited for its client. After each run the server must hold every key
// (DBSIZE) and the same dataset as after the other runs (DEBUG DIGEST,
// which covers values and TTLs). The table shows each method's median over
// the rounds and the ratio of the medians; the targets are ours ≤ 1.1 ×
// redis-cli and a peak RSS ≤ 64 MiB + the largest value. The machines this
// runs on are noisy: compare runs of several rounds, not single runs.
//
// Linux only (/proc, rusage, Pdeathsig for the servers).
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rdbferry/rdbferry/internal/resp"
	"github.com/rdbferry/rdbferry/rdb"
	"github.com/rdbferry/rdbferry/restore"
)

// Targets (from the issue).
const (
	targetRatio  = 1.1      // ours / redis-cli
	targetRSSFix = 64 << 20 // peak RSS ≤ this + the largest value
)

func main() {
	keys := flag.Int("keys", 1_000_000, "keys in the generated dataset")
	rounds := flag.Int("rounds", 3, "rounds; each runs both methods, in alternating order")
	seed := flag.Int64("seed", 1, "seed of the generated dataset")
	keep := flag.Bool("keep", false, "keep the generated files")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of our writer's first run to this file")
	pipeline := flag.Int("pipeline", 0, "restore.Options.Pipeline for ours (0: the default)")
	conns := flag.Int("conns", 0, "restore.Options.Conns for ours (0: the default)")
	child := flag.Bool("child", false, "internal: write -file into -url with restore.Writer and report as JSON")
	file := flag.String("file", "", "internal: the RDB file (with -child)")
	url := flag.String("url", "", "internal: the server (with -child)")
	live := flag.Bool("live", false, "live mode: PSYNC from a redis-server holding the dataset instead of reading the file")
	rssGB := flag.Float64("rss-gb", 0, "RSS mode: read a generated RDB file of at least this many GB (reused from the temp dir)")
	childLive := flag.Bool("child-live", false, "internal: transfer.Run from PSYNC -src into -url and report as JSON")
	childRSS := flag.Bool("child-rss", false, "internal: transfer.Run from -file into io.Discard (or -url) and report as JSON")
	src := flag.String("src", "", "internal: the source server (with -child-live)")
	flag.Parse()
	if *childLive || *childRSS {
		var err error
		if *childLive {
			err = runChildLive(*src, *url, *cpuprofile)
		} else {
			err = runChildRSS(*file, *url)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "ingestbench child:", err)
			os.Exit(1)
		}
		return
	}
	if *child {
		if err := runChild(*file, *url, *cpuprofile, *pipeline, *conns); err != nil {
			fmt.Fprintln(os.Stderr, "ingestbench child:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*keys, *rounds, *seed, *keep, *cpuprofile, *pipeline, *conns, *live, *rssGB); err != nil {
		fmt.Fprintln(os.Stderr, "ingestbench:", err)
		os.Exit(1)
	}
}

// startProfile starts a CPU profile into path, if any; stop ends it.
func startProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	pf, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(pf); err != nil {
		pf.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); pf.Close() }, nil
}

// childResult is what the child reports on stdout.
type childResult struct {
	Seconds    float64       `json:"seconds"`
	Stats      restore.Stats `json:"stats"`
	VmHWMBytes int64         `json:"vmhwm"`
}

// runChild is method "ours": read the file, write every key, close.
func runChild(path, url, cpuprofile string, pipeline, conns int) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	stop, err := startProfile(cpuprofile)
	if err != nil {
		return err
	}
	defer stop()
	ctx := context.Background()
	start := time.Now()
	w, err := restore.Dial(ctx, url, restore.Options{Existing: restore.ExistingReplace, Pipeline: pipeline, Conns: conns})
	if err != nil {
		return err
	}
	r := rdb.NewReader(f)
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if k, ok := rec.(*rdb.Key); ok {
			if err := w.Write(ctx, k); err != nil {
				return err
			}
		}
	}
	st, err := w.Close(ctx)
	if err != nil {
		return err
	}
	res := childResult{Seconds: time.Since(start).Seconds(), Stats: st, VmHWMBytes: vmHWM()}
	return json.NewEncoder(os.Stdout).Encode(res)
}

// vmHWM returns this process's peak RSS from /proc/self/status.
func vmHWM() int64 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(rest)
			if len(f) == 2 && f[1] == "kB" {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n << 10
			}
		}
	}
	return 0
}

// binaries returns the redis-server and redis-cli to run.
func binaries() (string, string, error) {
	srv, cli := os.Getenv("REDIS_SERVER"), os.Getenv("REDIS_CLI")
	if srv == "" {
		srv = "redis-server"
	}
	if cli == "" {
		cli = "redis-cli"
	}
	var err error
	if srv, err = exec.LookPath(srv); err != nil {
		return "", "", fmt.Errorf("%w (make deps installs redis-server; set REDIS_SERVER)", err)
	}
	if cli, err = exec.LookPath(cli); err != nil {
		return "", "", fmt.Errorf("%w (Debian's redis-tools has redis-cli; set REDIS_CLI)", err)
	}
	return srv, cli, nil
}

// server is a redis-server process.
type server struct {
	cmd  *exec.Cmd
	port int
	done chan struct{}
}

var (
	runningMu sync.Mutex
	running   = map[*server]bool{} // killed on exit and on SIGINT/SIGTERM
)

func startServer(bin, dir string) (*server, error) {
	return startServerConf(bin, dir, "", 10*time.Second)
}

// startServerConf starts a redis-server with extra configuration lines and
// waits up to timeout for it to answer PING (a server loading its dump
// answers -LOADING until it is done).
func startServerConf(bin, dir, extra string, timeout time.Duration) (*server, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		conf := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %q\nlogfile %q\ndaemonize no\nsave \"\"\nappendonly no\nenable-debug-command local\n%s",
			port, dir, filepath.Join(dir, "redis.log"), extra)
		confPath := filepath.Join(dir, "redis.conf")
		if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
			return nil, err
		}
		s := &server{cmd: exec.Command(bin, confPath), port: port, done: make(chan struct{})}
		s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := s.cmd.Start(); err != nil {
			return nil, err
		}
		go func() { s.cmd.Wait(); close(s.done) }()
		runningMu.Lock()
		running[s] = true
		runningMu.Unlock()
		err = s.waitReady(timeout)
		if err == nil {
			return s, nil
		}
		s.stop()
		if attempt == 3 {
			log, _ := os.ReadFile(filepath.Join(dir, "redis.log"))
			return nil, fmt.Errorf("redis-server on port %d: %v\n%s", port, err, log)
		}
	}
}

func (s *server) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

func (s *server) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-s.done:
			return errors.New("exited during startup")
		default:
		}
		_, err := s.do("PING")
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// do runs one command on a fresh connection.
func (s *server) do(args ...string) (resp.Reply, error) {
	nc, err := net.DialTimeout("tcp", s.addr(), time.Second)
	if err != nil {
		return resp.Reply{}, err
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(5 * time.Minute))
	w, r := resp.NewWriter(nc), resp.NewReader(nc)
	if err := w.WriteCommandStrings(args...); err != nil {
		return resp.Reply{}, err
	}
	if err := w.Flush(); err != nil {
		return resp.Reply{}, err
	}
	x, err := r.ReadReply()
	if err != nil {
		return resp.Reply{}, err
	}
	if err := x.Err(); err != nil {
		return resp.Reply{}, err
	}
	return x.Clone(), nil
}

func (s *server) stop() {
	s.cmd.Process.Kill()
	<-s.done
	runningMu.Lock()
	delete(running, s)
	runningMu.Unlock()
}

func freePort() (int, error) {
	for {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		p := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if p != 6379 && p+10000 != 16379 {
			return p, nil
		}
	}
}

// template is a DUMP payload's content.
type template struct {
	typ rdb.Type
	raw []byte
}

// kinds of generated keys: name, weight (per 10 000), and the Lua that
// builds template v as key KEYS[1] (v in ARGV[1]), nil for generated strings.
var kinds = []struct {
	name   string
	weight int
	lua    string
}{
	{"string 10-100 B", 4500, ""},
	{"string int", 500, ""},
	{"string 1 KB", 500, ""},
	{"string 64 KB", 1, ""},
	{"list small", 800, `for j = 1, 5 + ARGV[1] do redis.call('RPUSH', KEYS[1], 'elem:' .. j .. ':' .. ARGV[1]) end`},
	{"list large", 100, `for j = 1, 200 + ARGV[1] do redis.call('RPUSH', KEYS[1], 'item number ' .. j .. ' v' .. ARGV[1]) end`},
	{"set intset", 400, `for j = 1, 10 + ARGV[1] do redis.call('SADD', KEYS[1], j * 7 + ARGV[1]) end`},
	{"set small", 500, `for j = 1, 8 + ARGV[1] do redis.call('SADD', KEYS[1], 'member:' .. j .. ':' .. ARGV[1]) end`},
	{"set large", 50, `for j = 1, 300 + ARGV[1] do redis.call('SADD', KEYS[1], 'member:' .. j .. ':' .. ARGV[1]) end`},
	{"zset small", 800, `for j = 1, 6 + ARGV[1] do redis.call('ZADD', KEYS[1], j * 1.5 + ARGV[1], 'player:' .. j) end`},
	{"zset large", 50, `for j = 1, 200 + ARGV[1] do redis.call('ZADD', KEYS[1], j * 2.25 + ARGV[1], 'player:' .. j .. ':' .. ARGV[1]) end`},
	{"hash small", 1200, `for j = 1, 5 + ARGV[1] do redis.call('HSET', KEYS[1], 'field' .. j, 'value ' .. j .. ' of ' .. ARGV[1]) end`},
	{"hash large", 100, `for j = 1, 200 + ARGV[1] do redis.call('HSET', KEYS[1], 'field' .. j, 'value ' .. j .. ' of ' .. ARGV[1]) end`},
	{"stream+group", 5, `for j = 1, 10 + ARGV[1] do redis.call('XADD', KEYS[1], j .. '-1', 'sensor', ARGV[1], 'reading', j) end
redis.call('XGROUP', 'CREATE', KEYS[1], 'g', '0')
redis.call('XREADGROUP', 'GROUP', 'g', 'c1', 'COUNT', '3', 'STREAMS', KEYS[1], '>')`},
	// Weight 0: only in the big file of -rss-gb, appended after the mix.
	{"string 1 MB", 0, ""},
	{"list huge", 0, `for j = 1, 100000 + ARGV[1] do redis.call('RPUSH', KEYS[1], 'element number ' .. j .. ' of a huge list, variant ' .. ARGV[1]) end`},
}

// Indexes of the big kinds in kinds.
const (
	kindBigString = 14
	kindHugeList  = 15
)

const variants = 16

// templates builds the aggregate templates in a scratch server.
func templates(bin, dir string, big bool) ([][]template, int, error) {
	s, err := startServer(bin, dir)
	if err != nil {
		return nil, 0, err
	}
	defer s.stop()
	out := make([][]template, len(kinds))
	version := 0
	for i, k := range kinds {
		if k.lua == "" || k.weight == 0 && !big {
			continue
		}
		nv := variants
		if k.weight == 0 {
			nv = 2
		}
		for v := 0; v < nv; v++ {
			name := fmt.Sprintf("t:%d:%d", i, v)
			if _, err := s.do("EVAL", k.lua, "1", name, strconv.Itoa(v)); err != nil {
				return nil, 0, fmt.Errorf("template %s: %w", k.name, err)
			}
			x, err := s.do("DUMP", name)
			if err != nil {
				return nil, 0, err
			}
			t, raw, ver, err := rdb.ParseDumpPayload(x.Str)
			if err != nil {
				return nil, 0, err
			}
			version = ver
			out[i] = append(out[i], template{t, raw})
		}
	}
	return out, version, nil
}

// dataset describes the generated files.
type dataset struct {
	rdbPath, respPath string
	keys, withTTL     int
	counts            []int
	largest           int // largest DUMP payload
	rdbSize, respSize int64
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// generate writes the RDB file and the RESP file of the same keys.
func generate(dir, bin string, n int, seed int64) (*dataset, error) {
	return generateTo(dir, bin, filepath.Join(dir, "dataset.rdb"), filepath.Join(dir, "restore.resp"), n, seed, 0)
}

// generateTo writes n keys of the mix to rdbPath and, unless respPath is
// "", their RESTORE commands to respPath. With bigBytes > 0 it then
// appends 1 MB strings and huge lists (100 000 elements)
// until the RDB file holds at least bigBytes.
func generateTo(dir, bin, rdbPath, respPath string, n int, seed, bigBytes int64) (*dataset, error) {
	tmpls, version, err := templates(bin, filepath.Join(dir, "scratch"), bigBytes > 0)
	if err != nil {
		return nil, err
	}
	d := &dataset{rdbPath: rdbPath, respPath: respPath, counts: make([]int, len(kinds))}
	rf, err := os.Create(d.rdbPath)
	if err != nil {
		return nil, err
	}
	defer rf.Close()
	var pf io.Writer = io.Discard
	var pfile *os.File
	if respPath != "" {
		if pfile, err = os.Create(d.respPath); err != nil {
			return nil, err
		}
		defer pfile.Close()
		pf = pfile
	}
	cw := &countingWriter{w: rf}
	rw := rdb.NewWriter(cw, rdb.WriterOptions{Version: version})
	pw := bufio.NewWriterSize(pf, 1<<20)
	rnd := rand.New(rand.NewSource(seed))
	rw.WriteStandardAux(time.Now())
	rw.SelectDB(0, uint64(n), uint64(n*3/10))

	total := 0
	for _, k := range kinds {
		total += k.weight
	}
	expireBase := time.Now().Add(7 * 24 * time.Hour).UnixMilli()
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	var str, raw, payload, cmd []byte
	var bigStr []byte
	if bigBytes > 0 {
		bigStr = make([]byte, 1<<20)
		for j := range bigStr {
			bigStr[j] = letters[rnd.Intn(len(letters))]
		}
	}
	k := &rdb.Key{Idle: -1, Freq: -1, Version: version}
	for i := 0; i < n || bigBytes > 0 && cw.n < bigBytes; i++ {
		kind := 0
		if i < n {
			w := rnd.Intn(total)
			for w >= kinds[kind].weight {
				w -= kinds[kind].weight
				kind++
			}
		} else if kind = kindBigString; i%2 == 1 {
			kind = kindHugeList
		}
		d.counts[kind]++
		k.Key = strconv.AppendInt(append(k.Key[:0], "key:"...), int64(i), 10)
		k.Key = append(k.Key, ':')
		k.Key = append(k.Key, kinds[kind].name[:4]...)
		switch kind {
		case 0, 2, 3:
			size := 10 + rnd.Intn(91)
			if kind == 2 {
				size = 1000 + rnd.Intn(48)
			} else if kind == 3 {
				size = 64 << 10
			}
			str = str[:0]
			for j := 0; j < size; j++ {
				str = append(str, letters[rnd.Intn(len(letters))])
			}
			raw = appendRDBString(raw[:0], str)
			k.Type = rdb.TypeString
		case 1:
			raw = appendRDBInt(raw[:0], rnd.Int63n(1<<31)-1<<30)
			k.Type = rdb.TypeString
		case kindBigString:
			// The same random megabyte, made unique by the key's name.
			str = append(append(str[:0], k.Key...), bigStr[len(k.Key):]...)
			raw = appendRDBString(raw[:0], str)
			k.Type = rdb.TypeString
		default:
			t := tmpls[kind][rnd.Intn(len(tmpls[kind]))]
			k.Type, raw = t.typ, append(raw[:0], t.raw...)
		}
		k.Raw = raw
		k.ExpireAt = 0
		if rnd.Intn(10) < 3 {
			k.ExpireAt = expireBase + int64(i)
			d.withTTL++
		}
		if err := rw.WriteKey(k); err != nil {
			return nil, err
		}
		if respPath == "" {
			d.largest = max(d.largest, 1+len(k.Raw)+2+8) // type, value, version, CRC
			continue
		}
		cmd, payload = appendRestoreCommand(cmd[:0], payload, k, version)
		d.largest = max(d.largest, len(payload))
		if _, err := pw.Write(cmd); err != nil {
			return nil, err
		}
	}
	for _, c := range d.counts {
		d.keys += c
	}
	if err := rw.Close(); err != nil {
		return nil, err
	}
	if err := pw.Flush(); err != nil {
		return nil, err
	}
	if fi, err := rf.Stat(); err == nil {
		d.rdbSize = fi.Size()
	}
	if pfile != nil {
		if fi, err := pfile.Stat(); err == nil {
			d.respSize = fi.Size()
		}
	}
	return d, nil
}

// appendRestoreCommand appends to cmd the command restore.Writer sends for
// k, `RESTORE key ttl payload REPLACE [ABSTTL]`, with the payload framed for
// version (built in payload, returned for reuse).
func appendRestoreCommand(cmd, payload []byte, k *rdb.Key, version int) (newCmd, newPayload []byte) {
	payload = rdb.AppendDumpPayload(payload[:0], k.Type, k.Raw, version)
	ttl := "0"
	if k.ExpireAt != 0 {
		ttl = strconv.FormatInt(k.ExpireAt, 10)
	}
	args := [][]byte{[]byte("RESTORE"), k.Key, []byte(ttl), payload, []byte("REPLACE")}
	if k.ExpireAt != 0 {
		args = append(args, []byte("ABSTTL"))
	}
	return resp.AppendCommand(cmd, args...), payload
}

// appendRDBString appends s as an RDB string (length-prefixed, no LZF).
func appendRDBString(dst, s []byte) []byte {
	switch n := len(s); {
	case n < 1<<6:
		dst = append(dst, byte(n))
	case n < 1<<14:
		dst = append(dst, 0x40|byte(n>>8), byte(n))
	default:
		dst = append(dst, 0x80, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(dst, s...)
}

// appendRDBInt appends v as an RDB integer-encoded string (32-bit).
func appendRDBInt(dst []byte, v int64) []byte {
	return append(dst, 0xC2, byte(v), byte(v>>8), byte(v>>16), byte(v>>24))
}

// measurement of one run.
type measurement struct {
	seconds float64
	rss     int64 // ours: the child's peak RSS
	hwm     int64 // ours: the child's VmHWM
	stats   restore.Stats
	digest  string
	srvCPU  float64 // the server's CPU seconds during the run
	// clientCPU is the CPU seconds of ours or redis-cli; srcCPU, live
	// mode, those of the source redis-server and its fork.
	clientCPU, srcCPU float64
}

// childCPU returns the user+system CPU seconds of an ended process.
func childCPU(ps *os.ProcessState) float64 {
	if ps == nil {
		return 0
	}
	return (ps.UserTime() + ps.SystemTime()).Seconds()
}

// cpuSeconds returns the user+system CPU time of process pid so far.
func cpuSeconds(pid int) float64 { return procCPU(pid, false) }

// cpuSecondsWithChildren adds the CPU time of the children pid has waited
// for (a redis-server's BGSAVE fork, once it has ended).
func cpuSecondsWithChildren(pid int) float64 { return procCPU(pid, true) }

func procCPU(pid int, children bool) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		s = s[i+1:]
	}
	f := strings.Fields(s) // from field 3 (state) on
	if len(f) < 13 {
		return 0
	}
	var ticks float64
	fields := f[11:13] // utime, stime
	if children {
		fields = f[11:15] // and cutime, cstime
	}
	for _, x := range fields {
		v, _ := strconv.ParseFloat(x, 64)
		ticks += v
	}
	return ticks / 100 // USER_HZ
}

func runOurs(self, bin, dir string, d *dataset, cpuprofile string, pipeline, conns int) (measurement, error) {
	s, err := startServer(bin, dir)
	if err != nil {
		return measurement{}, err
	}
	defer s.stop()
	args := []string{"-child", "-file", d.rdbPath, "-url", "redis://" + s.addr(),
		"-pipeline", strconv.Itoa(pipeline), "-conns", strconv.Itoa(conns)}
	if cpuprofile != "" {
		args = append(args, "-cpuprofile", cpuprofile)
	}
	cmd := exec.Command(self, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	cpu0 := cpuSeconds(s.cmd.Process.Pid)
	if err := cmd.Run(); err != nil {
		return measurement{}, fmt.Errorf("ours: %v\n%s", err, out.Bytes())
	}
	srvCPU := cpuSeconds(s.cmd.Process.Pid) - cpu0
	var res childResult
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		return measurement{}, fmt.Errorf("ours: %v in %q", err, out.Bytes())
	}
	m := measurement{seconds: res.Seconds, hwm: res.VmHWMBytes, stats: res.Stats, srvCPU: srvCPU}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		m.rss = ru.Maxrss << 10 // kB on Linux
	}
	if res.Stats.Written != int64(d.keys) || res.Stats.Failed != 0 {
		return m, fmt.Errorf("ours: stats %+v, want %d written", res.Stats, d.keys)
	}
	m.digest, err = check(s, d)
	return m, err
}

func runCLI(cli, bin, dir string, d *dataset) (measurement, error) {
	s, err := startServer(bin, dir)
	if err != nil {
		return measurement{}, err
	}
	defer s.stop()
	in, err := os.Open(d.respPath)
	if err != nil {
		return measurement{}, err
	}
	defer in.Close()
	cmd := exec.Command(cli, "-h", "127.0.0.1", "-p", strconv.Itoa(s.port), "--pipe")
	var out bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = in, &out, &out
	cpu0 := cpuSeconds(s.cmd.Process.Pid)
	start := time.Now()
	err = cmd.Run()
	m := measurement{seconds: time.Since(start).Seconds(), srvCPU: cpuSeconds(s.cmd.Process.Pid) - cpu0}
	if err != nil {
		return m, fmt.Errorf("redis-cli --pipe: %v\n%s", err, out.Bytes())
	}
	m.clientCPU = childCPU(cmd.ProcessState)
	want := fmt.Sprintf("errors: 0, replies: %d", d.keys)
	if !strings.Contains(out.String(), want) {
		return m, fmt.Errorf("redis-cli --pipe: want %q in its output:\n%s", want, out.Bytes())
	}
	m.digest, err = check(s, d)
	return m, err
}

// check verifies the server's key count and returns its DEBUG DIGEST.
func check(s *server, d *dataset) (string, error) {
	x, err := s.do("DBSIZE")
	if err != nil {
		return "", err
	}
	if x.Int != int64(d.keys) {
		return "", fmt.Errorf("DBSIZE %d, want %d", x.Int, d.keys)
	}
	x, err = s.do("DEBUG", "DIGEST")
	if err != nil {
		return "", fmt.Errorf("DEBUG DIGEST: %w", err)
	}
	return string(x.Str), nil
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

func logf(format string, args ...any) { fmt.Printf("# "+format+"\n", args...) }

func verdict(ok bool) string {
	if ok {
		return "ok"
	}
	return "MISSED"
}

// run runs the file mode, or the live mode (live), and the RSS mode
// (rssGB > 0).
func run(keys, rounds int, seed int64, keep bool, cpuprofile string, pipeline, conns int, live bool, rssGB float64) error {
	if rounds < 1 || keys < 1 {
		return errors.New("-keys and -rounds must be positive")
	}
	bin, cli, err := binaries()
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "rdbferry-ingestbench-")
	if err != nil {
		return err
	}
	cleanup := func() {
		runningMu.Lock()
		var all []*server
		for s := range running {
			all = append(all, s)
		}
		runningMu.Unlock()
		for _, s := range all {
			s.stop()
		}
		if !keep {
			os.RemoveAll(dir)
		}
	}
	defer cleanup()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() { <-sig; cleanup(); os.Exit(130) }()

	ver, _ := exec.Command(bin, "--version").Output()
	cliVer, _ := exec.Command(cli, "--version").Output()
	logf("%s; %s", strings.TrimSpace(string(ver)), strings.TrimSpace(string(cliVer)))

	fileMode := !live && rssGB <= 0
	if fileMode || live {
		d, err := prepare(dir, bin, keys, seed)
		if err != nil {
			return err
		}
		if fileMode {
			if err := fileRounds(self, bin, cli, dir, d, rounds, cpuprofile, pipeline, conns); err != nil {
				return err
			}
		}
		if live {
			if err := liveRounds(self, bin, cli, dir, d, rounds); err != nil {
				return err
			}
		}
	}
	if rssGB > 0 {
		return rssMode(self, bin, dir, rssGB, seed)
	}
	return nil
}

// prepare generates the dataset and reads both files into the page cache.
func prepare(dir, bin string, keys int, seed int64) (*dataset, error) {
	t0 := time.Now()
	d, err := generate(dir, bin, keys, seed)
	if err != nil {
		return nil, fmt.Errorf("generating the dataset: %w", err)
	}
	logf("generated %d keys (%d with a TTL) in %.1fs: RDB file %.1f MB, RESP file %.1f MB, largest payload %d bytes",
		d.keys, d.withTTL, time.Since(t0).Seconds(), float64(d.rdbSize)/1e6, float64(d.respSize)/1e6, d.largest)
	var mix []string
	for i, k := range kinds {
		if k.weight > 0 || d.counts[i] > 0 {
			mix = append(mix, fmt.Sprintf("%s %d", k.name, d.counts[i]))
		}
	}
	logf("keys: %s", strings.Join(mix, ", "))
	// Both files into the page cache.
	for _, p := range []string{d.rdbPath, d.respPath} {
		if f, err := os.Open(p); err == nil {
			io.Copy(io.Discard, f)
			f.Close()
		}
	}
	return d, nil
}

// fileRounds is the file mode.
func fileRounds(self, bin, cli, dir string, d *dataset, rounds int, cpuprofile string, pipeline, conns int) error {
	var ours, clis []measurement
	digest := ""
	for r := 0; r < rounds; r++ {
		order := []string{"ours", "redis-cli"}
		if r%2 == 1 {
			order = []string{"redis-cli", "ours"}
		}
		for _, m := range order {
			var res measurement
			var err error
			sdir := filepath.Join(dir, fmt.Sprintf("r%d-%s", r, m))
			if m == "ours" {
				prof := ""
				if r == 0 {
					prof = cpuprofile
				}
				res, err = runOurs(self, bin, sdir, d, prof, pipeline, conns)
				ours = append(ours, res)
			} else {
				res, err = runCLI(cli, bin, sdir, d)
				clis = append(clis, res)
			}
			if err != nil {
				return fmt.Errorf("round %d, %s: %w", r+1, m, err)
			}
			if digest == "" {
				digest = res.digest
			} else if res.digest != digest {
				return fmt.Errorf("round %d, %s: DEBUG DIGEST %s, other runs %s: the datasets differ", r+1, m, res.digest, digest)
			}
			extra := ""
			if m == "ours" {
				extra = fmt.Sprintf(", peak RSS %.1f MiB (VmHWM %.1f MiB)", mib(res.rss), mib(res.hwm))
			}
			logf("round %d %-9s %6.2fs  %9.0f keys/s  redis-server CPU %5.2fs%s", r+1, m, res.seconds, float64(d.keys)/res.seconds, res.srvCPU, extra)
			os.RemoveAll(sdir)
		}
	}

	oursT, cliT, peak := summarize(ours, clis)
	ratio := oursT / cliT
	rssLimit := int64(targetRSSFix + d.largest)
	fmt.Println()
	fmt.Printf("%d keys, %.1f MB RDB file, medians of %d rounds, every run checked with DBSIZE and DEBUG DIGEST %s\n", d.keys, float64(d.rdbSize)/1e6, rounds, digest)
	fmt.Printf("%-34s %8s %12s\n", "method", "seconds", "keys/s")
	fmt.Printf("%-34s %8.2f %12.0f\n", "ours (rdb.Reader + restore.Writer)", oursT, float64(d.keys)/oursT)
	fmt.Printf("%-34s %8.2f %12.0f\n", "redis-cli --pipe (RESTORE file)", cliT, float64(d.keys)/cliT)
	fmt.Printf("ratio ours/redis-cli: %.2f (target ≤ %.1f: %s)\n", ratio, targetRatio, verdict(ratio <= targetRatio))
	fmt.Printf("our peak RSS: %.1f MiB (target ≤ 64 MiB + largest payload %.1f KiB = %.1f MiB: %s)\n",
		mib(peak), float64(d.largest)/1024, mib(rssLimit), verdict(peak <= rssLimit))
	st := ours[0].stats
	fmt.Printf("our stats (round 1): written %d, failed %d, retries %d, reconnects %d\n", st.Written, st.Failed, st.Retries, st.Reconnects)
	return nil
}

// summarize returns the median times of our runs and the reference's, and
// our peak RSS.
func summarize(ours, clis []measurement) (oursT, cliT float64, peak int64) {
	secs := func(ms []measurement) []float64 {
		var out []float64
		for _, m := range ms {
			out = append(out, m.seconds)
		}
		return out
	}
	for _, m := range ours {
		peak = max(peak, m.rss)
	}
	return median(secs(ours)), median(secs(clis)), peak
}
