// Command backup saves a live server's dataset to an RDB file without
// needing a BGSAVE file on the server's disk: it connects as a replica
// (PSYNC), receives the snapshot the server streams, verifies it and writes
// it, compressed by the file's extension (.rdb, .rdb.gz, .rdb.zst, .rdb.lz4).
//
//	backup -from redis://:password@10.0.0.5:6379 -to backup.rdb.zst
//
// The file loads into redis-server (decompress it first). It is written
// under a temporary name and renamed into place only once the snapshot's
// checksum has been verified. Exit status 0 on success, 1 otherwise.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/rdbferry/rdbferry/internal/cli"
	"github.com/rdbferry/rdbferry/transfer"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	from := fs.String("from", "", "the server: redis://[user:pass@]host:port or rediss://…")
	to := fs.String("to", "", "the file to write: .rdb, .rdb.gz, .rdb.zst or .rdb.lz4")
	jsonOut := fs.Bool("json", false, "print one JSON object with the results on standard output")
	if err := fs.Parse(args); err != nil || *from == "" || *to == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: backup -from redis://host:port -to FILE.rdb[.gz|.zst|.lz4]")
		return 2
	}
	opts, finish := cli.ProgressBar(stderr, "backup", !*jsonOut)
	// RDBOnly: the server need not keep a replication backlog for us.
	st, err := transfer.Run(ctx, transfer.PSYNC(*from, transfer.PSYNCOptions{RDBOnly: true}), transfer.ToFile(*to, transfer.FileOptions{}), opts...)
	finish()
	cli.Summary(stderr, "backup", st, err)
	if *jsonOut {
		stdout.Write(cli.AppendJSON(nil, st))
	}
	if err != nil || st.KeysFailed > 0 {
		return 1
	}
	fmt.Fprintf(stderr, "backup: %s written (RDB version %d of %s, replication id %s offset %d)\n", *to, st.Source.Version, st.Source.Name, st.Source.ReplID, st.Source.ReplOffset)
	return 0
}
