package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rdbferry/rdbferry/internal/rdbtest"
	"github.com/rdbferry/rdbferry/internal/redistest"
)

type result struct {
	KeysRead     int64 `json:"keys_read"`
	KeysWritten  int64 `json:"keys_written"`
	KeysFiltered int64 `json:"keys_filtered"`
	KeysSkipped  int64 `json:"keys_skipped"`
	KeysFailed   int64 `json:"keys_failed"`
	Converted    int64 `json:"keys_converted"`
	ViaCommands  int64 `json:"keys_via_commands"`
	Stripped     int64 `json:"member_expires_stripped"`
	Converted2   int64 `json:"member_expires_converted"`
	BytesRead    int64 `json:"bytes_read"`
	DurationMS   int64 `json:"duration_ms"`
	// Beyond the contract: every other count of transfer.Stats.
	SkippedExpired     int64 `json:"keys_skipped_expired"`
	SkippedExisting    int64 `json:"keys_skipped_existing"`
	Vanished           int64 `json:"keys_vanished"`
	FieldTTLsDropped   int64 `json:"field_ttls_dropped"`
	RecordsDropped     int64 `json:"records_dropped"`
	StreamMetaDropped  int64 `json:"stream_meta_dropped"`
	PendingEntriesLost int64 `json:"pending_entries_lost"`
	KeyMetaDropped     int64 `json:"key_meta_dropped"`
	Failures           []struct {
		DB    int    `json:"db"`
		Key   any    `json:"key"`
		Error string `json:"error"`
	} `json:"failures"`
}

func migrate(t *testing.T, args ...string) (int, result, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(""), &stdout, &stderr)
	var r result
	if strings.Contains(strings.Join(args, " "), "-json") {
		dec := json.NewDecoder(&stdout)
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("-json output: %v\nstderr: %s", err, stderr.String())
		}
		if dec.More() {
			t.Fatal("more than one JSON object on stdout")
		}
	}
	return code, r, stderr.String()
}

func corpus(t *testing.T, rel string) string { return filepath.Join(rdbtest.CorpusDir(t), rel) }

func saved(t *testing.T, srv *redistest.Server) map[string]rdbtest.Entry {
	t.Helper()
	data, err := os.ReadFile(srv.Save(t))
	if err != nil {
		t.Fatal(err)
	}
	return rdbtest.Contents(t, data, false)
}

// TestFileToServerToFileToServer: a Redis 7.4 file into Redis 7.0, then the
// server's snapshot over PSYNC into a compressed file, then over SCAN into
// another server: every hop keeps the dataset.
func TestFileToServerToFileToServer(t *testing.T) {
	src := corpus(t, "modern/redis-7.4.1.rdb")
	data, _ := os.ReadFile(src)
	want := rdbtest.Live(t, data, false)

	a := redistest.Start(t)
	code, r, stderr := migrate(t, "-from", src, "-to", a.URL(), "-json")
	if code != 0 || r.KeysWritten != int64(len(want)) || r.KeysRead != r.KeysWritten+r.KeysFiltered+r.KeysSkipped+r.KeysFailed || r.Converted == 0 {
		t.Fatalf("file to server: exit %d, %+v\n%s", code, r, stderr)
	}
	rdbtest.Compare(t, saved(t, a), want)

	out := filepath.Join(t.TempDir(), "snapshot.rdb.zst")
	if code, r, stderr = migrate(t, "-from", a.URL(), "-to", out, "-json"); code != 0 || r.KeysWritten != int64(len(want)) {
		t.Fatalf("PSYNC to file: exit %d, %+v\n%s", code, r, stderr)
	}

	b := redistest.Start(t)
	if code, r, stderr = migrate(t, "-from", out, "-to", b.URL(), "-json"); code != 0 {
		t.Fatalf("file to server: exit %d, %+v\n%s", code, r, stderr)
	}
	c := redistest.Start(t)
	scanURL := strings.Replace(b.URL(), "redis://", "redis+scan://", 1)
	if code, r, stderr = migrate(t, "-from", scanURL, "-to", c.URL(), "-json"); code != 0 || r.KeysWritten != int64(len(want)) {
		t.Fatalf("SCAN to server: exit %d, %+v\n%s", code, r, stderr)
	}
	rdbtest.Compare(t, saved(t, c), want)
}

func TestFiltersAndFailures(t *testing.T) {
	srv := redistest.Start(t)
	srv.MustDo(t, "SELECT", "1")
	srv.MustDo(t, "SET", "moved:hash:small", "in the way")
	src := corpus(t, "modern/redis-7.0.15-debian.rdb")
	code, r, _ := migrate(t, "-from", src, "-to", srv.URL(), "-db", "0,2", "-map-db", "0=1", "-match", "hash:*", "-match", "db2:*",
		"-exclude", "*:ttl", "-type", "hash,string", "-json")
	if code != 0 || r.KeysWritten != 4 || r.KeysFailed != 0 { // hash:small hash:large hash:bigvalue db2:hash
		t.Fatalf("exit %d, %+v", code, r)
	}
	if n := srv.MustDo(t, "DBSIZE"); n != int64(4) { // db 1: 3 hashes + the key set above
		t.Errorf("db 1 DBSIZE = %v", n)
	}
	// Existing keys without -replace fail, and the exit status says so.
	code, r, stderr := migrate(t, "-from", src, "-to", srv.URL(), "-db", "0", "-map-db", "0=1", "-match", "hash:*", "-json")
	if code != 1 || r.KeysFailed != 3 || len(r.Failures) != 3 || r.Failures[0].Error == "" || !strings.Contains(stderr, "failed:") {
		t.Fatalf("exit %d, %+v\n%s", code, r, stderr)
	}
	if code, _, _ := migrate(t, "-from", src, "-to", srv.URL(), "-db", "0", "-map-db", "0=1", "-match", "hash:*", "-replace"); code != 0 {
		t.Errorf("-replace: exit %d", code)
	}
}

func TestUsageAndBadSources(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
	}{
		{nil, 2},
		{[]string{"-from", "x.rdb"}, 2},
		{[]string{"-from", "a", "-to", "b.rdb", "-db", "x"}, 2},
		{[]string{"-from", "a", "-to", "b.rdb", "-member-expires", "maybe"}, 2},
		{[]string{"-from", "a", "-to", "b.rdb", "-replace", "-skip-existing"}, 2},
		{[]string{"-from", "a", "-to", "b.txt"}, 1},                         // not a file target
		{[]string{"-from", "missing.rdb", "-to", "redis://127.0.0.1:1"}, 1}, // nothing listening
	} {
		if code, _, _ := migrate(t, tc.args...); code != tc.code {
			t.Errorf("%q: exit %d, want %d", tc.args, code, tc.code)
		}
	}
	data, _ := os.ReadFile(corpus(t, "modern/redis-7.0.15-debian.rdb"))
	trunc := filepath.Join(t.TempDir(), "trunc.rdb")
	os.WriteFile(trunc, data[:len(data)-100], 0o644)
	code, _, stderr := migrate(t, "-from", trunc, "-to", filepath.Join(t.TempDir(), "out.rdb"))
	if code != 1 || !strings.Contains(stderr, "offset") {
		t.Errorf("truncated source: exit %d, %s", code, stderr)
	}
}
