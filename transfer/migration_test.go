package transfer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/rdbferry/rdbferry/internal/rdbtest"
	"github.com/rdbferry/rdbferry/internal/redistest"
	"github.com/rdbferry/rdbferry/restore"
)

// fillServer writes keys of every type, with TTLs, into databases 0 and 3.
func fillServer(t *testing.T, srv *redistest.Server, n int) {
	t.Helper()
	for _, db := range []string{"0", "3"} {
		srv.MustDo(t, "SELECT", db)
		for i := 0; i < n; i++ {
			k := fmt.Sprintf("k%d", i)
			switch i % 6 {
			case 0:
				srv.MustDo(t, "SET", "s:"+k, strings.Repeat("v", i%300))
			case 1:
				srv.MustDo(t, "RPUSH", "l:"+k, "a", "b", k)
			case 2:
				srv.MustDo(t, "SADD", "set:"+k, "1", "2", fmt.Sprint(i))
			case 3:
				srv.MustDo(t, "ZADD", "z:"+k, "1.5", "a", "-inf", "b")
			case 4:
				srv.MustDo(t, "HSET", "h:"+k, "f", k, "g", "2")
			case 5:
				srv.MustDo(t, "XADD", "x:"+k, "*", "f", k)
				srv.MustDo(t, "XGROUP", "CREATE", "x:"+k, "g", "0")
			}
			if i%3 == 0 {
				srv.MustDo(t, "PEXPIREAT", []string{"s:", "l:", "set:", "z:", "h:", "x:"}[i%6]+k, "4102444800000")
			}
		}
	}
}

func savedContents(t *testing.T, srv *redistest.Server) map[string]rdbtest.Entry {
	t.Helper()
	data, err := os.ReadFile(srv.Save(t))
	if err != nil {
		t.Fatal(err)
	}
	return rdbtest.Contents(t, data, true)
}

// TestServerToServer migrates live over PSYNC with diskless sync on and off.
func TestServerToServer(t *testing.T) {
	for _, diskless := range []string{"no", "yes"} {
		t.Run("diskless="+diskless, func(t *testing.T) {
			src := redistest.Start(t, redistest.Config("repl-diskless-sync", diskless))
			fillServer(t, src, 600)
			dst := redistest.Start(t)
			w, err := restore.Dial(context.Background(), dst.URL(), restore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			st, err := Run(context.Background(), PSYNC(src.URL(), PSYNCOptions{}), Server(w))
			if err != nil {
				t.Fatal(err)
			}
			checkAccounting(t, st)
			if st.KeysWritten != 1200 || st.Source.ReplID == "" {
				t.Fatalf("stats %+v", st)
			}
			rdbtest.Compare(t, savedContents(t, dst), savedContents(t, src))
		})
	}
}

// TestKeyDBFilesIntoRedis70 migrates every KeyDB corpus file into Redis 7.0:
// member expirations are stripped and counted, everything else is equal.
func TestKeyDBFilesIntoRedis70(t *testing.T) {
	for _, name := range []string{"keydb-basic.rdb", "keydb-expiremember.rdb", "keydb633-expiremember.rdb"} {
		t.Run(name, func(t *testing.T) {
			path := corpusPath(t, "keydb/"+name)
			dst := redistest.Start(t)
			w, err := restore.Dial(context.Background(), dst.URL(), restore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			st, err := Run(context.Background(), File(path), Server(w))
			if err != nil {
				t.Fatal(err)
			}
			checkAccounting(t, st)
			if st.KeysFailed != 0 || name != "keydb-basic.rdb" && st.MemberExpiresStripped == 0 {
				t.Fatalf("stats %+v", st)
			}
			rdbtest.Compare(t, savedContents(t, dst), rdbtest.Live(t, readFile(t, path), true))
		})
	}
}

func TestFileToCluster(t *testing.T) {
	cluster := redistest.StartCluster(t, 3)
	path := corpusPath(t, "modern/valkey-8.0.1.rdb")
	w, err := restore.Dial(context.Background(), cluster.Nodes()[0].URL(), restore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := Run(context.Background(), File(path), Server(w), MapDB(1, 0), MapDB(2, 0), MapDB(15, 0))
	if err != nil {
		t.Fatal(err)
	}
	checkAccounting(t, st)
	want := map[string]rdbtest.Entry{}
	for name, e := range rdbtest.Live(t, readFile(t, path), true) {
		_, key, _ := strings.Cut(name, "/")
		want["0/"+key] = e
	}
	got := map[string]rdbtest.Entry{}
	for _, n := range cluster.Nodes() {
		for k, e := range savedContents(t, n) {
			got[k] = e
		}
	}
	if st.KeysWritten != int64(len(want)) {
		t.Errorf("stats %+v, want %d written", st, len(want))
	}
	rdbtest.Compare(t, got, want)
}

// TestCancelMidRun cancels a live migration and checks that Run returns
// promptly, accounts for every key, and leaves no goroutine behind.
func TestCancelMidRun(t *testing.T) {
	src := redistest.Start(t, redistest.Config("rdb-key-save-delay", "2000")) // 2 ms a key: a slow snapshot
	fillServer(t, src, 300)
	dst := redistest.Start(t)
	before := runtime.NumGoroutine()
	w, err := restore.Dial(context.Background(), dst.URL(), restore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	st, err := Run(ctx, PSYNC(src.URL(), PSYNCOptions{}), Server(w))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > 1300*time.Millisecond {
		t.Errorf("Run took %v after a 300 ms deadline", d)
	}
	if st.KeysRead != st.KeysWritten+st.KeysFiltered+st.KeysSkipped+st.KeysFailed {
		t.Errorf("accounting: %+v", st)
	}
	for i := 0; ; i++ {
		if n := runtime.NumGoroutine(); n <= before {
			break
		} else if i == 50 {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines left (before: %d):\n%s", n, before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}
