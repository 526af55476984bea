package restore

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rdbferry/rdbferry/internal/redistest"
	"github.com/rdbferry/rdbferry/internal/resp"
	"github.com/rdbferry/rdbferry/rdb"
)

// BenchmarkIngest is the small variant of internal/benchcmd/ingestbench
// (which `make bench` runs with a million keys): each iteration loads the
// 20 000 keys of every type of newDataset into an emptied local
// redis-server, with restore.Writer ("ours": rdb.Reader over the RDB file,
// default options, ExistingReplace) and with `redis-cli --pipe` fed the
// same RESTORE commands from a file ("redis-cli", skipped without
// redis-cli). Both report keys/s.
//
//	go test -run '^$' -bench Ingest ./restore
func BenchmarkIngest(b *testing.B) {
	d := newDataset(b, 20000, "bench:", nil)
	srv := redistest.Start(b)
	ctx := context.Background()
	empty := func(b *testing.B) {
		b.StopTimer()
		srv.MustDo(b, "FLUSHALL")
		b.StartTimer()
	}
	check := func(b *testing.B) {
		b.StopTimer()
		if n := srv.MustDo(b, "DBSIZE").(int64); n != int64(d.keys) {
			b.Fatalf("DBSIZE %d, want %d", n, d.keys)
		}
		b.StartTimer()
	}

	b.Run("ours", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			empty(b)
			w, err := Dial(ctx, srv.URL(), Options{Existing: ExistingReplace})
			if err != nil {
				b.Fatal(err)
			}
			if st := d.writeAll(b, w); st.Written != int64(d.keys) || st.Failed != 0 {
				b.Fatalf("stats %+v", st)
			}
			check(b)
		}
		b.ReportMetric(float64(d.keys)*float64(b.N)/b.Elapsed().Seconds(), "keys/s")
	})

	b.Run("redis-cli", func(b *testing.B) {
		cli, err := exec.LookPath("redis-cli")
		if err != nil {
			b.Skip("no redis-cli (Debian's redis-tools has it)")
		}
		// The RESTORE commands restore.Writer sends, as redis-cli reads them.
		path := filepath.Join(b.TempDir(), "restore.resp")
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		bw := bufio.NewWriter(f)
		var payload, cmd []byte
		d.each(b, func(k *rdb.Key) {
			payload = rdb.AppendDumpPayload(payload[:0], k.Type, k.Raw, k.Version)
			args := [][]byte{[]byte("RESTORE"), k.Key, []byte(strconv.FormatInt(k.ExpireAt, 10)), payload, []byte("REPLACE")}
			if k.ExpireAt != 0 {
				args = append(args, []byte("ABSTTL"))
			}
			cmd = resp.AppendCommand(cmd[:0], args...)
			bw.Write(cmd)
		})
		if err := bw.Flush(); err != nil {
			b.Fatal(err)
		}
		f.Close()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			empty(b)
			in, err := os.Open(path)
			if err != nil {
				b.Fatal(err)
			}
			var out bytes.Buffer
			c := exec.Command(cli, "-h", "127.0.0.1", "-p", strconv.Itoa(srv.Port()), "--pipe")
			c.Stdin, c.Stdout, c.Stderr = in, &out, &out
			err = c.Run()
			in.Close()
			if err != nil || !strings.Contains(out.String(), "errors: 0, replies: "+strconv.Itoa(d.keys)) {
				b.Fatalf("redis-cli --pipe: %v\n%s", err, out.Bytes())
			}
			check(b)
		}
		b.ReportMetric(float64(d.keys)*float64(b.N)/b.Elapsed().Seconds(), "keys/s")
	})
}
