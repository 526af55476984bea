package transfer

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/rdbferry/rdbferry/internal/rdbtest"
	"github.com/rdbferry/rdbferry/internal/redistest"
	"github.com/rdbferry/rdbferry/rdb"
	"github.com/rdbferry/rdbferry/restore"
)

func corpusPath(t *testing.T, rel string) string {
	t.Helper()
	return filepath.Join(rdbtest.CorpusDir(t), rel)
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkAccounting asserts that every key read is accounted for.
func checkAccounting(t *testing.T, st Stats) {
	t.Helper()
	if st.KeysRead != st.KeysWritten+st.KeysFiltered+st.KeysSkipped+st.KeysFailed {
		t.Errorf("accounting: %+v", st)
	}
}

func TestFileToServerWithFilters(t *testing.T) {
	src := corpusPath(t, "modern/redis-7.4.1.rdb")
	srv := redistest.Start(t)
	w, err := restore.Dial(context.Background(), srv.URL(), restore.Options{Existing: restore.ExistingReplace})
	if err != nil {
		t.Fatal(err)
	}
	st, err := Run(context.Background(), File(src), Server(w),
		DB(0, 2), MapDB(2, 5), Match("hash:*"), Match("db2:*"), Exclude("*:ttl"), Types(rdb.KindHash, rdb.KindString))
	if err != nil {
		t.Fatal(err)
	}
	checkAccounting(t, st)
	want := map[string]rdbtest.Entry{}
	for name, e := range rdbtest.Live(t, readFile(t, src), false) {
		db, key, _ := strings.Cut(name, "/")
		kind := strings.Fields(e.Value)[0]
		if (db == "0" && strings.HasPrefix(key, "hash:") || db == "2" && strings.HasPrefix(key, "db2:")) &&
			!strings.HasSuffix(key, ":ttl") && (kind == "hash" || kind == "string") {
			if db == "2" {
				name = "5/" + key
			}
			want[name] = e
		}
	}
	if len(want) < 4 || st.KeysWritten != int64(len(want)) || st.KeysFailed != 0 {
		t.Fatalf("stats %+v, want %d written", st, len(want))
	}
	got := rdbtest.Contents(t, readFile(t, srv.Save(t)), false)
	rdbtest.Compare(t, got, want)
	if st.Source.Version != 12 || st.BytesRead != int64(len(readFile(t, src))) {
		t.Errorf("source info %+v, bytes %d", st.Source, st.BytesRead)
	}
}

// TestFileToCompressedFiles rewrites a file for Redis 6.2 (RDB 9) through
// every compression, then reads each back through File.
func TestFileToCompressedFiles(t *testing.T) {
	src := corpusPath(t, "modern/valkey-8.0.1.rdb")
	want := rdbtest.Contents(t, readFile(t, src), true)
	for _, ext := range []string{".rdb", ".rdb.gz", ".rdb.zst", ".rdb.lz4"} {
		t.Run(ext, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out"+ext)
			st, err := Run(context.Background(), File(src), ToFile(out, FileOptions{Target: rdb.Target{Flavor: rdb.FlavorRedis, Version: 9}}))
			if err != nil {
				t.Fatal(err)
			}
			checkAccounting(t, st)
			if st.KeysWritten != int64(len(want)) || st.KeysConverted == 0 || st.RecordsDropped != 1 { // the function library
				t.Errorf("stats %+v", st)
			}
			if want := streamMetaLosses(t, src, rdb.Target{Flavor: rdb.FlavorRedis, Version: 9}); st.StreamMetaDropped != want || want == 0 {
				t.Errorf("StreamMetaDropped %d, want %d (and more than 0)", st.StreamMetaDropped, want)
			}
			data := readFile(t, out)
			if ext != ".rdb" && bytes.HasPrefix(data, []byte("REDIS")) {
				t.Fatal("output not compressed")
			}
			var buf bytes.Buffer
			if _, err := Run(context.Background(), File(out), ToWriter(&buf, FileOptions{})); err != nil {
				t.Fatalf("reading back: %v", err)
			}
			if !bytes.HasPrefix(buf.Bytes(), []byte("REDIS0009")) {
				t.Fatalf("header %q", buf.Bytes()[:9])
			}
			rdbtest.Compare(t, rdbtest.Contents(t, buf.Bytes(), true), want)
		})
	}
}

// streamMetaLosses returns how many keys of the file lose stream metadata
// when converted for t, asking rdb.Convert key by key.
func streamMetaLosses(t *testing.T, path string, target rdb.Target) int64 {
	t.Helper()
	r := rdb.NewReader(bytes.NewReader(readFile(t, path)))
	var n int64
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return n
		}
		if err != nil {
			t.Fatal(err)
		}
		if k, ok := rec.(*rdb.Key); ok {
			c, err := rdb.Convert(k, target, rdb.ConvertOptions{}, nil)
			if err == nil && c.StreamMetaDropped {
				n++
			}
		}
	}
}

// TestStreamMetaLossCounted: streams of Redis 7.4 written into 7.0 lose
// what 7.0's encoding lacks; Run's Stats say how many.
func TestStreamMetaLossCounted(t *testing.T) {
	src := corpusPath(t, "modern/redis-7.4.1.rdb")
	srv := redistest.Start(t)
	w, err := restore.Dial(context.Background(), srv.URL(), restore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := Run(context.Background(), File(src), Server(w), Types(rdb.KindStream))
	if err != nil {
		t.Fatal(err)
	}
	checkAccounting(t, st)
	target, err := rdb.TargetFor(rdb.FlavorRedis, "7.0.15")
	if err != nil {
		t.Fatal(err)
	}
	want := streamMetaLosses(t, src, target)
	if st.KeysWritten == 0 || st.StreamMetaDropped != want || want == 0 {
		t.Fatalf("stats %+v: want %d streams counted as losing metadata (and more than 0)", st, want)
	}
}

// TestKeyDBFileStripped rewrites a KeyDB file with member expirations for
// Redis 7.0; the result loads into a real redis-server 7.0.
func TestKeyDBFileStripped(t *testing.T) {
	src := corpusPath(t, "keydb/keydb-expiremember.rdb")
	out := filepath.Join(t.TempDir(), "stripped.rdb")
	st, err := Run(context.Background(), File(src), ToFile(out, FileOptions{Target: rdb.Target{Flavor: rdb.FlavorRedis, Version: 10}}))
	if err != nil {
		t.Fatal(err)
	}
	checkAccounting(t, st)
	if st.MemberExpiresStripped == 0 || st.KeysFailed != 0 {
		t.Fatalf("stats %+v", st)
	}
	srv := redistest.Start(t, redistest.WithRDB(out))
	rdbtest.Compare(t, rdbtest.Contents(t, readFile(t, srv.Save(t)), false), rdbtest.Live(t, readFile(t, src), false))
}

func TestTruncatedSourceLeavesNoFile(t *testing.T) {
	data := readFile(t, corpusPath(t, "modern/redis-7.0.15-debian.rdb"))
	out := filepath.Join(t.TempDir(), "out.rdb")
	_, err := Run(context.Background(), FromReader(bytes.NewReader(data[:len(data)/2]), "stdin"), ToFile(out, FileOptions{}))
	var fe *rdb.FormatError
	if !errors.As(err, &fe) || !errors.Is(err, io.ErrUnexpectedEOF) || !strings.Contains(err.Error(), "stdin") {
		t.Fatalf("err = %v", err)
	}
	entries, _ := os.ReadDir(filepath.Dir(out))
	if len(entries) != 0 {
		t.Errorf("left behind: %v", entries)
	}
}

// TestTruncatedSourceLeavesIncompleteStream: ToWriter cannot take back
// what it wrote, but what it leaves must not read as a complete snapshot.
func TestTruncatedSourceLeavesIncompleteStream(t *testing.T) {
	data := readFile(t, corpusPath(t, "modern/redis-7.0.15-debian.rdb"))
	var out bytes.Buffer
	if _, err := Run(context.Background(), FromReader(bytes.NewReader(data[:len(data)/2]), "stdin"), ToWriter(&out, FileOptions{})); err == nil {
		t.Fatal("Run of a truncated source succeeded")
	}
	r := rdb.NewReader(bytes.NewReader(out.Bytes()))
	for {
		_, err := r.Next()
		if err == io.EOF {
			t.Fatalf("the %d bytes written for a failed transfer read as a complete RDB file", out.Len())
		}
		if err != nil {
			return
		}
	}
}

// TestMapDBIntoFile: databases remapped by MapDB land in the remapped
// database of a written file, not in the source's.
func TestMapDBIntoFile(t *testing.T) {
	src := corpusPath(t, "modern/redis-7.4.1.rdb")
	var out bytes.Buffer
	st, err := Run(context.Background(), File(src), ToWriter(&out, FileOptions{}), DB(0), MapDB(0, 5))
	if err != nil {
		t.Fatal(err)
	}
	checkAccounting(t, st)
	want := map[string]rdbtest.Entry{}
	for name, e := range rdbtest.Contents(t, readFile(t, src), true) {
		if db, key, _ := strings.Cut(name, "/"); db == "0" {
			want["5/"+key] = e
		}
	}
	if len(want) == 0 || st.KeysWritten != int64(len(want)) {
		t.Fatalf("stats %+v, want %d keys of db 0 written", st, len(want))
	}
	rdbtest.Compare(t, rdbtest.Contents(t, out.Bytes(), true), want)
}

// TestServerSinkCountsModuleAux: module aux data, which no server accepts
// over the wire, is counted as dropped, not passed over in silence.
func TestServerSinkCountsModuleAux(t *testing.T) {
	srv := redistest.Start(t)
	w, err := restore.Dial(context.Background(), srv.URL(), restore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := Run(context.Background(), File(corpusPath(t, "rdbtools-dumps/redis_60_with_module_aux.rdb")), Server(w))
	if err != nil {
		t.Fatal(err)
	}
	if st.RecordsDropped != 1 {
		t.Fatalf("RecordsDropped %d, want 1 (the module aux record): %+v", st.RecordsDropped, st)
	}
}

func TestCancelledRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var buf bytes.Buffer
	_, err := Run(ctx, File(corpusPath(t, "modern/redis-7.0.15-debian.rdb")), ToWriter(&buf, FileOptions{}))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

func TestRegexPrefixRename(t *testing.T) {
	var buf bytes.Buffer
	st, err := Run(context.Background(), File(corpusPath(t, "modern/redis-7.0.15-debian.rdb")), ToWriter(&buf, FileOptions{}),
		Regex(regexp.MustCompile(`^list:`)), Prefix("set:int"), ExcludeRegex(regexp.MustCompile(`ttl$`)), ExcludePrefix("set:int64"),
		Rename(func(k []byte) []byte { return append([]byte("moved:"), k...) }))
	if err != nil {
		t.Fatal(err)
	}
	checkAccounting(t, st)
	var keys []string
	for name := range rdbtest.Contents(t, buf.Bytes(), false) {
		keys = append(keys, name)
	}
	sort.Strings(keys)
	want := []string{"0/moved:list:ints", "0/moved:list:large", "0/moved:list:plain", "0/moved:list:small", "0/moved:set:int16", "0/moved:set:int32"}
	if strings.Join(keys, " ") != strings.Join(want, " ") {
		t.Errorf("keys %v, want %v", keys, want)
	}
}

// TestGlobMatchesRedis compares GlobMatch with KEYS on a real server.
func TestGlobMatchesRedis(t *testing.T) {
	srv := redistest.Start(t)
	keys := []string{"", "a", "b", "ab", "abc", "a*c", "a?c", "a[c", "a]c", "a\\c", "hello", "hallo", "hxllo", "heeeello",
		"user:1", "user:10", "user:{1}", "x-y", "^", "a^b", "[", "]", "\\", "*", "?", "aaa", "aXbXc"}
	for _, k := range keys {
		srv.MustDo(t, "SET", k, "v")
	}
	patterns := []string{"*", "a*", "*c", "a?c", "h[ae]llo", "h[^e]llo", "h[a-b]llo", "h[b-a]llo", "a\\*c", "a\\?c", "a[\\[]c",
		"a[]c", "[", "a[", "a[c", "\\", "*\\", "user:?", "user:*", "user:{*}", "[^a]*", "a*b*c", "**", "?*", "*?", "[\\]]",
		"[a-", "[^", "a[^]c", "e*", "h*o", "h*l*o", "*[", "x[-]y", "x[a-]y"}
	for _, p := range patterns {
		reply := srv.MustDo(t, "KEYS", p)
		var server []string
		for _, k := range reply.([]any) {
			server = append(server, string(k.([]byte)))
		}
		var ours []string
		for _, k := range keys {
			if GlobMatch([]byte(p), []byte(k)) || p == "*" {
				ours = append(ours, k) // KEYS * lists every key without matching
			}
		}
		sort.Strings(server)
		sort.Strings(ours)
		if strings.Join(server, "|") != strings.Join(ours, "|") {
			t.Errorf("pattern %q: redis %q, ours %q", p, server, ours)
		}
	}
}
