package transfer_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rdbferry/rdbferry/internal/rdbtest"
	"github.com/rdbferry/rdbferry/internal/redistest"
	"github.com/rdbferry/rdbferry/internal/resp"
	"github.com/rdbferry/rdbferry/rdb"
	"github.com/rdbferry/rdbferry/transfer"
)

// psyncFillScript writes ARGV[1] keys of every type into db 0, and a few
// into dbs 1 and 3; one in five keys gets a TTL an hour or more away.
const psyncFillScript = `
local n = tonumber(ARGV[1])
for i = 1, n do
  local db = 0
  if i % 50 == 1 then db = 1 elseif i % 50 == 2 then db = 3 end
  redis.call('SELECT', db)
  local k = 'k:' .. i
  local m = i % 9
  if m == 0 then redis.call('SET', k, 'string value ' .. i)
  elseif m == 1 then redis.call('SET', k, i)
  elseif m == 2 then redis.call('RPUSH', k, 'a', 'b', i)
  elseif m == 3 then redis.call('SADD', k, 1, 2, i)
  elseif m == 4 then redis.call('SADD', k, 'x', 'y' .. i)
  elseif m == 5 then redis.call('ZADD', k, 1.5, 'a', 2, 'b', i, 'c')
  elseif m == 6 then redis.call('HSET', k, 'f1', 'v1', 'f2', i)
  elseif m == 7 then
    redis.call('XADD', k, '*', 'f', i)
    redis.call('XADD', k, '*', 'g', 'h')
    redis.call('XGROUP', 'CREATE', k, 'grp', '0')
    redis.call('XREADGROUP', 'GROUP', 'grp', 'c1', 'COUNT', 1, 'STREAMS', k, '>')
  else
    -- big encodings: quicklist, hashtable hash and set, skiplist zset
    for j = 1, 200 do
      redis.call('RPUSH', k .. ':list', 'element-' .. j)
      redis.call('HSET', k .. ':hash', 'field-' .. j, j)
      redis.call('SADD', k .. ':set', 'member-' .. j)
      redis.call('ZADD', k .. ':zset', j / 3, 'm' .. j)
    end
    redis.call('SET', k, string.rep('z', 300 + i))
  end
  if i % 5 == 0 then redis.call('PEXPIRE', k, 3600000 + i) end
end
return n`

func psyncFill(t *testing.T, s *redistest.Server, n int) {
	t.Helper()
	// A fraction of the keys of kind 8 give four more keys each.
	s.MustDo(t, "EVAL", psyncFillScript, "0", strconv.Itoa(n))
}

func psyncInfo(t *testing.T, s *redistest.Server, section, field string) string {
	t.Helper()
	b, _ := s.MustDo(t, "INFO", section).([]byte)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			return v
		}
	}
	t.Fatalf("%s: INFO %s has no %s", s.Addr(), section, field)
	return ""
}

func psyncReadFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// auxOf returns the aux fields of an RDB.
func auxOf(t *testing.T, data []byte) map[string]string {
	t.Helper()
	r := rdb.NewReader(bytes.NewReader(data))
	out := map[string]string{}
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("reading RDB: %v", err)
		}
		if a, ok := rec.(*rdb.Aux); ok {
			out[a.Key] = a.Value
		}
	}
}

// TestPSYNCLiveServer takes snapshots of a real master, disk-based and
// diskless, with and without rdb-only, and compares them with the
// master's own SAVE file.
func TestPSYNCLiveServer(t *testing.T) {
	for _, diskless := range []string{"no", "yes"} {
		t.Run("diskless="+diskless, func(t *testing.T) {
			t.Parallel()
			m := redistest.Start(t, redistest.Config("repl-diskless-sync", diskless),
				redistest.Config("repl-diskless-sync-delay", "0"))
			psyncFill(t, m, 3000)
			want := rdbtest.Contents(t, psyncReadFile(t, m.Save(t)), true)
			if len(want) < 3000 {
				t.Fatalf("the master has only %d keys", len(want))
			}
			for _, rdbOnly := range []bool{true, false} {
				t.Run(fmt.Sprintf("rdbonly=%v", rdbOnly), func(t *testing.T) {
					var out, tee bytes.Buffer
					var last transfer.Progress
					ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
					defer cancel()
					st, err := transfer.Run(ctx,
						transfer.PSYNC(m.URL(), transfer.PSYNCOptions{RDBOnly: rdbOnly, Tee: &tee, AckInterval: 20 * time.Millisecond, ListeningPort: 4242}),
						transfer.ToWriter(&out, transfer.FileOptions{}),
						transfer.OnProgress(time.Hour, func(p transfer.Progress) { last = p }))
					if err != nil {
						t.Fatal(err)
					}
					rdbtest.Compare(t, rdbtest.Contents(t, out.Bytes(), true), want)
					rdbtest.Compare(t, rdbtest.Contents(t, tee.Bytes(), true), want)
					if st.KeysRead != int64(len(want)) || st.KeysWritten != st.KeysRead {
						t.Errorf("stats %+v, want %d keys", st, len(want))
					}
					// Read after the sync: Redis changes its replication id
					// when the first replica makes it create its backlog.
					replID := psyncInfo(t, m, "replication", "master_replid")
					if st.Source.ReplID != replID || st.Source.ReplOffset < 0 {
						t.Errorf("source info %+v, want replid %s", st.Source, replID)
					}
					if st.Source.Version != 10 || st.Source.Name != "psync "+m.Addr() {
						t.Errorf("source info %+v", st.Source)
					}
					aux := auxOf(t, tee.Bytes())
					if aux["repl-id"] != replID || aux["repl-offset"] != strconv.FormatInt(st.Source.ReplOffset, 10) {
						t.Errorf("RDB aux repl-id %q repl-offset %q, source info %+v", aux["repl-id"], aux["repl-offset"], st.Source)
					}
					if !bytes.HasPrefix(tee.Bytes(), []byte("REDIS0010")) || st.BytesRead != int64(tee.Len()) || last.BytesRead != st.BytesRead {
						t.Errorf("tee has %d bytes (%q…), %d read, progress %+v", tee.Len(), tee.Bytes()[:min(9, tee.Len())], st.BytesRead, last)
					}
					wantTotal := int64(tee.Len())
					if diskless == "yes" {
						wantTotal = -1
					}
					if last.BytesTotal != wantTotal {
						t.Errorf("progress total %d, want %d", last.BytesTotal, wantTotal)
					}
				})
			}
		})
	}
}

// psyncCapture is the .json of a corpus/psync capture.
type psyncCapture struct {
	PSYNCReply       string `json:"psync_reply"`
	RDBOffset        int    `json:"rdb_offset_in_bin"`
	RDBLen           int    `json:"rdb_len"`
	BulkHeader       string `json:"bulk_header"`
	ClosedBeforeAck  bool   `json:"closed_by_master_before_ack"`
	KeepalivesBefore int    `json:"keepalive_newlines_before_fullresync"`
	KeepalivesBulk   int    `json:"keepalive_newlines_before_bulk"`
}

func loadCapture(t *testing.T, bin string) ([]byte, psyncCapture) {
	t.Helper()
	var c psyncCapture
	if err := json.Unmarshal(psyncReadFile(t, strings.TrimSuffix(bin, ".bin")+".json"), &c); err != nil {
		t.Fatal(err)
	}
	data := psyncReadFile(t, bin)
	if c.RDBOffset <= 0 || c.RDBLen <= 0 || c.RDBOffset+c.RDBLen > len(data) {
		t.Fatalf("%s: bad offsets %+v for %d bytes", bin, c, len(data))
	}
	return data, c
}

// fakeMaster answers a replica handshake on 127.0.0.1 and then writes a
// canned PSYNC reply.
type fakeMaster struct {
	// payload is written after PSYNC; the connection is closed after it
	// when closeAfter is set, else kept open (reading ACKs) until the
	// replica closes it.
	payload    []byte
	closeAfter bool
	// write, if set, writes the reply to PSYNC instead of payload.
	write func(c net.Conn)

	rejectRDBOnly bool   // answer -ERR Unrecognized REPLCONF option
	capaReply     string // instead of +OK
	psyncReply    string // an error line instead of the payload
	checkOneByOne bool   // check that no command is pipelined

	addr string
	mu   sync.Mutex
	cmds []string
	acks int
	errs []string
}

func (f *fakeMaster) start(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.addr = ln.Addr().String()
	done := make(chan struct{})
	var conn net.Conn
	var cmu sync.Mutex
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		cmu.Lock()
		conn = c
		cmu.Unlock()
		defer c.Close()
		f.serve(c)
	}()
	t.Cleanup(func() {
		ln.Close()
		cmu.Lock()
		if conn != nil {
			conn.Close()
		}
		cmu.Unlock()
		<-done
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, e := range f.errs {
			t.Error("fake master:", e)
		}
	})
	return f.addr
}

func (f *fakeMaster) fail(format string, args ...any) {
	f.mu.Lock()
	f.errs = append(f.errs, fmt.Sprintf(format, args...))
	f.mu.Unlock()
}

func (f *fakeMaster) serve(c net.Conn) {
	rd := resp.NewReader(c)
	synced := false
	var writing sync.WaitGroup
	defer writing.Wait()
	for {
		x, err := rd.ReadReply()
		if err != nil {
			return
		}
		var args []string
		for _, e := range x.Elems {
			args = append(args, string(e.Str))
		}
		cmd := strings.Join(args, " ")
		f.mu.Lock()
		if strings.HasPrefix(cmd, "REPLCONF ACK ") {
			f.acks++
		} else {
			f.cmds = append(f.cmds, cmd)
		}
		f.mu.Unlock()
		if strings.HasPrefix(cmd, "REPLCONF ACK ") {
			if !synced {
				f.fail("ACK before PSYNC")
			}
			continue
		}
		if f.checkOneByOne && !synced {
			// Nothing more may arrive before the reply.
			c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
			if b, _ := rd.Peek(1); len(b) > 0 {
				f.fail("command pipelined after %q", cmd)
			}
			c.SetReadDeadline(time.Time{})
		}
		reply := "+OK\r\n"
		switch {
		case cmd == "PING":
			reply = "+PONG\r\n"
		case strings.HasPrefix(cmd, "REPLCONF capa") && f.capaReply != "":
			reply = f.capaReply + "\r\n"
		case strings.HasPrefix(cmd, "REPLCONF rdb-only") && f.rejectRDBOnly:
			reply = "-ERR Unrecognized REPLCONF option: rdb-only\r\n"
		case strings.HasPrefix(cmd, "PSYNC"):
			synced = true
			if f.psyncReply != "" {
				c.Write([]byte(f.psyncReply + "\r\n"))
				return
			}
			if f.write != nil {
				writing.Add(1)
				go func() {
					defer writing.Done()
					f.write(c)
				}()
				continue
			}
			c.Write(f.payload)
			if f.closeAfter {
				return
			}
			continue
		}
		c.Write([]byte(reply))
	}
}

func (f *fakeMaster) commands() ([]string, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.cmds...), f.acks
}

// renderRecord describes a record completely, for comparisons.
func renderRecord(rec rdb.Record) string {
	switch r := rec.(type) {
	case *rdb.Key:
		return fmt.Sprintf("key@%d db=%d %q type=%v exp=%d idle=%d freq=%d mexp=%v raw=%x",
			r.Offset(), r.DB, r.Key, r.Type, r.ExpireAt, r.Idle, r.Freq, r.MemberExpires, r.Raw)
	case *rdb.ModuleAux:
		return fmt.Sprintf("moduleaux@%d %d %d %x", r.Offset(), r.ModuleID, r.When, r.Raw)
	}
	return fmt.Sprintf("%T%+v", rec, rec)
}

// recordSink renders every record it gets; after is called after each key.
type recordSink struct {
	recs      []string
	countOnly bool // do not keep recs
	keys      int
	after     func(keys int)
	info      transfer.SourceInfo
}

func (s *recordSink) Begin(ctx context.Context, info transfer.SourceInfo) error {
	s.info = info
	return nil
}

func (s *recordSink) Write(ctx context.Context, rec rdb.Record) error {
	if !s.countOnly {
		s.recs = append(s.recs, renderRecord(rec))
	}
	if _, ok := rec.(*rdb.Key); ok {
		s.keys++
		if s.after != nil {
			s.after(s.keys)
		}
	}
	return nil
}

func (s *recordSink) Close(ctx context.Context) (transfer.Result, error) {
	return transfer.Result{Written: int64(s.keys)}, nil
}

func parseRecords(t *testing.T, data []byte) []string {
	t.Helper()
	r := rdb.NewReader(bytes.NewReader(data))
	var out []string
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("parsing RDB: %v", err)
		}
		out = append(out, renderRecord(rec))
	}
}

func compareRecords(t *testing.T, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%d records, want %d", len(got), len(want))
	}
	for i := 0; i < len(got) && i < len(want); i++ {
		if got[i] != want[i] {
			t.Fatalf("record %d:\n got %.300s\nwant %.300s", i, got[i], want[i])
		}
	}
}

// TestPSYNCCorpusReplay replays every captured full sync from a fake
// master and checks that the records read are those of the captured RDB.
func TestPSYNCCorpusReplay(t *testing.T) {
	bins, err := filepath.Glob(filepath.Join(rdbtest.CorpusDir(t), "psync", "*.bin"))
	if err != nil || len(bins) < 28 {
		t.Fatalf("psync captures: %d, %v", len(bins), err)
	}
	for _, bin := range bins {
		name := strings.TrimSuffix(filepath.Base(bin), ".bin")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			data, c := loadCapture(t, bin)
			rdbBytes := data[c.RDBOffset : c.RDBOffset+c.RDBLen]
			want := parseRecords(t, rdbBytes)
			rdbOnly := strings.Contains(name, "rdb-only") || strings.Contains(name, "functions-only")
			f := &fakeMaster{payload: data, closeAfter: c.ClosedBeforeAck}
			wantCmds := []string{"PING", "REPLCONF listening-port 0", "REPLCONF capa eof capa psync2"}
			switch {
			case strings.HasSuffix(name, "-no-eof-capa"):
				// An older master: rdb-only unknown, a normal sync.
				rdbOnly, f.rejectRDBOnly = true, true
			case strings.HasSuffix(name, "-disk-slow"):
				f.capaReply = "+OK active-replica" // KeyDB
			}
			if rdbOnly {
				wantCmds = append(wantCmds, "REPLCONF rdb-only 1")
			}
			wantCmds = append(wantCmds, "PSYNC ? -1")
			addr := f.start(t)
			var tee bytes.Buffer
			sink := &recordSink{}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			st, err := transfer.Run(ctx, transfer.PSYNC("redis://"+addr, transfer.PSYNCOptions{RDBOnly: rdbOnly, Tee: &tee}), sink)
			if err != nil {
				t.Fatal(err)
			}
			compareRecords(t, sink.recs, want)
			fields := strings.Fields(c.PSYNCReply)
			if st.Source.ReplID != fields[1] || strconv.FormatInt(st.Source.ReplOffset, 10) != fields[2] {
				t.Errorf("source info %+v, capture says %q", st.Source, c.PSYNCReply)
			}
			if st.BytesRead != int64(c.RDBLen) || !bytes.Equal(tee.Bytes(), rdbBytes) {
				t.Errorf("%d bytes read, tee %d bytes, RDB %d bytes", st.BytesRead, tee.Len(), c.RDBLen)
			}
			if sink.info.ReplID != fields[1] {
				t.Errorf("sink saw source info %+v", sink.info)
			}
			cmds, _ := f.commands()
			if strings.Join(cmds, "|") != strings.Join(wantCmds, "|") {
				t.Errorf("handshake %q, want %q", cmds, wantCmds)
			}
		})
	}
}

// TestPSYNCFakeMasterHandshake checks, against a fake master, that the
// handshake is sent one command at a time with AUTH first, that keep-alives
// are skipped, and that ACKs carry the offset of +FULLRESYNC while a slow
// snapshot is read — except to a master that accepted rdb-only.
func TestPSYNCFakeMasterHandshake(t *testing.T) {
	bin := filepath.Join(rdbtest.CorpusDir(t), "psync", "redis-7.4.1-disk.bin")
	data, c := loadCapture(t, bin)
	rdbBytes := data[c.RDBOffset : c.RDBOffset+c.RDBLen]
	const replID = "0123456789abcdef0123456789abcdef01234567"
	for _, rdbOnly := range []bool{false, true} {
		t.Run(fmt.Sprintf("rdbonly=%v", rdbOnly), func(t *testing.T) {
			t.Parallel()
			f := &fakeMaster{checkOneByOne: true}
			acksBeforeEnd := make(chan int, 1)
			f.write = func(conn net.Conn) {
				conn.Write([]byte("\n\n+FULLRESYNC " + replID + " 1234\r\n\n"))
				time.Sleep(60 * time.Millisecond)
				conn.Write([]byte("\n$" + strconv.Itoa(len(rdbBytes)) + "\r\n"))
				conn.Write(rdbBytes[:100])
				time.Sleep(60 * time.Millisecond)
				_, acks := f.commands()
				acksBeforeEnd <- acks
				conn.Write(rdbBytes[100:])
				if !rdbOnly {
					conn.Write([]byte("*1\r\n$4\r\nPING\r\n")) // the replication stream
				}
			}
			addr := f.start(t)
			sink := &recordSink{}
			st, err := transfer.Run(context.Background(), transfer.PSYNC("redis://alice:s3cret@"+addr,
				transfer.PSYNCOptions{AckInterval: 10 * time.Millisecond, ListeningPort: 7001, RDBOnly: rdbOnly}), sink)
			if err != nil {
				t.Fatal(err)
			}
			compareRecords(t, sink.recs, parseRecords(t, rdbBytes))
			if st.Source.ReplID != replID || st.Source.ReplOffset != 1234 {
				t.Errorf("source info %+v", st.Source)
			}
			cmds, _ := f.commands()
			want := []string{"AUTH alice s3cret", "PING", "REPLCONF listening-port 7001", "REPLCONF capa eof capa psync2", "PSYNC ? -1"}
			if rdbOnly {
				want = append(want[:4], "REPLCONF rdb-only 1", "PSYNC ? -1")
			}
			if strings.Join(cmds, "|") != strings.Join(want, "|") {
				t.Errorf("handshake %q, want %q", cmds, want)
			}
			n := <-acksBeforeEnd
			if !rdbOnly && n < 3 {
				t.Errorf("%d REPLCONF ACK before the end of a 120 ms snapshot, every 10 ms", n)
			}
			if rdbOnly && n != 0 {
				t.Errorf("%d REPLCONF ACK sent to an rdb-only master", n)
			}
		})
	}
}

// TestPSYNCFramingErrors feeds broken payloads from a fake master: the
// transfer must fail, naming the server and the offset, never succeed.
func TestPSYNCFramingErrors(t *testing.T) {
	dir := filepath.Join(rdbtest.CorpusDir(t), "psync")
	disk, dc := loadCapture(t, filepath.Join(dir, "redis-7.0.15-debian-disk.bin"))
	diskless, lc := loadCapture(t, filepath.Join(dir, "redis-7.0.15-debian-diskless.bin"))
	dEnd, lEnd := dc.RDBOffset+dc.RDBLen, lc.RDBOffset+lc.RDBLen
	mark := []byte(strings.TrimPrefix(lc.BulkHeader, "$EOF:"))
	header := disk[:bytes.Index(disk, []byte("\r\n$"))+2]
	rdbDisk := disk[dc.RDBOffset:dEnd]

	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	cases := []struct {
		name    string
		payload []byte
		close   bool
		want    []string // substrings of the error
	}{
		{"disk-cut-in-header", disk[:dc.RDBOffset+5], true, []string{"unexpected EOF", "after 5 of"}},
		{"disk-cut-in-middle", disk[:dc.RDBOffset+dc.RDBLen/2], true, []string{"unexpected EOF", fmt.Sprintf("after %d of %d RDB bytes", dc.RDBLen/2, dc.RDBLen)}},
		{"disk-cut-before-checksum", disk[:dEnd-8], true, []string{"unexpected EOF", "RDB bytes"}},
		{"disk-cut-last-byte", disk[:dEnd-1], true, []string{"unexpected EOF", "RDB bytes"}},
		{"disk-length-too-long", cat(header, []byte("$"+strconv.Itoa(dc.RDBLen+5)+"\r\n"), rdbDisk, []byte("12345")), false, []string{"payload goes on"}},
		{"diskless-cut-in-middle", diskless[:lc.RDBOffset+lc.RDBLen/2], true, []string{"unexpected EOF", fmt.Sprintf("after %d RDB bytes", lc.RDBLen/2)}},
		{"diskless-no-mark", diskless[:lEnd], true, []string{"unexpected EOF"}},
		{"diskless-half-mark", diskless[:lEnd+20], true, []string{"unexpected EOF"}},
		{"diskless-early-mark", cat(diskless[:lc.RDBOffset+1000], mark, diskless[lc.RDBOffset+1000:]), false, []string{"unexpected EOF", "after 1000 RDB bytes"}},
		{"diskless-late-mark", cat(diskless[:lEnd], []byte("garbage"), diskless[lEnd:]), false, []string{"payload goes on to the EOF mark"}},
		{"closed-before-fullresync", []byte("\n\n"), true, []string{"waiting for the reply to PSYNC", "connection closed"}},
		{"closed-before-bulk", []byte("+FULLRESYNC 0123456789abcdef0123456789abcdef01234567 0\r\n\n"), true, []string{"waiting for the snapshot", "connection closed"}},
		{"bad-mark", []byte("+FULLRESYNC 0123456789abcdef0123456789abcdef01234567 0\r\n$EOF:abc\r\n"), false, []string{"EOF mark of 3 bytes"}},
		{"bad-length", []byte("+FULLRESYNC 0123456789abcdef0123456789abcdef01234567 0\r\n$-5\r\n"), false, []string{"malformed snapshot header"}},
		{"bad-replid", []byte("+FULLRESYNC xyz 0\r\n"), false, []string{"malformed PSYNC reply"}},
		{"not-rdb", []byte("+FULLRESYNC 0123456789abcdef0123456789abcdef01234567 0\r\n$12\r\nHELLO WORLD!"), false, []string{"not an RDB file"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := &fakeMaster{payload: tc.payload, closeAfter: tc.close}
			addr := f.start(t)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			st, err := transfer.Run(ctx, transfer.PSYNC("redis://"+addr, transfer.PSYNCOptions{}), &recordSink{})
			if err == nil {
				t.Fatalf("no error; stats %+v", st)
			}
			if errors.Is(err, io.EOF) {
				t.Errorf("error wraps io.EOF: %v", err)
			}
			for _, w := range append(tc.want, addr) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// errorMust checks that err names addr and contains every substring.
func errorMust(t *testing.T, err error, addr string, subs ...string) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	t.Logf("error: %v", err)
	for _, s := range append(subs, addr) {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not contain %q", err, s)
		}
	}
}

func runPSYNC(url string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	_, err := transfer.Run(ctx, transfer.PSYNC(url, transfer.PSYNCOptions{DialTimeout: 2 * time.Second}), &recordSink{})
	return err
}

// TestPSYNCServerErrors checks the errors of servers that refuse a full sync.
func TestPSYNCServerErrors(t *testing.T) {
	t.Run("refused", func(t *testing.T) {
		t.Parallel()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		errorMust(t, runPSYNC("redis://"+addr), addr, "cannot connect", "connection refused")
	})
	t.Run("bad-url", func(t *testing.T) {
		t.Parallel()
		err := runPSYNC("http://u:secret@host:1")
		if err == nil || !strings.Contains(err.Error(), "scheme") || strings.Contains(err.Error(), "secret") {
			t.Errorf("error %v", err)
		}
	})
	t.Run("password", func(t *testing.T) {
		t.Parallel()
		s := redistest.Start(t, redistest.Config("requirepass", "right"))
		errorMust(t, runPSYNC("redis://:wrong@"+s.Addr()), s.Addr(), "WRONGPASS", "authentication failed")
		errorMust(t, runPSYNC("redis://"+s.Addr()), s.Addr(), "NOAUTH", "requires authentication")
		if err := runPSYNC(s.URL()); err != nil {
			t.Errorf("with the right password: %v", err)
		}
	})
	t.Run("noperm", func(t *testing.T) {
		t.Parallel()
		s := redistest.Start(t)
		s.MustDo(t, "ACL", "SETUSER", "u", "on", ">p", "~*", "+@all", "-sync", "-psync")
		s.MustDo(t, "SET", "k", "v")
		errorMust(t, runPSYNC("redis://u:p@"+s.Addr()), s.Addr(), "NOPERM", `user "u"`, "redis+scan://")
	})
	t.Run("psync-renamed", func(t *testing.T) {
		t.Parallel()
		s := redistest.Start(t, redistest.Config("rename-command", "PSYNC", ""))
		errorMust(t, runPSYNC(s.URL()), s.Addr(), "unknown command", "refused PSYNC", "redis+scan://")
	})
	t.Run("replica-master-down", func(t *testing.T) {
		t.Parallel()
		m := redistest.Start(t)
		m.MustDo(t, "SET", "k", "v")
		r := redistest.StartReplica(t, m)
		m.Stop()
		deadline := time.Now().Add(10 * time.Second)
		for psyncInfo(t, r, "replication", "master_link_status") != "down" {
			if time.Now().After(deadline) {
				t.Fatal("the replica still sees its master")
			}
			time.Sleep(20 * time.Millisecond)
		}
		errorMust(t, runPSYNC(r.URL()), r.Addr(), "link to its master is down")
	})
}

// slowMaster starts a diskless or disk-based master whose snapshot of
// 20000 keys takes several seconds to produce.
func slowMaster(t *testing.T, diskless string) *redistest.Server {
	t.Helper()
	m := redistest.Start(t, redistest.Config("repl-diskless-sync", diskless),
		redistest.Config("repl-diskless-sync-delay", "0"))
	m.MustDo(t, "DEBUG", "POPULATE", "20000", "key", "100")
	m.MustDo(t, "CONFIG", "SET", "rdb-key-save-delay", "300") // µs per key: 6 s in all
	return m
}

// TestPSYNCMasterKilled kills the master (SIGKILL) in the middle of a
// diskless snapshot, in the middle of a disk-based one (20 MB, read
// slowly), and while a disk-based one is being prepared.
func TestPSYNCMasterKilled(t *testing.T) {
	for _, mode := range []string{"diskless", "disk", "disk-bgsave"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			var m *redistest.Server
			switch mode {
			case "diskless":
				m = slowMaster(t, "yes")
			case "disk":
				m = redistest.Start(t, redistest.Config("repl-diskless-sync", "no"), redistest.Config("rdbcompression", "no"))
				m.MustDo(t, "DEBUG", "POPULATE", "20000", "key", "1000") // 20 MB
			default:
				m = slowMaster(t, "no")
			}
			pid, err := strconv.Atoi(psyncInfo(t, m, "server", "process_id"))
			if err != nil {
				t.Fatal(err)
			}
			var once sync.Once
			kill := func() {
				once.Do(func() {
					if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
						t.Error(err)
					}
				})
			}
			sink := &recordSink{countOnly: true}
			if mode == "disk-bgsave" {
				time.AfterFunc(500*time.Millisecond, kill)
			} else {
				sink.after = func(keys int) {
					if keys == 500 {
						kill()
						if mode == "disk" {
							time.Sleep(100 * time.Millisecond) // let the connection close
						}
					}
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			start := time.Now()
			st, err := transfer.Run(ctx, transfer.PSYNC(m.URL(), transfer.PSYNCOptions{}), sink)
			t.Logf("after %v: %d keys, %d bytes: %v", time.Since(start).Round(time.Millisecond), sink.keys, st.BytesRead, err)
			switch mode {
			case "diskless":
				errorMust(t, err, m.Addr(), "unexpected EOF", "the master closed the connection after", "RDB bytes")
				if !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Errorf("error does not wrap io.ErrUnexpectedEOF")
				}
			case "disk":
				// The end of what the master had written may be lost to a
				// TCP reset (an ACK of ours unread when it died).
				errorMust(t, err, m.Addr(), fmt.Sprintf("after %d of ", st.BytesRead), "RDB bytes")
			default:
				errorMust(t, err, m.Addr(), "waiting for the snapshot", "connection closed by the server")
			}
			if mode != "disk-bgsave" && (sink.keys < 500 || sink.keys >= 20000) {
				t.Errorf("%d keys read", sink.keys)
			}
		})
	}
}

// TestPSYNCCancel cancels the context in the middle of a snapshot: Run
// must return promptly, with no goroutine left behind.
func TestPSYNCCancel(t *testing.T) {
	m := slowMaster(t, "yes")
	time.Sleep(50 * time.Millisecond) // let the server's helpers settle
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var cancelled time.Time
	sink := &recordSink{after: func(keys int) {
		if keys == 300 {
			cancelled = time.Now()
			cancel()
		}
	}}
	st, err := transfer.Run(ctx, transfer.PSYNC(m.URL(), transfer.PSYNCOptions{AckInterval: 10 * time.Millisecond}), sink)
	if cancelled.IsZero() {
		t.Fatalf("not cancelled: %d keys, %v", sink.keys, err)
	}
	if d := time.Since(cancelled); d > time.Second {
		t.Errorf("Run returned %v after the cancellation", d)
	}
	errorMust(t, err, m.Addr(), "cancelled after", "RDB bytes")
	if !errors.Is(err, context.Canceled) || st.KeysRead >= 20000 {
		t.Errorf("error %v, %d keys", err, st.KeysRead)
	}
	var after int
	for i := 0; i < 100; i++ {
		if after = runtime.NumGoroutine(); after <= before {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if after > before {
		buf := make([]byte, 1<<20)
		t.Errorf("%d goroutines before, %d after:\n%s", before, after, buf[:runtime.Stack(buf, true)])
	}

	// Cancelling while the master prepares a disk-based snapshot.
	d := slowMaster(t, "no")
	ctx2, cancel2 := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel2)
	start := time.Now()
	_, err = transfer.Run(ctx2, transfer.PSYNC(d.URL(), transfer.PSYNCOptions{}), &recordSink{})
	if !errors.Is(err, context.Canceled) || time.Since(start) > 1300*time.Millisecond {
		t.Errorf("cancelled during the handshake: %v after %v", err, time.Since(start))
	}
}

// TestPSYNCTLS takes a snapshot over rediss:// from a server with a
// self-signed certificate.
func TestPSYNCTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "rdbferry test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tlsAddr := ln.Addr().String()
	ln.Close()
	_, port, _ := net.SplitHostPort(tlsAddr)
	s := redistest.Start(t, redistest.Config("tls-port", port), redistest.Config("tls-cert-file", certFile),
		redistest.Config("tls-key-file", keyFile), redistest.Config("tls-ca-cert-file", certFile),
		redistest.Config("tls-auth-clients", "no"), redistest.Config("requirepass", "pw"))
	s.MustDo(t, "DEBUG", "POPULATE", "100")
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	sink := &recordSink{countOnly: true}
	st, err := transfer.Run(context.Background(), transfer.PSYNC("rediss://:pw@"+tlsAddr, transfer.PSYNCOptions{TLS: &tls.Config{RootCAs: pool}}), sink)
	if err != nil {
		t.Fatal(err)
	}
	if sink.keys != 100 || len(st.Source.ReplID) != 40 {
		t.Errorf("%d keys, source info %+v", sink.keys, st.Source)
	}
	_, err = transfer.Run(context.Background(), transfer.PSYNC("rediss://:pw@"+tlsAddr, transfer.PSYNCOptions{}), &recordSink{})
	errorMust(t, err, tlsAddr, "TLS handshake", "certificate")
}
