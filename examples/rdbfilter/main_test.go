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
	"github.com/rdbferry/rdbferry/transfer"
)

// TestKeyDBToRedis strips a KeyDB snapshot's member expirations so that
// Redis 7.0 loads it, keeping everything else.
func TestKeyDBToRedis(t *testing.T) {
	in := filepath.Join(rdbtest.CorpusDir(t), "keydb", "keydb-expiremember.rdb")
	out := filepath.Join(t.TempDir(), "redis.rdb")
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"-rdb-version", "10", "-member-expires", "strip", "-json", in, out}, nil, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var res map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("json %q: %v", stdout.String(), err)
	}
	if res["member_expires_stripped"].(float64) == 0 || res["keys_failed"].(float64) != 0 {
		t.Errorf("result %v", res)
	}
	data, _ := os.ReadFile(in)
	srv := redistest.Start(t, redistest.WithRDB(out))
	saved, err := os.ReadFile(srv.Save(t))
	if err != nil {
		t.Fatal(err)
	}
	rdbtest.Compare(t, rdbtest.Contents(t, saved, false), rdbtest.Live(t, data, false))
}

func TestFilters(t *testing.T) {
	in := filepath.Join(rdbtest.CorpusDir(t), "modern", "redis-7.4.1.rdb")
	out := filepath.Join(t.TempDir(), "users.rdb.zst")
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"-db", "0", "-map-db", "0=4", "-match", "hash:*", "-exclude", "*:ttl", "-json", in, out}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var res map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("json %q: %v", stdout.String(), err)
	}
	if res["keys_written"].(float64) != 3 { // hash:small, hash:large, hash:bigvalue
		t.Errorf("result %v", res)
	}
	// The file holds exactly those keys, in database 4.
	data, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]rdbtest.Entry{}
	for name, e := range rdbtest.Contents(t, data, true) {
		if db, key, _ := strings.Cut(name, "/"); db == "0" && strings.HasPrefix(key, "hash:") && !strings.HasSuffix(key, ":ttl") {
			want["4/"+key] = e
		}
	}
	var written bytes.Buffer
	if _, err := transfer.Run(context.Background(), transfer.File(out), transfer.ToWriter(&written, transfer.FileOptions{})); err != nil {
		t.Fatalf("reading %s back: %v", out, err)
	}
	rdbtest.Compare(t, rdbtest.Contents(t, written.Bytes(), true), want)

	stderr.Reset()
	if code := run(context.Background(), []string{"-rdb-version", "8", in, filepath.Join(t.TempDir(), "old.rdb")}, nil, &stdout, &stderr); code != 1 {
		t.Errorf("streams into RDB 8 should fail keys: exit %d", code)
	}
	stderr.Reset()
	if code := run(context.Background(), []string{"-flavor", "valkey", in, filepath.Join(t.TempDir(), "v.rdb")}, nil, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "-flavor needs -rdb-version") {
		t.Errorf("-flavor without -rdb-version: exit %d, %q", code, stderr.String())
	}
	if code := run(context.Background(), []string{"-flavor", "bogus", "-rdb-version", "10", in, filepath.Join(t.TempDir(), "v.rdb")}, nil, &stdout, &stderr); code != 2 {
		t.Errorf("-flavor bogus: exit %d", code)
	}
	if code := run(context.Background(), []string{in}, nil, &stdout, &stderr); code != 2 {
		t.Errorf("usage: exit %d", code)
	}
}
