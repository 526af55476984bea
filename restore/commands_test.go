package restore

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rdbferry/rdbferry/internal/keyslot"
	"github.com/rdbferry/rdbferry/internal/redistest"
	"github.com/rdbferry/rdbferry/rdb"
)

// --- helpers ---

// collectCommands runs valueCommands and returns copies of the commands it
// emitted (its arguments alias the value and its own buffers).
func collectCommands(t *testing.T, key, tmp []byte, v rdb.Value, expireAt int64, o commandOptions) [][]string {
	t.Helper()
	cmds, err := tryCommands(key, tmp, v, expireAt, o)
	if err != nil {
		t.Fatalf("valueCommands(%q): %v", key, err)
	}
	return cmds
}

func tryCommands(key, tmp []byte, v rdb.Value, expireAt int64, o commandOptions) ([][]string, error) {
	var cmds [][]string
	err := valueCommands(key, tmp, v, expireAt, o, func(args [][]byte) error {
		c := make([]string, len(args))
		for i, a := range args {
			c[i] = string(a)
		}
		cmds = append(cmds, c)
		return nil
	})
	return cmds, err
}

// apply sends cmds to srv and returns the last reply; any error fails the
// test.
func apply(t *testing.T, srv *redistest.Server, cmds [][]string) any {
	t.Helper()
	var last any
	for _, c := range cmds {
		v, err := srv.Do(c...)
		if err != nil {
			t.Fatalf("%s: %v", cmdText(c), err)
		}
		last = v
	}
	return last
}

// cmdText shortens a command for messages.
func cmdText(c []string) string {
	var b strings.Builder
	for i, a := range c {
		if i == 8 {
			fmt.Fprintf(&b, " … (%d args)", len(c))
			break
		}
		if len(a) > 40 {
			a = a[:40] + "…"
		}
		fmt.Fprintf(&b, " %q", a)
	}
	return b.String()
}

// write rebuilds v under key on srv through a temporary key and returns the
// rename's reply, after checking that the temporary key is gone (unless the
// rename was refused).
func write(t *testing.T, srv *redistest.Server, key string, v rdb.Value, expireAt int64, o commandOptions) any {
	t.Helper()
	tmp, ok := tempKey([]byte(key))
	if !ok {
		t.Fatalf("tempKey(%q) found no name", key)
	}
	cmds := collectCommands(t, []byte(key), tmp, v, expireAt, o)
	if cmds[0][0] != "DEL" || cmds[0][1] != string(tmp) {
		t.Fatalf("first command %s, want DEL tmp", cmdText(cmds[0]))
	}
	last := cmds[len(cmds)-1]
	if want := map[bool]string{true: "RENAME", false: "RENAMENX"}[o.Replace]; last[0] != want || last[1] != string(tmp) || last[2] != key {
		t.Fatalf("last command %s, want %s tmp key", cmdText(last), want)
	}
	reply := apply(t, srv, cmds)
	if reply != int64(0) {
		if n := srv.MustDo(t, "EXISTS", string(tmp)); n != int64(0) {
			t.Errorf("temporary key %q still exists after the rename", tmp)
		}
	}
	return reply
}

func mustBytes(t *testing.T, v any) []byte {
	t.Helper()
	b, ok := v.([]byte)
	if !ok {
		t.Fatalf("reply %T %v, want a bulk string", v, v)
	}
	return b
}

func mustArray(t *testing.T, v any) []any {
	t.Helper()
	a, ok := v.([]any)
	if !ok && v != nil {
		t.Fatalf("reply %T %v, want an array", v, v)
	}
	return a
}

func strs(t *testing.T, v any) []string {
	t.Helper()
	var out []string
	for _, e := range mustArray(t, v) {
		out = append(out, string(mustBytes(t, e)))
	}
	return out
}

// pairs turns a flat [k1 v1 k2 v2 …] reply into a map.
func pairs(t *testing.T, v any) map[string]any {
	t.Helper()
	a := mustArray(t, v)
	m := make(map[string]any, len(a)/2)
	for i := 0; i+1 < len(a); i += 2 {
		k, ok := a[i].(string)
		if !ok {
			k = string(mustBytes(t, a[i]))
		}
		m[k] = a[i+1]
	}
	return m
}

func checkExpire(t *testing.T, srv *redistest.Server, key string, want int64) {
	t.Helper()
	got := srv.MustDo(t, "PEXPIRETIME", key)
	if want == 0 {
		want = -1
	}
	if got != want {
		t.Errorf("PEXPIRETIME %q = %v, want %d", key, got, want)
	}
}

func binaryBytes() []byte {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

var testOpts = commandOptions{MaxBatchArgs: 100, MaxBatchBytes: 1 << 20, MaxBulk: 512 << 20, Replace: true, StreamV7: true}

// --- round trips through a real server ---

// TestCommandPathRoundTrip writes every kind of value with the command path
// into a real server and reads it back.
func TestCommandPathRoundTrip(t *testing.T) {
	srv := redistest.Start(t)
	future := time.Now().Add(time.Hour).UnixMilli()

	t.Run("strings", func(t *testing.T) {
		big := bytes.Repeat([]byte("0123456789abcdef"), (3<<20)/16+1) // 3 MiB + 16 bytes
		for _, tc := range []struct {
			name string
			v    []byte
			exp  int64
			cmds int // SET + APPENDs
		}{
			{"binary", binaryBytes(), future, 1},
			{"empty", []byte{}, 0, 1},
			{"3MiB", big, future, 4},
		} {
			key := "str:" + tc.name
			o := testOpts
			cmds := collectCommands(t, []byte(key), []byte("x"), rdb.String(tc.v), tc.exp, o)
			var sets, appends int
			for _, c := range cmds {
				switch c[0] {
				case "SET":
					sets++
				case "APPEND":
					appends++
					if len(c[2]) > o.MaxBatchBytes {
						t.Errorf("%s: APPEND of %d bytes", tc.name, len(c[2]))
					}
				}
			}
			if sets != 1 || sets+appends != tc.cmds {
				t.Errorf("%s: %d SET and %d APPEND, want 1 and %d", tc.name, sets, appends, tc.cmds-1)
			}
			write(t, srv, key, rdb.String(tc.v), tc.exp, o)
			if got := mustBytes(t, srv.MustDo(t, "GET", key)); !bytes.Equal(got, tc.v) {
				t.Errorf("%s: GET returns %d bytes, want %d (equal: %v)", tc.name, len(got), len(tc.v), bytes.Equal(got, tc.v))
			}
			checkExpire(t, srv, key, tc.exp)
		}
	})

	t.Run("list", func(t *testing.T) {
		var l rdb.List
		l = append(l, binaryBytes(), []byte{}, []byte("\r\n"))
		for i := 0; len(l) < 10000; i++ {
			l = append(l, []byte("item:"+strconv.Itoa(i)))
		}
		o := testOpts
		cmds := collectCommands(t, []byte("list"), []byte("{list}t"), l, future, o)
		rpush := 0
		for _, c := range cmds {
			if c[0] == "RPUSH" {
				rpush++
				if n := len(c) - 2; n > o.MaxBatchArgs {
					t.Errorf("RPUSH with %d elements", n)
				}
			}
		}
		if rpush != 100 {
			t.Errorf("%d RPUSH commands, want 100", rpush)
		}
		write(t, srv, "list", l, future, o)
		got := strs(t, srv.MustDo(t, "LRANGE", "list", "0", "-1"))
		if len(got) != len(l) {
			t.Fatalf("LRANGE: %d elements, want %d", len(got), len(l))
		}
		for i := range l {
			if got[i] != string(l[i]) {
				t.Fatalf("element %d is %q, want %q", i, got[i], l[i])
			}
		}
		checkExpire(t, srv, "list", future)
	})

	t.Run("set", func(t *testing.T) {
		s := rdb.Set{binaryBytes(), []byte(""), []byte("a"), []byte("12345")}
		for i := 0; i < 700; i++ {
			s = append(s, []byte(fmt.Sprintf("m\x00%d", i)))
		}
		write(t, srv, "set", s, 0, testOpts)
		got := strs(t, srv.MustDo(t, "SMEMBERS", "set"))
		want := make([]string, len(s))
		for i, m := range s {
			want[i] = string(m)
		}
		sort.Strings(got)
		sort.Strings(want)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("SMEMBERS differs: %d members, want %d", len(got), len(want))
		}
		checkExpire(t, srv, "set", 0)
	})

	t.Run("zset", func(t *testing.T) {
		z := rdb.ZSet{
			{Member: []byte("pinf"), Score: math.Inf(1)},
			{Member: []byte("ninf"), Score: math.Inf(-1)},
			{Member: []byte("tiny"), Score: 1e-300},
			{Member: []byte("denorm"), Score: math.SmallestNonzeroFloat64},
			{Member: []byte("max"), Score: math.MaxFloat64},
			{Member: []byte("int"), Score: 42},
			{Member: []byte("neg"), Score: -7},
			{Member: []byte("zero"), Score: 0},
			{Member: []byte("negzero"), Score: math.Copysign(0, -1)},
			{Member: []byte("tenth"), Score: 0.1},
			{Member: []byte("2^53"), Score: 1 << 53},
			{Member: []byte("2^53+2"), Score: 1<<53 + 2},
			{Member: []byte("2^63"), Score: 1 << 63},
			{Member: []byte("third"), Score: 1.0 / 3},
			{Member: binaryBytes(), Score: -1.5e300},
		}
		r := rand.New(rand.NewSource(3))
		for i := 0; i < 300; i++ {
			z = append(z, rdb.ZMember{Member: []byte("r" + strconv.Itoa(i)), Score: math.Float64frombits(r.Uint64())})
			if math.IsNaN(z[len(z)-1].Score) {
				z[len(z)-1].Score = float64(i)
			}
		}
		o := testOpts
		o.MaxBatchArgs = 7
		write(t, srv, "zset", z, future, o)
		a := strs(t, srv.MustDo(t, "ZRANGE", "zset", "0", "-1", "WITHSCORES"))
		got := make(map[string]float64)
		for i := 0; i+1 < len(a); i += 2 {
			f, err := strconv.ParseFloat(a[i+1], 64)
			if err != nil {
				t.Fatalf("score %q: %v", a[i+1], err)
			}
			got[a[i]] = f
		}
		if len(got) != len(z) {
			t.Errorf("ZRANGE: %d members, want %d", len(got), len(z))
		}
		for _, m := range z {
			g, ok := got[string(m.Member)]
			// Redis stores -0 as 0 in a listpack-encoded sorted set.
			if !ok || math.Float64bits(g) != math.Float64bits(m.Score) && !(g == 0 && m.Score == 0) {
				t.Errorf("member %q: score %v (present %v), want %v", m.Member, g, ok, m.Score)
			}
		}
		checkExpire(t, srv, "zset", future)
	})

	t.Run("hash", func(t *testing.T) {
		var h rdb.Hash
		h = append(h, rdb.HashField{Field: binaryBytes(), Value: []byte{}}, rdb.HashField{Field: []byte{}, Value: binaryBytes()})
		for i := 0; len(h) < 1000; i++ {
			h = append(h, rdb.HashField{Field: []byte("f" + strconv.Itoa(i)), Value: bytes.Repeat([]byte{byte(i)}, i%50)})
		}
		write(t, srv, "hash", h, future, testOpts)
		got := pairs(t, srv.MustDo(t, "HGETALL", "hash"))
		if len(got) != len(h) {
			t.Errorf("HGETALL: %d fields, want %d", len(got), len(h))
		}
		for _, f := range h {
			if v, ok := got[string(f.Field)]; !ok || !bytes.Equal(mustBytes(t, v), f.Value) {
				t.Errorf("field %q: %q (present %v), want %q", f.Field, v, ok, f.Value)
			}
		}
		checkExpire(t, srv, "hash", future)
	})

	t.Run("replace", func(t *testing.T) {
		// RENAME replaces a key of another type and its TTL.
		srv.MustDo(t, "SET", "repl", "old", "PX", "100000")
		write(t, srv, "repl", rdb.List{[]byte("new")}, 0, testOpts)
		if got := strs(t, srv.MustDo(t, "LRANGE", "repl", "0", "-1")); !reflect.DeepEqual(got, []string{"new"}) {
			t.Errorf("replaced key holds %q", got)
		}
		checkExpire(t, srv, "repl", 0)
	})
}

// TestCommandPathRenameNX checks that without Replace an existing key is
// left untouched and RENAMENX answers 0.
func TestCommandPathRenameNX(t *testing.T) {
	srv := redistest.Start(t)
	exp := time.Now().Add(time.Hour).UnixMilli()
	srv.MustDo(t, "SET", "k", "existing", "PXAT", strconv.FormatInt(exp, 10))
	o := testOpts
	o.Replace = false
	if r := write(t, srv, "k", rdb.List{[]byte("a"), []byte("b")}, 0, o); r != int64(0) {
		t.Fatalf("RENAMENX over an existing key answered %v, want 0", r)
	}
	if got := mustBytes(t, srv.MustDo(t, "GET", "k")); string(got) != "existing" {
		t.Errorf("existing key now holds %q", got)
	}
	checkExpire(t, srv, "k", exp)
	// As documented, the temporary key is left for the caller to delete.
	tmp, _ := tempKey([]byte("k"))
	if n := srv.MustDo(t, "EXISTS", string(tmp)); n != int64(1) {
		t.Errorf("EXISTS tmp after a refused RENAMENX = %v, want 1", n)
	}
	// An absent key is written.
	if r := write(t, srv, "fresh", rdb.List{[]byte("a")}, 0, o); r != int64(1) {
		t.Fatalf("RENAMENX to an absent key answered %v, want 1", r)
	}
}

// TestCommandPathRetryConverges interrupts a run half way, then runs again
// in full: the result is the same as an uninterrupted run's.
func TestCommandPathRetryConverges(t *testing.T) {
	srv := redistest.Start(t)
	exp := time.Now().Add(time.Hour).UnixMilli()
	values := map[string]rdb.Value{
		"list": func() rdb.List {
			var l rdb.List
			for i := 0; i < 1000; i++ {
				l = append(l, []byte(strconv.Itoa(i)))
			}
			return l
		}(),
		"hash": rdb.Hash{{Field: []byte("a"), Value: []byte("1")}, {Field: []byte("b"), Value: []byte("2")}},
		"zset": rdb.ZSet{{Member: []byte("a"), Score: 1}, {Member: []byte("b"), Score: 2.5}},
		"stream": &rdb.Stream{
			Entries: []rdb.StreamEntry{
				{ID: rdb.StreamID{Ms: 1, Seq: 0}, Fields: [][]byte{[]byte("f"), []byte("1")}},
				{ID: rdb.StreamID{Ms: 2, Seq: 0}, Fields: [][]byte{[]byte("f"), []byte("2")}},
				{ID: rdb.StreamID{Ms: 3, Seq: 0}, Fields: [][]byte{[]byte("f"), []byte("3")}},
			},
			LastID: rdb.StreamID{Ms: 3}, EntriesAdded: 3, FirstID: rdb.StreamID{Ms: 1},
			Groups: []rdb.StreamGroup{{Name: []byte("g"), LastID: rdb.StreamID{Ms: 2}, EntriesRead: 2}},
		},
	}
	for name, v := range values {
		for _, replace := range []bool{true, false} {
			o := testOpts
			o.MaxBatchArgs = 10
			o.Replace = replace
			key := fmt.Sprintf("%s:%v", name, replace)
			tmp, _ := tempKey([]byte(key))
			cmds := collectCommands(t, []byte(key), tmp, v, exp, o)
			apply(t, srv, cmds[:len(cmds)/2])
			if n := srv.MustDo(t, "EXISTS", key); n != int64(0) {
				t.Errorf("%s: key visible after an interrupted run", key)
			}
			write(t, srv, key, v, exp, o)
			clean := key + ":clean"
			write(t, srv, clean, v, exp, o)
			a := mustBytes(t, srv.MustDo(t, "DUMP", key))
			b := mustBytes(t, srv.MustDo(t, "DUMP", clean))
			if !bytes.Equal(a, b) {
				t.Errorf("%s: retried key differs from a clean run's", key)
			}
			checkExpire(t, srv, key, exp)
		}
	}
}

// TestCommandPathDirect covers the path without a temporary key.
func TestCommandPathDirect(t *testing.T) {
	srv := redistest.Start(t)
	srv.MustDo(t, "SET", "d", "old")
	cmds := collectCommands(t, []byte("d"), nil, rdb.Set{[]byte("x"), []byte("y")}, 0, testOpts)
	if cmds[0][0] != "DEL" || cmds[0][1] != "d" {
		t.Errorf("first command %s, want DEL d", cmdText(cmds[0]))
	}
	for _, c := range cmds {
		if strings.HasPrefix(c[0], "RENAME") {
			t.Errorf("direct path emitted %s", cmdText(c))
		}
	}
	apply(t, srv, cmds)
	if got := srv.MustDo(t, "SCARD", "d"); got != int64(2) {
		t.Errorf("SCARD d = %v, want 2", got)
	}
	o := testOpts
	o.Replace = false
	cmds, err := tryCommands([]byte("d"), nil, rdb.Set{[]byte("x")}, 0, o)
	if !errors.Is(err, errNoTempKey) || len(cmds) != 0 {
		t.Errorf("direct path without Replace: %d commands, error %v; want none and errNoTempKey", len(cmds), err)
	}
}

// --- streams ---

// dumpValue decodes the value of key on srv through DUMP.
func dumpValue(t *testing.T, srv *redistest.Server, key string) rdb.Value {
	t.Helper()
	typ, raw, ver, err := rdb.ParseDumpPayload(mustBytes(t, srv.MustDo(t, "DUMP", key)))
	if err != nil {
		t.Fatalf("DUMP %s: %v", key, err)
	}
	v, err := rdb.DecodeValue(typ, raw, ver)
	if err != nil {
		t.Fatalf("decoding DUMP %s: %v", key, err)
	}
	return v
}

func idText(id rdb.StreamID) string { return id.String() }

// streamState is what XINFO STREAM FULL and XRANGE show of a stream, minus
// what the command path cannot carry (consumers' seen and active times).
type streamState struct {
	Length       int64
	LastID       string
	MaxDeletedID string
	EntriesAdded int64
	FirstID      string
	Entries      []string // "id f v f v"
	Groups       []groupState
}

type groupState struct {
	Name        string
	LastID      string
	EntriesRead any // int64 or nil
	Lag         any
	PelCount    int64
	Pending     []string // "id consumer time count"
	Consumers   []string // "name pel-count [ids]"
}

func readStream(t *testing.T, srv *redistest.Server, key string) streamState {
	t.Helper()
	var st streamState
	for _, e := range mustArray(t, srv.MustDo(t, "XRANGE", key, "-", "+")) {
		ea := mustArray(t, e)
		st.Entries = append(st.Entries, string(mustBytes(t, ea[0]))+" "+strings.Join(strs(t, ea[1]), " "))
	}
	m := pairs(t, srv.MustDo(t, "XINFO", "STREAM", key, "FULL", "COUNT", "0"))
	st.Length, _ = m["length"].(int64)
	st.LastID = string(mustBytes(t, m["last-generated-id"]))
	st.MaxDeletedID = string(mustBytes(t, m["max-deleted-entry-id"]))
	st.EntriesAdded, _ = m["entries-added"].(int64)
	st.FirstID = string(mustBytes(t, m["recorded-first-entry-id"]))
	for _, g := range mustArray(t, m["groups"]) {
		gm := pairs(t, g)
		gs := groupState{
			Name:        string(mustBytes(t, gm["name"])),
			LastID:      string(mustBytes(t, gm["last-delivered-id"])),
			EntriesRead: gm["entries-read"],
			Lag:         gm["lag"],
		}
		gs.PelCount, _ = gm["pel-count"].(int64)
		for _, p := range mustArray(t, gm["pending"]) {
			pa := mustArray(t, p)
			gs.Pending = append(gs.Pending, fmt.Sprintf("%s %s %v %v", pa[0], pa[1], pa[2], pa[3]))
		}
		for _, c := range mustArray(t, gm["consumers"]) {
			cm := pairs(t, c)
			var ids []string
			for _, p := range mustArray(t, cm["pending"]) {
				pa := mustArray(t, p)
				ids = append(ids, fmt.Sprintf("%s %v %v", pa[0], pa[1], pa[2]))
			}
			gs.Consumers = append(gs.Consumers, fmt.Sprintf("%s %v %v", cm["name"], cm["pel-count"], ids))
		}
		st.Groups = append(st.Groups, gs)
	}
	return st
}

// expectedStream is the state that rebuilding s should give: the value
// itself, without the pending entries that cannot be recreated.
func expectedStream(s *rdb.Stream) streamState {
	st := streamState{
		Length:       int64(len(s.Entries)),
		LastID:       idText(s.LastID),
		MaxDeletedID: idText(s.MaxDeletedID),
		EntriesAdded: int64(s.EntriesAdded),
		FirstID:      idText(s.FirstID),
	}
	for _, e := range s.Entries {
		var f []string
		for _, b := range e.Fields {
			f = append(f, string(b))
		}
		st.Entries = append(st.Entries, e.ID.String()+" "+strings.Join(f, " "))
	}
	for _, g := range s.Groups {
		gs := groupState{Name: string(g.Name), LastID: idText(g.LastID), EntriesRead: g.EntriesRead}
		if g.EntriesRead < 0 {
			gs.EntriesRead = nil
		}
		pend := make(map[rdb.StreamID]rdb.StreamPending)
		for _, p := range g.Pending {
			if pendingRestorable(s, p) {
				gs.Pending = append(gs.Pending, fmt.Sprintf("%v %s %d %d", p.ID, p.Consumer, p.DeliveryTime, p.DeliveryCount))
				pend[p.ID] = p
			}
		}
		gs.PelCount = int64(len(gs.Pending))
		for _, c := range g.Consumers {
			var ids []string
			for _, id := range c.Pending {
				if p, ok := pend[id]; ok {
					ids = append(ids, fmt.Sprintf("%v %d %d", id, p.DeliveryTime, p.DeliveryCount))
				}
			}
			gs.Consumers = append(gs.Consumers, fmt.Sprintf("%s %d %v", c.Name, len(ids), ids))
		}
		st.Groups = append(st.Groups, gs)
	}
	return st
}

func compareStreams(t *testing.T, what string, got, want streamState, withLag bool) {
	t.Helper()
	if !withLag {
		for i := range got.Groups {
			got.Groups[i].Lag = nil
		}
		for i := range want.Groups {
			want.Groups[i].Lag = nil
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

// TestCommandPathStream rebuilds streams made by a real server (decoded
// from DUMP): deleted entries, two groups, consumers with and without
// pending entries, delivery counts, a pending entry whose entry was deleted,
// and empty streams with and without groups.
func TestCommandPathStream(t *testing.T) {
	srv := redistest.Start(t)
	do := func(args ...string) any { return srv.MustDo(t, args...) }

	// A stream with history.
	for i := 1; i <= 30; i++ {
		args := []string{"XADD", "s", fmt.Sprintf("%d-%d", 1000+i, i%3), "f", strconv.Itoa(i)}
		if i%4 == 0 {
			args = append(args, "bin\x00", string(binaryBytes()))
		}
		do(args...)
	}
	do("XDEL", "s", "1002-2", "1010-1", "1030-0") // the last one too: last id stays 1030-0
	do("XGROUP", "CREATE", "s", "g1", "0")
	do("XGROUP", "CREATE", "s", "g2", "1015-0")
	do("XREADGROUP", "GROUP", "g1", "alice", "COUNT", "5", "STREAMS", "s", ">")
	do("XREADGROUP", "GROUP", "g1", "bob", "COUNT", "3", "STREAMS", "s", ">")
	do("XREADGROUP", "GROUP", "g2", "carol", "COUNT", "4", "STREAMS", "s", ">")
	do("XGROUP", "CREATECONSUMER", "s", "g1", "idle-dave")
	// More deliveries of the same entries: higher counts, another owner.
	do("XCLAIM", "s", "g1", "bob", "0", "1001-1", "1003-0")
	do("XCLAIM", "s", "g1", "bob", "0", "1001-1")
	do("XACK", "s", "g1", "1004-1")
	// A pending entry whose entry is then deleted: XCLAIM cannot recreate it.
	do("XDEL", "s", "1005-2")

	s, ok := dumpValue(t, srv, "s").(*rdb.Stream)
	if !ok {
		t.Fatalf("DUMP s did not decode to a stream")
	}
	if n := unrestorablePending(s); n != 1 {
		t.Errorf("unrestorablePending = %d, want 1 (1005-2 was deleted)", n)
	}
	exp := time.Now().Add(time.Hour).UnixMilli()
	o := testOpts
	o.MaxBatchArgs = 2
	write(t, srv, "s2", s, exp, o)
	checkExpire(t, srv, "s2", exp)
	compareStreams(t, "rebuilt stream vs the value", readStream(t, srv, "s2"), expectedStream(s), false)
	// Against the source itself: the same lag and entries-read, once the
	// lost pending entry is taken out of the source's view.
	src := readStream(t, srv, "s")
	do("XACK", "s", "g1", "1005-2")
	srcFixed := readStream(t, srv, "s")
	if reflect.DeepEqual(src, srcFixed) {
		t.Errorf("XACK of the deleted pending entry changed nothing")
	}
	compareStreams(t, "rebuilt stream vs the source", readStream(t, srv, "s2"), srcFixed, true)

	// Empty stream, with a group and history (last id, max deleted id,
	// entries added) to keep.
	do("XADD", "e", "5-1", "x", "y")
	do("XADD", "e", "7-3", "x", "y")
	do("XGROUP", "CREATE", "e", "g", "0")
	do("XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "STREAMS", "e", ">")
	do("XDEL", "e", "5-1", "7-3")
	// Empty stream without group nor history.
	do("XGROUP", "CREATE", "e0", "tmpg", "$", "MKSTREAM")
	do("XGROUP", "DESTROY", "e0", "tmpg")
	for key, lost := range map[string]int{"e": 1, "e0": 0} {
		v := dumpValue(t, srv, key).(*rdb.Stream)
		if len(v.Entries) != 0 {
			t.Fatalf("%s has %d entries", key, len(v.Entries))
		}
		if n := unrestorablePending(v); n != lost {
			t.Errorf("%s: unrestorablePending = %d, want %d", key, n, lost)
		}
		if lost > 0 {
			do("XACK", key, "g", "5-1") // the pending entry of the deleted 5-1
		}
		write(t, srv, key+"2", v, 0, testOpts)
		if typ := srv.MustDo(t, "TYPE", key+"2"); typ != "stream" {
			t.Fatalf("TYPE %s2 = %v", key, typ)
		}
		compareStreams(t, key+": rebuilt vs the value", readStream(t, srv, key+"2"), expectedStream(v), false)
		compareStreams(t, key+": rebuilt vs the source", readStream(t, srv, key+"2"), readStream(t, srv, key), true)
	}

	// A target without the 7.0 stream arguments: no ENTRIESADDED,
	// MAXDELETEDID or ENTRIESREAD; entries and groups are the same.
	o = testOpts
	o.StreamV7 = false
	for _, c := range collectCommands(t, []byte("s3"), []byte("{s3}t"), s, 0, o) {
		for _, a := range c {
			if a == "ENTRIESADDED" || a == "MAXDELETEDID" || a == "ENTRIESREAD" {
				t.Errorf("StreamV7 off, yet %s", cmdText(c))
			}
		}
	}
	write(t, srv, "s3", s, 0, o)
	got, want := readStream(t, srv, "s3"), expectedStream(s)
	if got.EntriesAdded != int64(len(s.Entries)) {
		t.Errorf("without StreamV7 entries-added = %d, want %d (one per XADD)", got.EntriesAdded, len(s.Entries))
	}
	got.EntriesAdded, got.MaxDeletedID = want.EntriesAdded, want.MaxDeletedID
	for i := range got.Groups {
		got.Groups[i].EntriesRead = want.Groups[i].EntriesRead
	}
	compareStreams(t, "StreamV7 off", got, want, false)

	// A stream decoded from a pre-7.0 encoding has no counters: they are
	// left to the target (as when Redis 7 loads such a file).
	old := &rdb.Stream{
		Entries: []rdb.StreamEntry{{ID: rdb.StreamID{Ms: 9, Seq: 1}, Fields: [][]byte{[]byte("a"), []byte("b")}}},
		Length:  1, LastID: rdb.StreamID{Ms: 10},
		Groups: []rdb.StreamGroup{{Name: []byte("g"), LastID: rdb.StreamID{Ms: 9, Seq: 1}}},
	}
	for _, c := range collectCommands(t, []byte("old"), []byte("{old}t"), old, 0, testOpts) {
		if c[0] == "XSETID" && len(c) != 3 || c[0] == "XGROUP" && c[1] == "CREATE" && len(c) != 5 {
			t.Errorf("old-encoding stream: %s", cmdText(c))
		}
	}
	write(t, srv, "old", old, 0, testOpts)
	got = readStream(t, srv, "old")
	if got.LastID != "10-0" || got.EntriesAdded != 1 || got.MaxDeletedID != "0-0" || len(got.Groups) != 1 || got.Groups[0].LastID != "9-1" {
		t.Errorf("old-encoding stream rebuilt as %+v", got)
	}
}

// TestCommandPathCluster renames through temporary keys on cluster nodes:
// keys of every tempKey form are in the temporary key's slot (no CROSSSLOT).
func TestCommandPathCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a redis cluster")
	}
	c := redistest.StartCluster(t, 3)
	for _, key := range []string{"plain", "{tag}rest", "a}b", "{}x", "x{y", "}{", "", "{", "}", "{{}}", "\xff{\x00}"} {
		node := c.NodeForKey(key)
		tmp, ok := tempKey([]byte(key))
		if !ok {
			t.Fatalf("tempKey(%q) found no name", key)
		}
		cmds := collectCommands(t, []byte(key), tmp, rdb.Hash{{Field: []byte("f"), Value: []byte(key)}}, 0, testOpts)
		if r := apply(t, node, cmds); r != "OK" {
			t.Errorf("%q: RENAME answered %v", key, r)
		}
		if got := mustBytes(t, node.MustDo(t, "HGET", key, "f")); string(got) != key {
			t.Errorf("%q: HGET = %q", key, got)
		}
	}
}

// --- without a server ---

func TestTempKey(t *testing.T) {
	for _, tc := range []struct{ key, tmp string }{
		{"{tag}rest", "{tag}rest" + tmpSuffixTagged},
		{"plain", "{plain}" + tmpSuffixWrapped},
		{"a}b", "{" + keyslot.Tag(keyslot.SlotString("a}b")) + "}a}b" + tmpSuffixSlotTag},
		{"", "{" + keyslot.Tag(0) + "}" + tmpSuffixSlotTag},
	} {
		got, ok := tempKey([]byte(tc.key))
		if !ok || string(got) != tc.tmp {
			t.Errorf("tempKey(%q) = %q, %v; want %q", tc.key, got, ok, tc.tmp)
		}
	}

	r := rand.New(rand.NewSource(7))
	seen := make(map[string]string)
	keys := []string{"", "{", "}", "{}", "}{", "{{}}", "{}{}", "{a}", "a{}b{c}", "x\x00rdbferry-tmp-t"}
	for len(keys) < 10000 {
		b := make([]byte, r.Intn(20))
		for i := range b {
			switch r.Intn(5) {
			case 0:
				b[i] = "{}"[r.Intn(2)]
			case 1:
				b[i] = byte(r.Intn(256))
			default:
				b[i] = byte('a' + r.Intn(4))
			}
		}
		keys = append(keys, string(b))
	}
	for _, k := range keys {
		tmp, ok := tempKey([]byte(k))
		if !ok {
			t.Fatalf("tempKey(%q) found no name", k)
		}
		if keyslot.Slot(tmp) != keyslot.SlotString(k) {
			t.Fatalf("tempKey(%q) = %q in slot %d, key in slot %d", k, tmp, keyslot.Slot(tmp), keyslot.SlotString(k))
		}
		if string(tmp) == k {
			t.Fatalf("tempKey(%q) is the key itself", k)
		}
		if other, dup := seen[string(tmp)]; dup && other != k {
			t.Fatalf("tempKey(%q) = tempKey(%q) = %q", k, other, tmp)
		}
		seen[string(tmp)] = k
	}
}

func TestAppendScore(t *testing.T) {
	for _, tc := range []struct {
		f    float64
		want string
	}{
		{0, "0"}, {42, "42"}, {-7, "-7"}, {1 << 53, "9007199254740992"},
		{math.Inf(1), "+inf"}, {math.Inf(-1), "-inf"}, {0.1, "0.1"}, {1e-300, "1e-300"},
		{math.Copysign(0, -1), "-0"}, {1 << 63, "9.223372036854776e+18"},
	} {
		if got := string(appendScore(nil, tc.f)); got != tc.want {
			t.Errorf("appendScore(%v) = %q, want %q", tc.f, got, tc.want)
		}
	}
	r := rand.New(rand.NewSource(5))
	for i := 0; i < 100000; i++ {
		f := math.Float64frombits(r.Uint64())
		if i%2 == 0 {
			f = float64(r.Int63n(1<<54) - 1<<53)
		}
		if math.IsNaN(f) {
			continue
		}
		s := string(appendScore(nil, f))
		g, err := strconv.ParseFloat(s, 64)
		if err != nil || math.Float64bits(g) != math.Float64bits(f) {
			t.Fatalf("appendScore(%v) = %q parses as %v, %v", f, s, g, err)
		}
	}
}

// TestCommandBatchBounds checks on random values and options that no
// command passes MaxBatchArgs elements or MaxBatchBytes bytes unless it
// carries a single element, and that the elements come out complete and in
// order.
func TestCommandBatchBounds(t *testing.T) {
	r := rand.New(rand.NewSource(11))
	elem := func() []byte {
		n := r.Intn(40)
		if r.Intn(30) == 0 {
			n = 200 + r.Intn(300) // above MaxBatchBytes at times
		}
		b := make([]byte, n)
		r.Read(b)
		return b
	}
	for iter := 0; iter < 300; iter++ {
		o := commandOptions{
			MaxBatchArgs:  1 + r.Intn(20),
			MaxBatchBytes: 1 + r.Intn(300),
			MaxBulk:       1 << 20,
			Replace:       r.Intn(2) == 0,
			FieldTTLs:     true,
			StreamV7:      true,
		}
		n := 1 + r.Intn(200)
		var v rdb.Value
		var want [][]byte // the elements, flattened as emitted
		var ttlFields map[string]int64
		switch iter % 5 {
		case 0:
			var l rdb.List
			for i := 0; i < n; i++ {
				l = append(l, elem())
			}
			v, want = l, l
		case 1:
			var s rdb.Set
			for i := 0; i < n; i++ {
				s = append(s, elem())
			}
			v, want = s, s
		case 2:
			var z rdb.ZSet
			for i := 0; i < n; i++ {
				m := rdb.ZMember{Member: elem(), Score: r.NormFloat64() * 1e6}
				z = append(z, m)
				want = append(want, appendScore(nil, m.Score), m.Member)
			}
			v = z
		case 3:
			var h rdb.Hash
			ttlFields = make(map[string]int64)
			for i := 0; i < n; i++ {
				f := rdb.HashField{Field: append(elem(), byte(i), byte(i>>8)), Value: elem()}
				if r.Intn(2) == 0 {
					f.ExpireAt = 1e12 + int64(r.Intn(4))
					ttlFields[string(f.Field)] = f.ExpireAt
				}
				h = append(h, f)
				want = append(want, f.Field, f.Value)
			}
			v = h
		case 4:
			s := make(rdb.String, r.Intn(2000))
			r.Read(s)
			v, want = s, [][]byte{s}
		}
		key := []byte("k")
		tmp, _ := tempKey(key)
		cmds := collectCommands(t, key, tmp, v, 0, o)
		var got [][]byte
		var ttlGot = make(map[string]int64)
		lastMs := int64(-1)
		for _, c := range cmds {
			var items []string // the batch's elements
			per := 1           // arguments per element
			switch c[0] {
			case "RPUSH", "SADD":
				items = c[2:]
			case "ZADD", "HSET":
				items, per = c[2:], 2
			case "HPEXPIREAT":
				ms, _ := strconv.ParseInt(c[2], 10, 64)
				if cnt, _ := strconv.Atoi(c[4]); c[3] != "FIELDS" || cnt != len(c)-5 {
					t.Fatalf("iter %d: malformed %s", iter, cmdText(c))
				}
				if ms < lastMs {
					t.Errorf("iter %d: HPEXPIREAT times not ascending", iter)
				}
				lastMs = ms
				items = c[5:]
				for _, f := range items {
					ttlGot[f] = ms
				}
			case "SET", "APPEND":
				if len(c[2]) > o.MaxBatchBytes {
					t.Errorf("iter %d: %s of %d bytes > %d", iter, c[0], len(c[2]), o.MaxBatchBytes)
				}
				got = append(got, []byte(c[2]))
				continue
			default:
				continue
			}
			if c[1] != string(tmp) {
				t.Fatalf("iter %d: %s writes %q, not tmp", iter, cmdText(c), c[1])
			}
			if len(items) == 0 || len(items)%per != 0 {
				t.Fatalf("iter %d: %s has %d element arguments", iter, cmdText(c), len(items))
			}
			elems := len(items) / per
			size := 0
			for _, a := range items {
				size += len(a)
			}
			if elems > o.MaxBatchArgs {
				t.Errorf("iter %d: %s carries %d elements > %d", iter, c[0], elems, o.MaxBatchArgs)
			}
			if size > o.MaxBatchBytes && elems > 1 {
				t.Errorf("iter %d: %s carries %d elements of %d bytes > %d", iter, c[0], elems, size, o.MaxBatchBytes)
			}
			if c[0] != "HPEXPIREAT" {
				for _, a := range items {
					got = append(got, []byte(a))
				}
			}
		}
		if s, ok := v.(rdb.String); ok {
			want = [][]byte{s}
			got = [][]byte{bytes.Join(got, nil)}
		}
		if len(got) != len(want) {
			t.Fatalf("iter %d: %d element arguments emitted, want %d", iter, len(got), len(want))
		}
		for i := range want {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("iter %d: element argument %d differs", iter, i)
			}
		}
		if ttlFields != nil && !reflect.DeepEqual(ttlGot, ttlFields) {
			t.Errorf("iter %d: field TTLs emitted %v, want %v", iter, ttlGot, ttlFields)
		}
	}
}

// TestCommandPathXCLAIMBatches checks that pending entries with the same
// owner, delivery time and count share an XCLAIM, within MaxBatchArgs.
func TestCommandPathXCLAIMBatches(t *testing.T) {
	s := &rdb.Stream{LastID: rdb.StreamID{Ms: 100}, EntriesAdded: 100}
	g := rdb.StreamGroup{Name: []byte("g"), LastID: rdb.StreamID{Ms: 100}, EntriesRead: 100}
	for i := 1; i <= 100; i++ {
		id := rdb.StreamID{Ms: uint64(i)}
		s.Entries = append(s.Entries, rdb.StreamEntry{ID: id, Fields: [][]byte{[]byte("f"), []byte("v")}})
		if i <= 50 {
			owner := []byte("a")
			if i > 40 {
				owner = []byte("b")
			}
			g.Pending = append(g.Pending, rdb.StreamPending{ID: id, DeliveryTime: 5000, DeliveryCount: 2, Consumer: owner})
		}
	}
	g.Pending = append(g.Pending, rdb.StreamPending{ID: rdb.StreamID{Ms: 200}, DeliveryTime: 5000, DeliveryCount: 2, Consumer: []byte("b")}) // not in the stream
	g.Pending = append(g.Pending, rdb.StreamPending{ID: rdb.StreamID{Ms: 60}, DeliveryTime: 5000, DeliveryCount: 2})                         // no owner
	s.Groups = []rdb.StreamGroup{g}
	if n := unrestorablePending(s); n != 2 {
		t.Errorf("unrestorablePending = %d, want 2", n)
	}
	o := testOpts
	o.MaxBatchArgs = 15
	var claims []string
	for _, c := range collectCommands(t, []byte("s"), []byte("{s}t"), s, 0, o) {
		if c[0] == "XCLAIM" {
			tail := c[len(c)-6:]
			if !reflect.DeepEqual(tail, []string{"TIME", "5000", "RETRYCOUNT", "2", "FORCE", "JUSTID"}) {
				t.Errorf("XCLAIM tail %q", tail)
			}
			claims = append(claims, fmt.Sprintf("%s:%d", c[3], len(c)-5-6))
		}
	}
	if want := []string{"a:15", "a:15", "a:10", "b:10"}; !reflect.DeepEqual(claims, want) {
		t.Errorf("XCLAIM batches (owner:ids) %v, want %v", claims, want)
	}
}

func TestCommandPathErrors(t *testing.T) {
	small := testOpts
	small.MaxBulk = 10
	for _, tc := range []struct {
		name string
		v    rdb.Value
		exp  int64
		o    commandOptions
		want error
		msg  string // in the error text
	}{
		{"module", &rdb.Module{ID: 12345}, 0, testOpts, errNoCommandPath, "module"},
		{"cron", &rdb.Cron{}, 0, testOpts, errNoCommandPath, "cron"},
		{"nil", nil, 0, testOpts, errBadCommandValue, ""},
		{"big list element", rdb.List{[]byte("ok"), bytes.Repeat([]byte("x"), 11)}, 0, small, errArgTooLarge, "11 bytes"},
		{"big string", rdb.String(bytes.Repeat([]byte("x"), 11)), 0, small, errArgTooLarge, "string of 11 bytes"},
		{"big hash value", rdb.Hash{{Field: []byte("f"), Value: bytes.Repeat([]byte("x"), 11)}}, 0, small, errArgTooLarge, "hash value 0"},
		{"big stream field", &rdb.Stream{Entries: []rdb.StreamEntry{{ID: rdb.StreamID{Ms: 1}, Fields: [][]byte{[]byte("f"), bytes.Repeat([]byte("x"), 11)}}}, LastID: rdb.StreamID{Ms: 1}}, 0, small, errArgTooLarge, "stream entry 1-0"},
		{"field TTLs", rdb.Hash{{Field: []byte("f"), Value: []byte("v"), ExpireAt: 1}}, 0, testOpts, errFieldTTLs, "hash field 0"},
		{"NaN", rdb.ZSet{{Member: []byte("m"), Score: math.NaN()}}, 0, testOpts, errBadCommandValue, "NaN"},
		{"empty list", rdb.List{}, 0, testOpts, errEmptyValue, "list"},
		{"empty hash", rdb.Hash{}, 0, testOpts, errEmptyValue, "hash"},
		{"entry without fields", &rdb.Stream{Entries: []rdb.StreamEntry{{ID: rdb.StreamID{Ms: 1}}}, LastID: rdb.StreamID{Ms: 1}}, 0, testOpts, errBadCommandValue, "1-0"},
		{"entries out of order", &rdb.Stream{Entries: []rdb.StreamEntry{
			{ID: rdb.StreamID{Ms: 2}, Fields: [][]byte{[]byte("a"), []byte("b")}},
			{ID: rdb.StreamID{Ms: 1}, Fields: [][]byte{[]byte("a"), []byte("b")}}}, LastID: rdb.StreamID{Ms: 2}}, 0, testOpts, errBadCommandValue, "1-0"},
		{"last id below entries", &rdb.Stream{Entries: []rdb.StreamEntry{{ID: rdb.StreamID{Ms: 2}, Fields: [][]byte{[]byte("a"), []byte("b")}}}}, 0, testOpts, errBadCommandValue, "last id"},
		{"negative expiration", rdb.String("x"), -5, testOpts, errBadCommandValue, "-5"},
	} {
		key := []byte("the\x00key")
		cmds, err := tryCommands(key, []byte("{x}t"), tc.v, tc.exp, tc.o)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: error %v, want %v", tc.name, err, tc.want)
			continue
		}
		if len(cmds) != 0 {
			t.Errorf("%s: %d commands emitted before the error", tc.name, len(cmds))
		}
		if msg := err.Error(); !strings.Contains(msg, `"the\x00key"`) || !strings.Contains(msg, tc.msg) {
			t.Errorf("%s: error %q does not name the key and %q", tc.name, msg, tc.msg)
		}
	}
	// emit's error stops the run and is returned as is.
	boom := errors.New("boom")
	calls := 0
	err := valueCommands([]byte("k"), []byte("{k}t"), rdb.List{[]byte("a"), []byte("b")}, 0, commandOptions{MaxBatchArgs: 1}, func([][]byte) error {
		calls++
		if calls == 2 {
			return boom
		}
		return nil
	})
	if err != boom || calls != 2 {
		t.Errorf("emit failing on call 2: %v after %d calls", err, calls)
	}
}

// TestCommandPathFieldTTLCommands checks the HPEXPIREAT commands (the test
// server, Redis 7.0, has no hash field TTLs to run them).
func TestCommandPathFieldTTLCommands(t *testing.T) {
	h := rdb.Hash{
		{Field: []byte("a"), Value: []byte("1"), ExpireAt: 2000},
		{Field: []byte("b"), Value: []byte("2")},
		{Field: []byte("c"), Value: []byte("3"), ExpireAt: 1000},
		{Field: []byte("d"), Value: []byte("4"), ExpireAt: 2000},
		{Field: []byte("e"), Value: []byte("5"), ExpireAt: 2000},
	}
	o := testOpts
	o.FieldTTLs = true
	o.MaxBatchArgs = 2
	var got []string
	for _, c := range collectCommands(t, []byte("h"), []byte("{h}t"), h, 3000, o) {
		got = append(got, strings.Join(c, " "))
	}
	want := []string{
		"DEL {h}t",
		"HSET {h}t a 1 b 2",
		"HSET {h}t c 3 d 4",
		"HSET {h}t e 5",
		"HPEXPIREAT {h}t 1000 FIELDS 1 c",
		"HPEXPIREAT {h}t 2000 FIELDS 2 a d",
		"HPEXPIREAT {h}t 2000 FIELDS 1 e",
		"PEXPIREAT {h}t 3000",
		"RENAME {h}t h",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("commands:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
