package resp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc64"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rdbferry/rdbferry/internal/redistest"
)

// dial connects to s with a deadline for the whole test.
func dial(t *testing.T, addr string) (net.Conn, *Writer, *Reader) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.SetDeadline(time.Now().Add(60 * time.Second)); err != nil {
		t.Fatal(err)
	}
	return c, NewWriter(c), NewReader(c)
}

// expectation is a pipelined command and a check of its reply.
// With nil args, write (if any) writes the command; with neither, the
// reply is a second one to an earlier command.
type expectation struct {
	args  []string
	write func(w *Writer) error
	check func(x Reply) bool
}

func is(want Reply) func(Reply) bool { return func(x Reply) bool { return equal(x, want) } }

func isErr(code, contains string) func(Reply) bool {
	return func(x Reply) bool {
		var se *ServerError
		return errors.As(x.Err(), &se) && se.Code() == code && strings.Contains(se.Msg, contains)
	}
}

func kind(k Kind) func(Reply) bool { return func(x Reply) bool { return x.Kind == k } }

// mapGet returns the value of key in a Map or flat key-value Array.
func mapGet(x Reply, key string) (Reply, bool) {
	for i := 0; i+1 < len(x.Elems); i += 2 {
		if string(x.Elems[i].Str) == key {
			return x.Elems[i+1], true
		}
	}
	return Reply{}, false
}

// TestRedisPipeline sends one pipeline of RESP2 and then RESP3 commands to
// a real server, including a 1 MB value streamed with WriteBulkHeader, and
// checks every reply.
func TestRedisPipeline(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t)
	_, w, r := dial(t, s.Addr())

	big := make([]byte, 1<<20)
	for i := range big {
		big[i] = byte(i * 7)
	}
	exps := []expectation{
		// RESP2
		{[]string{"PING"}, nil, is(st("PONG"))},
		{[]string{"SET", "k", "v"}, nil, is(st("OK"))},
		{[]string{"GET", "k"}, nil, is(bl("v"))},
		{[]string{"GET", "missing"}, nil, is(nl)},
		{[]string{"INCR", "k"}, nil, isErr("ERR", "not an integer")},
		{[]string{"NOSUCHCMD", "x"}, nil, isErr("ERR", "unknown command")},
		{[]string{"LPOP", "k"}, nil, isErr("WRONGTYPE", "wrong kind of value")},
		{[]string{"RPUSH", "l", "a", "b", ""}, nil, is(in(3))},
		{[]string{"LRANGE", "l", "0", "-1"}, nil, is(ar(bl("a"), bl("b"), bl("")))},
		{[]string{"HSET", "h", "f", "1"}, nil, is(in(1))},
		{[]string{"HGETALL", "h"}, nil, is(ar(bl("f"), bl("1")))},
		{nil, func(w *Writer) error {
			// SET big with the value streamed in three pieces.
			w.WriteArrayHeader(3)
			w.WriteBulkString("SET")
			w.WriteBulk([]byte("big"))
			w.WriteBulkHeader(len(big))
			w.WriteRaw(big[:1])
			w.WriteRaw(big[1 : len(big)-10])
			w.WriteRaw(big[len(big)-10:])
			return w.WriteBulkEnd()
		}, is(st("OK"))},
		{[]string{"GET", "big"}, nil, is(bl(string(big)))},
		{[]string{"STRLEN", "big"}, nil, is(in(1 << 20))},
		{[]string{"ZADD", "z", "1.5", "m"}, nil, is(in(1))},
		{[]string{"ZSCORE", "z", "m"}, nil, is(bl("1.5"))},
		{[]string{"MULTI"}, nil, is(st("OK"))},
		{[]string{"INCR", "n"}, nil, is(st("QUEUED"))},
		{[]string{"GET", "k"}, nil, is(st("QUEUED"))},
		{[]string{"EXEC"}, nil, is(ar(in(1), bl("v")))},
		{[]string{"DEBUG", "PROTOCOL", "double"}, nil, kind(Bulk)},
		// RESP3
		{[]string{"HELLO", "3"}, nil, func(x Reply) bool {
			proto, ok := mapGet(x, "proto")
			server, _ := mapGet(x, "server")
			return x.Kind == Map && ok && proto.Int == 3 && string(server.Str) == "redis"
		}},
		{[]string{"GET", "missing"}, nil, is(nl)},
		{[]string{"GET", "k"}, nil, is(bl("v"))},
		{[]string{"HGETALL", "h"}, nil, is(mp(bl("f"), bl("1")))},
		{[]string{"SADD", "s", "x"}, nil, is(in(1))},
		{[]string{"SMEMBERS", "s"}, nil, is(se(bl("x")))},
		{[]string{"ZSCORE", "z", "m"}, nil, is(db(1.5, ""))},
		{[]string{"NOSUCHCMD"}, nil, isErr("ERR", "unknown command")},
		{[]string{"DEBUG", "PROTOCOL", "double"}, nil, is(db(3.141, ""))},
		{[]string{"DEBUG", "PROTOCOL", "bignum"}, nil, func(x Reply) bool {
			n, ok := x.BigInt()
			return ok && n.String() == "1234567999999999999999999999999999999"
		}},
		{[]string{"DEBUG", "PROTOCOL", "true"}, nil, is(bo(true))},
		{[]string{"DEBUG", "PROTOCOL", "false"}, nil, is(bo(false))},
		{[]string{"DEBUG", "PROTOCOL", "null"}, nil, is(nl)},
		{[]string{"DEBUG", "PROTOCOL", "verbatim"}, nil, is(vb("txt", "This is a verbatim\nstring"))},
		{[]string{"DEBUG", "PROTOCOL", "map"}, nil, is(mp(in(0), bo(false), in(1), bo(true), in(2), bo(false)))},
		{[]string{"DEBUG", "PROTOCOL", "set"}, nil, is(se(in(0), in(1), in(2)))},
		{[]string{"DEBUG", "PROTOCOL", "attrib"}, nil, is(bl("Some real reply following the attribute"))},
		{[]string{"DEBUG", "PROTOCOL", "push"}, nil, is(pu(bl("server-cpu-usage"), in(42)))},
		{nil, nil, is(bl("Some real reply following the push reply"))}, // the second reply of DEBUG PROTOCOL push
		{[]string{"GET", "big"}, nil, is(bl(string(big)))},
	}
	for i, e := range exps {
		var err error
		switch {
		case e.write != nil:
			err = e.write(w)
		case e.args == nil:
		case i%2 == 0:
			err = w.WriteCommandStrings(e.args...)
		default: // the []byte form
			args := make([][]byte, len(e.args))
			for j, a := range e.args {
				args[j] = []byte(a)
			}
			err = w.WriteCommand(args...)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	for i, e := range exps {
		x, err := r.ReadReply()
		if err != nil {
			t.Fatalf("reply %d to %q: %v", i, e.args, err)
		}
		if !e.check(x) {
			s := x.String()
			if len(s) > 200 {
				s = s[:200] + "..."
			}
			t.Errorf("reply %d to %q: %s (%s)", i, e.args, s, x.Kind)
		}
	}
	if r.Buffered() != 0 {
		t.Errorf("%d bytes left", r.Buffered())
	}
}

// TestRedisRestoreStreamed DUMPs a key and RESTOREs it with the payload
// streamed as type byte, value and 10-byte footer, and checks BUSYKEY.
func TestRedisRestoreStreamed(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t)
	_, w, r := dial(t, s.Addr())
	do := func(args ...string) Reply {
		t.Helper()
		if err := w.WriteCommandStrings(args...); err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		x, err := r.ReadReply()
		if err != nil {
			t.Fatal(err)
		}
		return x.Clone()
	}
	do("RPUSH", "src", "a", "b", "c")
	dump := do("DUMP", "src")
	if dump.Kind != Bulk || len(dump.Str) < 11 {
		t.Fatalf("DUMP: %v", dump)
	}
	p := dump.Str
	restore := func(key string, replace bool) {
		n := 4
		if replace {
			n++
		}
		w.WriteArrayHeader(n)
		w.WriteBulkString("RESTORE")
		w.WriteBulkString(key)
		w.WriteBulkInt(0)
		w.WriteBulkHeader(len(p))
		w.WriteByte(p[0])
		w.WriteRaw(p[1 : len(p)-10])
		w.WriteRaw(p[len(p)-10:])
		w.WriteBulkEnd()
		if replace {
			w.WriteBulkString("REPLACE")
		}
	}
	restore("dst", false)
	restore("dst", false)
	restore("dst", true)
	w.WriteCommandStrings("LRANGE", "dst", "0", "-1")
	// A corrupted payload.
	p = append([]byte(nil), p...)
	p[len(p)-1] ^= 0xff
	restore("bad", false)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	for i, want := range []func(Reply) bool{
		is(st("OK")),
		isErr("BUSYKEY", "Target key name already exists"),
		is(st("OK")),
		is(ar(bl("a"), bl("b"), bl("c"))),
		isErr("ERR", "DUMP payload version or checksum are wrong"),
	} {
		x, err := r.ReadReply()
		if err != nil || !want(x) {
			t.Errorf("reply %d: %v %v", i, x, err)
		}
	}
}

// TestRedisClusterMoved checks MOVED parsing against a real cluster.
func TestRedisClusterMoved(t *testing.T) {
	t.Parallel()
	c := redistest.StartCluster(t, 3)
	key := "foo"
	owner := c.NodeForKey(key)
	var other *redistest.Server
	for _, n := range c.Nodes() {
		if n != owner {
			other = n
			break
		}
	}
	_, w, r := dial(t, other.Addr())
	w.WriteCommandStrings("GET", key)
	w.WriteCommandStrings("CLUSTER", "KEYSLOT", key)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	x, err := r.ReadReply()
	if err != nil {
		t.Fatal(err)
	}
	var se *ServerError
	if !errors.As(x.Err(), &se) || se.Code() != "MOVED" {
		t.Fatalf("GET on a node that does not own the slot: %v", x)
	}
	keyslot, err := r.ReadReply()
	if err != nil || keyslot.Kind != Int {
		t.Fatalf("CLUSTER KEYSLOT: %v %v", keyslot, err)
	}
	slot, addr, ok := se.Moved()
	if !ok || int64(slot) != keyslot.Int || addr != owner.Addr() {
		t.Errorf("Moved() = %d %q %v; want %d %q", slot, addr, ok, keyslot.Int, owner.Addr())
	}
	if _, _, ok := se.Ask(); ok {
		t.Error("MOVED parsed as ASK")
	}
}

// TestRedisPSYNC runs a replica's handshake against a real master and
// reads the RDB payload in both framings with the raw access methods, then
// the replication stream, checking that the replication offset computed
// from Offset matches the master's.
func TestRedisPSYNC(t *testing.T) {
	t.Parallel()
	for _, diskless := range []bool{false, true} {
		diskless := diskless
		name := "disk"
		if diskless {
			name = "diskless"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := redistest.Start(t)
			s.MustDo(t, "SET", "before-sync", strings.Repeat("x", 100000))
			conn, w, r := dial(t, s.Addr())
			capa := []string{"REPLCONF", "capa", "psync2"} // without "eof": the disk framing
			if diskless {
				capa = []string{"REPLCONF", "capa", "eof", "capa", "psync2"}
			}
			// One command at a time: a master refuses PSYNC while replies
			// to earlier commands are still pending ("-ERR SYNC and PSYNC
			// are invalid with pending output").
			for _, c := range []struct {
				args []string
				want string
			}{
				{[]string{"PING"}, "PONG"},
				{[]string{"REPLCONF", "listening-port", "6380"}, "OK"},
				{capa, "OK"},
				{[]string{"PSYNC", "?", "-1"}, ""},
			} {
				w.WriteCommandStrings(c.args...)
				if err := w.Flush(); err != nil {
					t.Fatal(err)
				}
				if c.want == "" {
					break
				}
				if x, err := r.ReadReply(); err != nil || !equal(x, st(c.want)) {
					t.Fatalf("handshake %q: %v %v, want %s", c.args, x, err, c.want)
				}
			}
			nonEmptyLine := func() []byte {
				t.Helper()
				for {
					l, err := r.ReadLine()
					if err != nil {
						t.Fatal(err)
					}
					if len(l) > 0 {
						return l
					}
				}
			}
			f := strings.Fields(string(nonEmptyLine()))
			if len(f) != 3 || f[0] != "+FULLRESYNC" || len(f[1]) != 40 {
				t.Fatalf("PSYNC reply %q", f)
			}
			startOffset, err := strconv.ParseInt(f[2], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			pre := nonEmptyLine()
			var payload io.Reader
			if mark, ok := bytes.CutPrefix(pre, []byte("$EOF:")); ok {
				if !diskless || len(mark) != 40 {
					t.Fatalf("preamble %q", pre)
				}
				payload = EOFMarkReader(r, mark) // mark aliases r's buffer: EOFMarkReader copies it
			} else {
				n, err := strconv.ParseInt(string(pre[1:]), 10, 64)
				if diskless || pre[0] != '$' || err != nil {
					t.Fatalf("preamble %q", pre)
				}
				payload = r.LimitedBulk(n)
			}
			rdb, err := io.ReadAll(payload)
			if err != nil {
				t.Fatalf("payload: %v", err)
			}
			if !bytes.HasPrefix(rdb, []byte("REDIS")) || len(rdb) < 20 || !bytes.Contains(rdb, []byte("before-sync")) {
				t.Fatalf("payload of %d bytes is not the RDB: %.20q", len(rdb), rdb)
			}
			// The RDB's CRC-64/Jones trailer covers everything before it: the
			// payload ended exactly where it should.
			tab := crc64.MakeTable(0x95AC9329AC4BC9B5)
			if got, want := ^crc64.Update(^uint64(0), tab, rdb[:len(rdb)-8]), binary.LittleEndian.Uint64(rdb[len(rdb)-8:]); got != want {
				t.Fatalf("RDB checksum %x, trailer %x", got, want)
			}

			stream := r.Offset()
			// A diskless master starts the command stream only on a
			// REPLCONF ACK received after it has seen its child finish, so
			// like a real replica send one whenever the stream is idle (a
			// timeout keeps the partial reply; ReadReply resumes it).
			next := func() (Reply, error) {
				for tries := 0; ; tries++ {
					conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
					x, err := r.ReadReply()
					var ne net.Error
					if tries < 100 && errors.As(err, &ne) && ne.Timeout() {
						w.WriteCommandStrings("REPLCONF", "ACK", strconv.FormatInt(startOffset+r.Offset()-stream, 10))
						if err := w.Flush(); err != nil {
							return x, err
						}
						continue
					}
					return x, err
				}
			}
			s.MustDo(t, "SET", "after-sync", "2")
			var cmds []string
			for {
				x, err := next()
				if err != nil {
					t.Fatalf("replication stream after %q: %v", cmds, err)
				}
				if x.Kind != Array || len(x.Elems) == 0 {
					t.Fatalf("replication stream: %v", x)
				}
				var words []string
				for _, e := range x.Elems {
					words = append(words, string(e.Str))
				}
				cmds = append(cmds, strings.Join(words, " "))
				if strings.EqualFold(words[0], "SET") {
					break
				}
			}
			if cmds[len(cmds)-1] != "SET after-sync 2" {
				t.Errorf("replication stream %q", cmds)
			}
			// Our offset must reach the master's (a PING may follow).
			for {
				ours := startOffset + r.Offset() - stream
				info := string(s.MustDo(t, "INFO", "replication").([]byte))
				var master int64
				for _, l := range strings.Split(info, "\r\n") {
					if v, ok := strings.CutPrefix(l, "master_repl_offset:"); ok {
						master, _ = strconv.ParseInt(v, 10, 64)
					}
				}
				if ours == master {
					break
				}
				if ours > master {
					t.Fatalf("replication offset %d beyond the master's %d", ours, master)
				}
				if _, err := next(); err != nil {
					t.Fatalf("offset %d, master %d: %v", ours, master, err)
				}
			}
		})
	}
}
