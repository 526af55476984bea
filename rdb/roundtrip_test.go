package rdb_test

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/rdbferry/rdbferry/internal/redistest"
	"github.com/rdbferry/rdbferry/rdb"
)

// TestRoundTripThroughRealServer writes known values into a real
// redis-server with commands — each kind in its compact and its large
// encoding — saves, and checks the Reader's view of the file key by key
// against the values written.
func TestRoundTripThroughRealServer(t *testing.T) {
	srv := redistest.Start(t)
	type want struct {
		kind     rdb.Kind
		value    string // canonical, as render gives it
		expireAt int64
	}
	expected := map[string]want{}
	do := func(args ...string) { srv.MustDo(t, args...) }
	seq := func(prefix string, n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = prefix + strconv.Itoa(i)
		}
		return out
	}
	// Strings: raw, int-encoded, LZF-compressible, binary, with a TTL.
	for k, v := range map[string]string{"s:raw": "hello", "s:int": "-12345", "s:big": strings.Repeat("abc", 1000), "s:bin": "\x00\xff\r\n", "s:empty": ""} {
		do("SET", k, v)
		expected[k] = want{rdb.KindString, v, 0}
	}
	do("PEXPIREAT", "s:raw", "4102444800123")
	expected["s:raw"] = want{rdb.KindString, "hello", 4102444800123}
	// Lists, sets, sorted sets and hashes, small (listpack/intset) and large.
	for _, n := range []int{3, 1000} {
		items := seq("item", n)
		do(append([]string{"RPUSH", "l:" + strconv.Itoa(n)}, items...)...)
		expected["l:"+strconv.Itoa(n)] = want{rdb.KindList, strings.Join(items, ","), 0}

		ints := seq("", n)
		do(append([]string{"SADD", "si:" + strconv.Itoa(n)}, ints...)...)
		sort.Strings(ints)
		expected["si:"+strconv.Itoa(n)] = want{rdb.KindSet, strings.Join(ints, ","), 0}

		members := seq("m", n)
		do(append([]string{"SADD", "ss:" + strconv.Itoa(n)}, members...)...)
		sorted := append([]string(nil), members...)
		sort.Strings(sorted)
		expected["ss:"+strconv.Itoa(n)] = want{rdb.KindSet, strings.Join(sorted, ","), 0}

		zargs := []string{"ZADD", "z:" + strconv.Itoa(n)}
		var zwant []string
		for i, m := range members {
			score := float64(i)*1.25 - 3
			zargs = append(zargs, strconv.FormatFloat(score, 'g', -1, 64), m)
			zwant = append(zwant, m+"="+strconv.FormatFloat(score, 'g', -1, 64))
		}
		do(zargs...)
		expected["z:"+strconv.Itoa(n)] = want{rdb.KindZSet, strings.Join(zwant, ","), 0}

		hargs := []string{"HSET", "h:" + strconv.Itoa(n)}
		var hwant []string
		for i, f := range seq("f", n) {
			hargs = append(hargs, f, strconv.Itoa(i*7))
			hwant = append(hwant, f+"="+strconv.Itoa(i*7))
		}
		do(hargs...)
		sort.Strings(hwant)
		expected["h:"+strconv.Itoa(n)] = want{rdb.KindHash, strings.Join(hwant, ","), 0}
	}
	do("ZADD", "z:inf", "+inf", "top", "-inf", "bottom")
	expected["z:inf"] = want{rdb.KindZSet, "bottom=-Inf,top=+Inf", 0}
	// A stream with a deleted entry and a consumer group with a pending entry.
	do("XADD", "x", "1-1", "a", "1")
	do("XADD", "x", "2-1", "b", "2")
	do("XADD", "x", "3-1", "c", "3")
	do("XDEL", "x", "2-1")
	do("XGROUP", "CREATE", "x", "g", "0")
	do("XREADGROUP", "GROUP", "g", "alice", "COUNT", "1", "STREAMS", "x", ">")
	expected["x"] = want{rdb.KindStream, "1-1[a 1];3-1[c 3];group g last 1-1 pending 1-1 alice", 0}

	data, err := os.ReadFile(srv.Save(t))
	if err != nil {
		t.Fatal(err)
	}
	r := rdb.NewReader(bytes.NewReader(data))
	seen := 0
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		k, ok := rec.(*rdb.Key)
		if !ok {
			continue
		}
		w, ok := expected[string(k.Key)]
		if !ok {
			t.Errorf("unexpected key %q", k.Key)
			continue
		}
		seen++
		v, err := k.Value()
		if err != nil {
			t.Fatalf("key %q: %v", k.Key, err)
		}
		if got := render(v); v.Kind() != w.kind || got != w.value || k.ExpireAt != w.expireAt {
			t.Errorf("key %q (%v): %v %.200q expires %d; want %v %.200q expires %d", k.Key, k.Type, v.Kind(), got, k.ExpireAt, w.kind, w.value, w.expireAt)
		}
	}
	if seen != len(expected) {
		t.Errorf("%d keys read, want %d", seen, len(expected))
	}
}

// render gives a value in the form the test's expectations use.
func render(v rdb.Value) string {
	var parts []string
	switch v := v.(type) {
	case rdb.String:
		return string(v)
	case rdb.List:
		for _, s := range v {
			parts = append(parts, string(s))
		}
		return strings.Join(parts, ",")
	case rdb.Set:
		for _, s := range v {
			parts = append(parts, string(s))
		}
		sort.Strings(parts)
	case rdb.ZSet:
		z := append(rdb.ZSet(nil), v...)
		sort.SliceStable(z, func(i, j int) bool { return z[i].Score < z[j].Score })
		for _, m := range z {
			s := strconv.FormatFloat(m.Score, 'g', -1, 64)
			if math.IsInf(m.Score, 1) {
				s = "+Inf"
			}
			parts = append(parts, string(m.Member)+"="+s)
		}
		return strings.Join(parts, ",")
	case rdb.Hash:
		for _, f := range v {
			parts = append(parts, string(f.Field)+"="+string(f.Value))
		}
		sort.Strings(parts)
	case *rdb.Stream:
		for _, e := range v.Entries {
			parts = append(parts, fmt.Sprintf("%v%s", e.ID, fmt.Sprintf("%s", e.Fields)))
		}
		for _, g := range v.Groups {
			s := fmt.Sprintf("group %s last %v", g.Name, g.LastID)
			for _, p := range g.Pending {
				s += fmt.Sprintf(" pending %v %s", p.ID, p.Consumer)
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, ";")
	}
	return strings.Join(parts, ",")
}
