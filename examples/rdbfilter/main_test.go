package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/rdbferry/rdbferry/internal/rdbtest"
	"github.com/rdbferry/rdbferry/internal/redistest"
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
	if code := run(context.Background(), []string{"-db", "0", "-match", "hash:*", "-exclude", "*:ttl", "-json", in, out}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var res map[string]any
	json.Unmarshal(stdout.Bytes(), &res)
	if res["keys_written"].(float64) != 3 { // hash:small, hash:large, hash:bigvalue
		t.Errorf("result %v", res)
	}
	if code := run(context.Background(), []string{"-rdb-version", "8", in, filepath.Join(t.TempDir(), "old.rdb")}, nil, &stdout, &stderr); code != 1 {
		t.Errorf("streams into RDB 8 should fail keys: exit %d", code)
	}
	if code := run(context.Background(), []string{in}, nil, &stdout, &stderr); code != 2 {
		t.Errorf("usage: exit %d", code)
	}
}
