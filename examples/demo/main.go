// Command demo shows rdbferry's main job end to end: it starts two
// throwaway redis-servers on free loopback ports, fills the source with a
// representative dataset (every type, TTLs, several databases), migrates it
// live — as a replica, over PSYNC — into the target with a filter and a
// database remap, verifies the target key by key, prints the summary and
// cleans up. `make demo` runs it.
//
//	go run ./examples/demo [-keys 20000] [-redis-server redis-server]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/rdbferry/rdbferry/internal/rdbtest"
	"github.com/rdbferry/rdbferry/internal/resp"
	"github.com/rdbferry/rdbferry/rdb"
	"github.com/rdbferry/rdbferry/restore"
	"github.com/rdbferry/rdbferry/transfer"
)

func main() {
	keys := flag.Int("keys", 20000, "keys to create in the source")
	bin := flag.String("redis-server", "redis-server", "the redis-server binary")
	flag.Parse()
	if err := demo(context.Background(), *bin, *keys, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func demo(ctx context.Context, bin string, n int, out io.Writer) error {
	src, err := startServer(bin)
	if err != nil {
		return err
	}
	defer src.stop()
	dst, err := startServer(bin)
	if err != nil {
		return err
	}
	defer dst.stop()
	fmt.Fprintf(out, "source redis-server on %s, target on %s\n", src.addr, dst.addr)

	created, err := fill(src, n)
	if err != nil {
		return fmt.Errorf("filling the source: %w", err)
	}
	fmt.Fprintf(out, "filled the source with %d keys in databases 0, 1 and 5 (every type, %d%% with a TTL, plus %d tmp:* keys)\n",
		created.total-created.tmp, 30, created.tmp)

	w, err := restore.Dial(ctx, "redis://"+dst.addr, restore.Options{Existing: restore.ExistingReplace})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "migrating live over PSYNC from %s, without tmp:* keys, database 5 into database 2…\n", src.addr)
	st, err := transfer.Run(ctx, transfer.PSYNC("redis://"+src.addr, transfer.PSYNCOptions{}), transfer.Server(w),
		transfer.Exclude("tmp:*"), transfer.MapDB(5, 2))
	if err != nil {
		return fmt.Errorf("migration: %w", err)
	}
	fmt.Fprintf(out, "read %d keys (%d bytes, RDB %d) in %v: %d written, %d filtered, %d skipped, %d failed (replication id %s, offset %d)\n",
		st.KeysRead, st.BytesRead, st.Source.Version, st.Duration.Round(time.Millisecond), st.KeysWritten, st.KeysFiltered,
		st.KeysSkipped, st.KeysFailed, st.Source.ReplID, st.Source.ReplOffset)

	checked, err := verify(src, dst)
	if err != nil {
		return fmt.Errorf("verification: %w", err)
	}
	fmt.Fprintf(out, "verified %d keys one by one on the target: values and expirations equal the source's\n", checked)
	if st.KeysFailed != 0 || st.KeysFiltered != int64(created.tmp) || int64(checked) != st.KeysWritten {
		return fmt.Errorf("unexpected counts: %+v", st)
	}
	fmt.Fprintln(out, "demo: OK")
	return nil
}

// server is a throwaway redis-server.
type server struct {
	addr string
	dir  string
	cmd  *exec.Cmd
	conn *client
}

func startServer(bin string) (*server, error) {
	dir, err := os.MkdirTemp("", "rdbferry-demo-")
	if err != nil {
		return nil, err
	}
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		s := &server{addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), dir: dir}
		s.cmd = exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir,
			"--save", "", "--appendonly", "no", "--repl-diskless-sync-delay", "0", "--logfile", filepath.Join(dir, "redis.log"))
		if err := s.cmd.Start(); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("starting %s: %w (run `make demo`, which installs redis-server)", bin, err)
		}
		for i := 0; i < 100; i++ {
			if s.conn, err = dial(s.addr); err == nil {
				if _, err = s.conn.do("PING"); err == nil {
					return s, nil
				}
				s.conn.close()
			}
			time.Sleep(50 * time.Millisecond)
		}
		s.cmd.Process.Kill()
		s.cmd.Wait()
	}
	log, _ := os.ReadFile(filepath.Join(dir, "redis.log"))
	os.RemoveAll(dir)
	return nil, fmt.Errorf("redis-server did not start: %s", log)
}

func (s *server) stop() {
	s.conn.do("SHUTDOWN", "NOSAVE")
	s.conn.close()
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		s.cmd.Process.Kill()
		<-done
	}
	os.RemoveAll(s.dir)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// client is a synchronous RESP connection.
type client struct {
	nc net.Conn
	w  *resp.Writer
	r  *resp.Reader
}

func dial(addr string) (*client, error) {
	nc, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return nil, err
	}
	return &client{nc, resp.NewWriter(nc), resp.NewReader(nc)}, nil
}

func (c *client) close() { c.nc.Close() }

func (c *client) do(args ...string) (resp.Reply, error) {
	if err := c.w.WriteCommandStrings(args...); err != nil {
		return resp.Reply{}, err
	}
	if err := c.w.Flush(); err != nil {
		return resp.Reply{}, err
	}
	x, err := c.r.ReadReply()
	if err == nil {
		err = x.Err()
	}
	return x.Clone(), err
}

// pipeline sends commands and checks every reply.
func (c *client) pipeline(cmds [][]string) error {
	for _, args := range cmds {
		if err := c.w.WriteCommandStrings(args...); err != nil {
			return err
		}
	}
	if err := c.w.Flush(); err != nil {
		return err
	}
	for _, args := range cmds {
		x, err := c.r.ReadReply()
		if err != nil {
			return err
		}
		if err := x.Err(); err != nil {
			return fmt.Errorf("%s: %w", args[0], err)
		}
	}
	return nil
}

type counts struct{ total, tmp int }

// fill writes n keys of every type into databases 0, 1 and 5.
func fill(s *server, n int) (counts, error) {
	rnd := rand.New(rand.NewSource(1))
	far := strconv.FormatInt(time.Now().Add(24*time.Hour).UnixMilli()+rnd.Int63n(1e6), 10)
	var c counts
	var batch [][]string
	flush := func() error {
		err := s.conn.pipeline(batch)
		batch = batch[:0]
		return err
	}
	for _, db := range []string{"0", "1", "5"} {
		batch = append(batch, []string{"SELECT", db})
		for i := 0; i < n/3; i++ {
			k := fmt.Sprintf("db%s:%d", db, i)
			var cmds [][]string
			switch i % 9 {
			case 0:
				cmds = [][]string{{"SET", "str:" + k, strings.Repeat("v", 1+rnd.Intn(100))}}
			case 1:
				cmds = [][]string{{"SET", "int:" + k, strconv.Itoa(rnd.Intn(1 << 30))}}
			case 2:
				cmd := []string{"RPUSH", "list:" + k}
				for j := 0; j < 1+rnd.Intn(200); j++ {
					cmd = append(cmd, "item-"+strconv.Itoa(j))
				}
				cmds = [][]string{cmd}
			case 3:
				cmd := []string{"SADD", "set:" + k}
				for j := 0; j < 1+rnd.Intn(300); j++ {
					if i%2 == 0 {
						cmd = append(cmd, strconv.Itoa(j)) // intset
					} else {
						cmd = append(cmd, "m"+strconv.Itoa(j))
					}
				}
				cmds = [][]string{cmd}
			case 4:
				cmd := []string{"ZADD", "zset:" + k}
				for j := 0; j < 1+rnd.Intn(200); j++ {
					cmd = append(cmd, strconv.FormatFloat(rnd.NormFloat64()*100, 'g', -1, 64), "z"+strconv.Itoa(j))
				}
				cmds = [][]string{cmd}
			case 5:
				cmd := []string{"HSET", "hash:" + k}
				for j := 0; j < 1+rnd.Intn(600); j++ {
					cmd = append(cmd, "f"+strconv.Itoa(j), strconv.Itoa(rnd.Int()))
				}
				cmds = [][]string{cmd}
			case 6:
				key := "stream:" + k
				for j := 0; j < 1+rnd.Intn(20); j++ {
					cmds = append(cmds, []string{"XADD", key, "*", "sensor", strconv.Itoa(j), "value", strconv.Itoa(rnd.Intn(100))})
				}
				cmds = append(cmds, []string{"XGROUP", "CREATE", key, "readers", "0"},
					[]string{"XREADGROUP", "GROUP", "readers", "alice", "COUNT", "2", "STREAMS", key, ">"})
			case 7:
				cmds = [][]string{{"SET", "tmp:" + k, "filtered out"}}
				c.tmp++
			case 8:
				cmds = [][]string{{"SET", "bin:" + k, string([]byte{0, 1, 2, 0xff, byte(i)})}}
			}
			batch = append(batch, cmds...)
			if rnd.Intn(10) < 3 && !strings.HasPrefix(cmds[0][1], "tmp:") {
				batch = append(batch, []string{"PEXPIREAT", cmds[0][1], far})
			}
			c.total++
			if len(batch) >= 200 {
				if err := flush(); err != nil {
					return c, err
				}
			}
		}
	}
	return c, flush()
}

// verify compares every key of the source (but tmp:*) with the target's,
// database 5 being expected in database 2.
func verify(src, dst *server) (int, error) {
	checked := 0
	for _, db := range []string{"0", "1", "5"} {
		tdb := db
		if db == "5" {
			tdb = "2"
		}
		if _, err := src.conn.do("SELECT", db); err != nil {
			return checked, err
		}
		if _, err := dst.conn.do("SELECT", tdb); err != nil {
			return checked, err
		}
		cursor := "0"
		for {
			x, err := src.conn.do("SCAN", cursor, "COUNT", "1000")
			if err != nil {
				return checked, err
			}
			cursor = string(x.Elems[0].Str)
			for _, k := range x.Elems[1].Elems {
				key := string(k.Str)
				if strings.HasPrefix(key, "tmp:") {
					y, err := dst.conn.do("EXISTS", key)
					if err != nil {
						return checked, fmt.Errorf("db %s: EXISTS %q on the target: %w", tdb, key, err)
					}
					if y.Int != 0 {
						return checked, fmt.Errorf("db %s: filtered key %q reached the target", tdb, key)
					}
					continue
				}
				if err := sameKey(src, dst, key); err != nil {
					return checked, fmt.Errorf("db %s key %q: %w", db, key, err)
				}
				checked++
			}
			if cursor == "0" {
				break
			}
		}
	}
	return checked, nil
}

func sameKey(src, dst *server, key string) error {
	value := func(s *server) (string, int64, error) {
		x, err := s.conn.do("DUMP", key)
		if err != nil {
			return "", 0, fmt.Errorf("DUMP on %s: %w", s.addr, err)
		}
		if x.IsNil() {
			return "", 0, fmt.Errorf("missing on %s", s.addr)
		}
		t, raw, version, err := rdb.ParseDumpPayload(x.Str)
		if err != nil {
			return "", 0, err
		}
		v, err := rdb.DecodeValue(t, raw, version)
		if err != nil {
			return "", 0, err
		}
		ttl, err := s.conn.do("PEXPIRETIME", key)
		return rdbtest.Canonical(v, true), ttl.Int, err
	}
	a, atl, err := value(src)
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	b, btl, err := value(dst)
	if err != nil {
		return fmt.Errorf("target: %w", err)
	}
	if a != b || atl != btl {
		return fmt.Errorf("differs: %.80s (expires %d) vs %.80s (expires %d)", a, atl, b, btl)
	}
	return nil
}
