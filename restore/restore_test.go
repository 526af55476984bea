package restore

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/rdbferry/rdbferry/internal/rdbtest"
	"github.com/rdbferry/rdbferry/internal/redistest"
	"github.com/rdbferry/rdbferry/rdb"
)

// writeFile writes every key of an RDB file through w and closes it.
func writeFile(t *testing.T, w *Writer, data []byte) Stats {
	t.Helper()
	ctx := context.Background()
	r := rdb.NewReader(bytes.NewReader(data))
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if k, ok := rec.(*rdb.Key); ok {
			if err := w.Write(ctx, k); err != nil {
				t.Fatalf("Write %q: %v", k.Key, err)
			}
		}
	}
	st, err := w.Close(ctx)
	if err != nil {
		t.Fatalf("Close: %v", err)
	}
	return st
}

func corpusFile(t *testing.T, rel string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(rdbtest.CorpusDir(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// serverContents saves the server's dataset and reads it back.
func serverContents(t *testing.T, srv *redistest.Server, withTTLs bool) map[string]rdbtest.Entry {
	t.Helper()
	data, err := os.ReadFile(srv.Save(t))
	if err != nil {
		t.Fatal(err)
	}
	return rdbtest.Contents(t, data, withTTLs)
}

// TestWriteCorpusFiles restores files of every kind of server into Debian's
// redis-server 7.0 and compares what it then holds with the source.
func TestWriteCorpusFiles(t *testing.T) {
	for _, rel := range []string{
		"modern/redis-7.4.1.rdb", "modern/redis-8.0-m01-lfu.rdb", "modern/valkey-8.0.1.rdb", "modern/redis-7.0.15-debian-lru.rdb",
		"legacy/redis-2.8.24.rdb", "legacy/redis-6.2.16.rdb", "keydb/keydb-expiremember.rdb",
		"hdt3213-cases/valkey_hash2_with_hfe.rdb",
	} {
		t.Run(rel, func(t *testing.T) {
			data := corpusFile(t, rel)
			srv := redistest.Start(t)
			w, err := Dial(context.Background(), srv.URL(), Options{Existing: ExistingReplace, KeepLRU: true})
			if err != nil {
				t.Fatal(err)
			}
			if w.Info().Target != (rdb.Target{Flavor: rdb.FlavorRedis, Version: 10}) || w.Info().Cluster {
				t.Fatalf("server info %+v", w.Info())
			}
			st := writeFile(t, w, data)
			want := rdbtest.Live(t, data, false)
			if st.Failed != 0 || st.Written != int64(len(want)) {
				t.Errorf("stats %+v, want %d written; failures %v", st, len(want), w.Failures())
			}
			rdbtest.Compare(t, serverContents(t, srv, false), want)
			wantTTLs := fieldTTLsDropped(t, data, w.Info().Target)
			if st.FieldTTLsDropped != wantTTLs || (rel == "modern/redis-7.4.1.rdb" && wantTTLs == 0) {
				t.Errorf("FieldTTLsDropped %d, want %d (as rdb.Convert counts them key by key)", st.FieldTTLsDropped, wantTTLs)
			}
		})
	}
}

// fieldTTLsDropped returns the hash field TTLs that converting the keys of
// data still alive for target drops, asking rdb.Convert key by key.
func fieldTTLsDropped(t *testing.T, data []byte, target rdb.Target) int64 {
	t.Helper()
	now := time.Now().UnixMilli()
	r := rdb.NewReader(bytes.NewReader(data))
	var n int64
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return n
		}
		if err != nil {
			t.Fatal(err)
		}
		if k, ok := rec.(*rdb.Key); ok && (k.ExpireAt == 0 || k.ExpireAt > now) {
			if c, err := rdb.Convert(k, target, rdb.ConvertOptions{}, nil); err == nil {
				n += int64(c.FieldTTLsDropped)
			}
		}
	}
}

func TestExistingKeys(t *testing.T) {
	srv := redistest.Start(t)
	k := &rdb.Key{Key: []byte("k"), Type: rdb.TypeString, Raw: []byte("\x03new"), Idle: -1, Freq: -1, Version: 10}
	for _, tc := range []struct {
		policy  ExistingPolicy
		want    string
		written int64
		skipped int64
		failed  int64
	}{
		{ExistingFail, "old", 0, 0, 1},
		{ExistingSkip, "old", 0, 1, 0},
		{ExistingReplace, "new", 1, 0, 0},
	} {
		for _, path := range []CommandPathPolicy{CommandPathAuto, CommandPathAlways} {
			srv.MustDo(t, "SET", "k", "old")
			w, err := Dial(context.Background(), srv.URL(), Options{Existing: tc.policy, CommandPath: path})
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Write(context.Background(), k); err != nil {
				t.Fatal(err)
			}
			st, err := w.Close(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			got, _ := srv.Do("GET", "k")
			if string(got.([]byte)) != tc.want || st.Written != tc.written || st.SkippedExisting != tc.skipped || st.Failed != tc.failed {
				t.Errorf("policy %d path %d: value %q, stats %+v", tc.policy, path, got, st)
			}
			if tc.failed > 0 {
				f := w.Failures()
				if len(f) != 1 || !bytes.Equal(f[0].Key, []byte("k")) || f[0].Node == "" || f[0].Reply == "" {
					t.Errorf("failures %+v", f)
				}
			}
			if keys := srv.MustDo(t, "KEYS", "*"); len(keys.([]any)) != 1 {
				t.Errorf("keys left: %q", keys)
			}
		}
	}
}

func TestExpiredKeysAreSkipped(t *testing.T) {
	srv := redistest.Start(t)
	w, err := Dial(context.Background(), srv.URL(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	past := &rdb.Key{Key: []byte("gone"), Type: rdb.TypeString, Raw: []byte("\x01v"), ExpireAt: time.Now().Add(-time.Hour).UnixMilli(), Idle: -1, Freq: -1}
	future := &rdb.Key{Key: []byte("kept"), Type: rdb.TypeString, Raw: []byte("\x01v"), ExpireAt: time.Now().Add(time.Hour).UnixMilli(), Idle: -1, Freq: -1}
	for _, k := range []*rdb.Key{past, future} {
		if err := w.Write(context.Background(), k); err != nil {
			t.Fatal(err)
		}
	}
	st, err := w.Close(context.Background())
	if err != nil || st.SkippedExpired != 1 || st.Written != 1 {
		t.Fatalf("stats %+v, %v", st, err)
	}
	if n := srv.MustDo(t, "EXISTS", "gone"); n != int64(0) {
		t.Errorf("EXISTS gone = %v, want 0", n)
	}
	if ms := srv.MustDo(t, "PEXPIRETIME", "kept"); ms != future.ExpireAt {
		t.Errorf("PEXPIRETIME = %v, want %d", ms, future.ExpireAt)
	}
}

// TestCommandPathAboveProtoMaxBulkLen lowers proto-max-bulk-len so a big
// list's payload no longer fits: it must arrive whole through commands.
func TestCommandPathAboveProtoMaxBulkLen(t *testing.T) {
	srv := redistest.Start(t)
	srv.MustDo(t, "CONFIG", "SET", "proto-max-bulk-len", "1mb")
	// Build a 3 MB list on the server, take its DUMP, and delete it.
	rnd := rand.New(rand.NewSource(1))
	for i := 0; i < 3000; i += 500 {
		args := []string{"RPUSH", "big"}
		for j := 0; j < 500; j++ {
			item := make([]byte, 1000) // random: LZF cannot shrink the payload under the limit
			rnd.Read(item)
			args = append(args, string(item))
		}
		srv.MustDo(t, args...)
	}
	srv.MustDo(t, "PEXPIREAT", "big", "4102444800000")
	payload := srv.MustDo(t, "DUMP", "big").([]byte)
	want := serverContents(t, srv, true)
	srv.MustDo(t, "DEL", "big")
	typ, raw, version, err := rdb.ParseDumpPayload(payload)
	if err != nil {
		t.Fatal(err)
	}
	w, err := Dial(context.Background(), srv.URL(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if w.Info().ProtoMaxBulkLen != 1<<20 {
		t.Fatalf("ProtoMaxBulkLen = %d", w.Info().ProtoMaxBulkLen)
	}
	k := &rdb.Key{Key: []byte("big"), Type: typ, Raw: raw, Version: version, ExpireAt: 4102444800000, Idle: -1, Freq: -1}
	if err := w.Write(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	st, err := w.Close(context.Background())
	if err != nil || st.Written != 1 || st.ViaCommands != 1 {
		t.Fatalf("stats %+v, %v; failures %v", st, err, w.Failures())
	}
	rdbtest.Compare(t, serverContents(t, srv, true), want)
}

// TestCluster writes a corpus file into a real 3-master cluster and reads
// every node back.
func TestCluster(t *testing.T) {
	cluster := redistest.StartCluster(t, 3)
	data := corpusFile(t, "modern/redis-7.4.1-cluster.rdb")
	w, err := Dial(context.Background(), cluster.Nodes()[1].URL(), Options{Existing: ExistingReplace})
	if err != nil {
		t.Fatal(err)
	}
	if !w.Info().Cluster || len(w.Info().Nodes) != 3 {
		t.Fatalf("info %+v", w.Info())
	}
	st := writeFile(t, w, data)
	want := rdbtest.Live(t, data, false)
	if st.Failed != 0 || st.Written != int64(len(want)) {
		t.Fatalf("stats %+v; failures %v", st, w.Failures())
	}
	got := map[string]rdbtest.Entry{}
	for _, n := range cluster.Nodes() {
		for k, e := range serverContents(t, n, false) {
			got[k] = e
		}
	}
	rdbtest.Compare(t, got, want)
}

func TestClusterRefusesOtherDatabases(t *testing.T) {
	cluster := redistest.StartCluster(t, 3)
	w, err := Dial(context.Background(), cluster.Nodes()[0].URL(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	k := &rdb.Key{DB: 3, Key: []byte("k"), Type: rdb.TypeString, Raw: []byte("\x01v"), Idle: -1, Freq: -1}
	w.Write(context.Background(), k)
	st, _ := w.Close(context.Background())
	if st.Failed != 1 || len(w.Failures()) != 1 || !strings.Contains(w.Failures()[0].Err.Error(), "database 3") {
		t.Fatalf("stats %+v, failures %v", st, w.Failures())
	}
}

func TestDialErrors(t *testing.T) {
	for _, u := range []string{"http://x", "redis://", "redis://h:1/x"} {
		if _, err := Dial(context.Background(), u, Options{}); err == nil {
			t.Errorf("Dial(%q) succeeded", u)
		}
	}
	srv := redistest.Start(t, redistest.Config("requirepass", "secret"))
	if _, err := Dial(context.Background(), strings.Replace(srv.URL(), ":secret@", ":wrong@", 1), Options{}); err == nil || !strings.Contains(err.Error(), "AUTH") {
		t.Errorf("wrong password: %v", err)
	}
	if _, err := Dial(context.Background(), srv.URL(), Options{}); err != nil {
		t.Errorf("right password: %v", err)
	}
}

func TestCancelledWrite(t *testing.T) {
	srv := redistest.Start(t)
	w, err := Dial(context.Background(), srv.URL(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	k := &rdb.Key{Key: []byte("k"), Type: rdb.TypeString, Raw: []byte("\x01v"), Idle: -1, Freq: -1}
	if err := w.Write(ctx, k); !errors.Is(err, context.Canceled) {
		t.Fatalf("Write with a cancelled context: %v", err)
	}
	st, err := w.Close(context.Background())
	if err != nil || st.Failed != 1 || st.Written != 0 {
		t.Fatalf("stats %+v, %v", st, err)
	}
	if n := srv.MustDo(t, "DBSIZE"); n != int64(0) {
		t.Errorf("DBSIZE = %v", n)
	}
}

// TestDialUncoveredSlotLeavesNothingRunning: Dial refuses a cluster with a
// slot no master serves, naming the slot, and leaves no goroutine behind
// (its connections' senders used to spin on the cancelled context).
func TestDialUncoveredSlotLeavesNothingRunning(t *testing.T) {
	cluster := redistest.StartCluster(t, 3)
	node := cluster.NodeForSlot(101)
	node.MustDo(t, "CLUSTER", "DELSLOTS", "101")
	before := runtime.NumGoroutine()
	_, err := Dial(context.Background(), node.URL(), Options{})
	if err == nil || !strings.Contains(err.Error(), "slot 101") {
		t.Fatalf("Dial: %v, want an error naming slot 101", err)
	}
	waitGoroutines(t, before)
}
