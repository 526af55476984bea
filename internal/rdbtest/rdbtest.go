// Package rdbtest has helpers for tests that compare datasets: the corpus
// location, and canonical renderings of decoded values and whole files.
package rdbtest

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rdbferry/rdbferry/rdb"
)

// CorpusLocation returns the shared corpus of real RDB files — $RDB_CORPUS,
// or shared/corpus beside the repository — or "" when there is none.
var CorpusLocation = sync.OnceValue(func() string {
	isDir := func(p string) bool {
		fi, err := os.Stat(p)
		return err == nil && fi.IsDir()
	}
	if d := os.Getenv("RDB_CORPUS"); d != "" && isDir(d) {
		return d
	}
	// The repository root is the first directory upwards holding go.mod.
	_, file, _, _ := runtime.Caller(0)
	for dir := filepath.Dir(file); ; {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			if c := filepath.Join(dir, "..", "shared", "corpus"); isDir(c) {
				return c
			}
			return ""
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
})

// CorpusDir returns the corpus directory, or skips the test when there is
// none.
func CorpusDir(t testing.TB) string {
	t.Helper()
	d := CorpusLocation()
	if d == "" {
		t.Skip("RDB corpus not found: set RDB_CORPUS or put shared/corpus beside the repository")
	}
	return d
}

// Canonical renders a decoded value so that two encodings of the same data
// compare equal: sets and hashes sorted, sorted sets in rank order, hash
// field TTLs included only when withTTLs is set.
func Canonical(v rdb.Value, withTTLs bool) string {
	var b strings.Builder
	switch v := v.(type) {
	case rdb.String:
		fmt.Fprintf(&b, "string %q", []byte(v))
	case rdb.List:
		fmt.Fprintf(&b, "list %q", [][]byte(v))
	case rdb.Set:
		ms := make([]string, len(v))
		for i, m := range v {
			ms[i] = string(m)
		}
		sort.Strings(ms)
		fmt.Fprintf(&b, "set %q", ms)
	case rdb.ZSet:
		z := append(rdb.ZSet(nil), v...)
		sort.SliceStable(z, func(i, j int) bool {
			if z[i].Score != z[j].Score {
				return z[i].Score < z[j].Score
			}
			return string(z[i].Member) < string(z[j].Member)
		})
		b.WriteString("zset")
		for _, m := range z {
			fmt.Fprintf(&b, " %q=%v", m.Member, m.Score)
		}
	case rdb.Hash:
		fs := make([]string, len(v))
		for i, f := range v {
			fs[i] = fmt.Sprintf("%q=%q", f.Field, f.Value)
			if withTTLs && f.ExpireAt != 0 {
				fs[i] += "@" + strconv.FormatInt(f.ExpireAt, 10)
			}
		}
		sort.Strings(fs)
		fmt.Fprintf(&b, "hash %s", fs)
	case *rdb.Stream:
		fmt.Fprintf(&b, "stream len=%d last=%v", v.Length, v.LastID)
		for _, e := range v.Entries {
			fmt.Fprintf(&b, " %v%q", e.ID, e.Fields)
		}
		for _, g := range v.Groups {
			fmt.Fprintf(&b, " group %q last=%v", g.Name, g.LastID)
			for _, p := range g.Pending {
				fmt.Fprintf(&b, " pel %v %q %d %d", p.ID, p.Consumer, p.DeliveryCount, p.DeliveryTime)
			}
			for _, c := range g.Consumers {
				fmt.Fprintf(&b, " consumer %q %v", c.Name, c.Pending)
			}
		}
	case *rdb.Module:
		fmt.Fprintf(&b, "module %d %x", v.ID, v.Raw)
	default:
		fmt.Fprintf(&b, "%T %v", v, v)
	}
	return b.String()
}

// Entry is a key's canonical value and expiration.
type Entry struct {
	Value    string
	ExpireAt int64
}

// Contents reads an RDB file into canonical entries by "db/key".
func Contents(t testing.TB, data []byte, withTTLs bool) map[string]Entry {
	t.Helper()
	r := rdb.NewReader(bytes.NewReader(data))
	out := map[string]Entry{}
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("reading RDB: %v", err)
		}
		k, ok := rec.(*rdb.Key)
		if !ok {
			continue
		}
		v, err := k.Value()
		if err != nil {
			t.Fatalf("key %q: %v", k.Key, err)
		}
		out[Name(k.DB, k.Key)] = Entry{Canonical(v, withTTLs), k.ExpireAt}
	}
}

// Live returns the entries of an RDB file that a server loading it now
// would keep: those not yet expired and not empty.
func Live(t testing.TB, data []byte, withTTLs bool) map[string]Entry {
	t.Helper()
	out := Contents(t, data, withTTLs)
	now := time.Now().UnixMilli()
	for k, e := range out {
		if e.ExpireAt != 0 && e.ExpireAt <= now || isEmpty(e.Value) {
			delete(out, k)
		}
	}
	return out
}

func isEmpty(v string) bool {
	switch v {
	case "list []", "set []", "zset", "hash []":
		return true
	}
	return false
}

// Name is the map key of Contents: "db/key".
func Name(db int, key []byte) string { return strconv.Itoa(db) + "/" + string(key) }

// Compare reports every difference between got and want.
func Compare(t testing.TB, got, want map[string]Entry) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%d keys, want %d", len(got), len(want))
	}
	n := 0
	for k, w := range want {
		g, ok := got[k]
		switch {
		case !ok:
			t.Errorf("key %q missing", k)
		case g.Value != w.Value:
			t.Errorf("key %q:\n got %.300s\nwant %.300s", k, g.Value, w.Value)
		case g.ExpireAt != w.ExpireAt:
			t.Errorf("key %q: expires at %d, want %d", k, g.ExpireAt, w.ExpireAt)
		default:
			continue
		}
		if n++; n > 20 {
			t.Fatal("too many differences")
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected key %q", k)
		}
	}
}
