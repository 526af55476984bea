package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rdbferry/rdbferry/internal/rdbtest"
	"github.com/rdbferry/rdbferry/internal/redistest"
	"github.com/rdbferry/rdbferry/transfer"
)

// TestBackup takes a backup of a live server (loaded with a corpus file)
// in every compression and checks that it holds the server's dataset; the
// plain file is loaded into a second redis-server.
func TestBackup(t *testing.T) {
	src := redistest.Start(t, redistest.WithRDB(filepath.Join(rdbtest.CorpusDir(t), "modern", "redis-7.0.15-debian.rdb")))
	saved, err := os.ReadFile(src.Save(t))
	if err != nil {
		t.Fatal(err)
	}
	want := rdbtest.Contents(t, saved, true)
	for _, name := range []string{"backup.rdb", "backup.rdb.zst", "backup.rdb.gz"} {
		out := filepath.Join(t.TempDir(), name)
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), []string{"-from", src.URL(), "-to", out, "-json"}, &stdout, &stderr); code != 0 {
			t.Fatalf("%s: exit %d: %s", name, code, stderr.String())
		}
		if !strings.Contains(stdout.String(), `"keys_failed":0`) {
			t.Errorf("json: %s", stdout.String())
		}
		var plain bytes.Buffer
		if _, err := transfer.Run(context.Background(), transfer.File(out), transfer.ToWriter(&plain, transfer.FileOptions{})); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		rdbtest.Compare(t, rdbtest.Contents(t, plain.Bytes(), true), want)
		if name == "backup.rdb" {
			dst := redistest.Start(t, redistest.WithRDB(out))
			restored, err := os.ReadFile(dst.Save(t))
			if err != nil {
				t.Fatal(err)
			}
			rdbtest.Compare(t, rdbtest.Contents(t, restored, true), want)
		}
	}
}

func TestBackupErrors(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"-from", "redis://127.0.0.1:1", "-to", filepath.Join(t.TempDir(), "x.rdb")}, &stdout, &stderr); code != 1 {
		t.Errorf("unreachable server: exit %d", code)
	}
	if code := run(context.Background(), []string{"-to", "x.rdb"}, &stdout, &stderr); code != 2 {
		t.Errorf("missing -from: exit %d", code)
	}
}
