// Command migrate moves a Redis, Valkey or KeyDB dataset: from an RDB file
// (plain, gzip, zstd or lz4), standard input, a live server (as a replica,
// over PSYNC) or a server's keys (SCAN + DUMP), into a server or cluster
// (pipelined RESTORE) or a new RDB file.
//
//	migrate -from SRC -to DST [-db 0,3] [-map-db 3=0] [-match GLOB]… [-exclude GLOB]…
//	        [-type T,…] [-replace] [-member-expires auto|strip|convert|fail]
//	        [-pipeline N] [-conns N] [-json]
//
// SRC is a file path, "-" for standard input, redis://… or rediss://… for a
// live server (PSYNC; add -from-cluster to read every master of a cluster),
// or redis+scan://… for servers that refuse replication (SCAN + DUMP). DST
// is redis://… or rediss://… (a cluster is detected), or a file path ending
// .rdb, .rdb.gz, .rdb.zst or .rdb.lz4.
//
// A progress bar goes to standard error when it is a terminal, and a
// summary at the end. With -json, standard output gets exactly one JSON
// object:
//
//	{"keys_read":N,"keys_written":N,"keys_filtered":N,"keys_skipped":N,"keys_failed":N,
//	 "keys_converted":N,"keys_via_commands":N,"member_expires_stripped":N,
//	 "member_expires_converted":N,"bytes_read":N,"duration_ms":N,
//	 "failures":[{"db":N,"key":K,"error":E}…]}
//
// The exit status is 0 only when no key failed and the source was read to
// its verified end; 1 otherwise; 2 for bad usage.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/rdbferry/rdbferry/internal/cli"
	"github.com/rdbferry/rdbferry/rdb"
	"github.com/rdbferry/rdbferry/restore"
	"github.com/rdbferry/rdbferry/transfer"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

type cmd struct {
	from, to      string
	fromCluster   bool
	filters       cli.Filters
	replace       bool
	skipExisting  bool
	memberExpires string
	pipeline      int
	conns         int
	rdbVersion    int
	jsonOut       bool
	progress      bool
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var c cmd
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.from, "from", "", "source: file, - (stdin), redis://… (PSYNC), redis+scan://… (SCAN + DUMP)")
	fs.StringVar(&c.to, "to", "", "target: redis://… or rediss://… (server or cluster), or a .rdb[.gz|.zst|.lz4] file")
	fs.BoolVar(&c.fromCluster, "from-cluster", false, "the source URL is a cluster: read every master")
	c.filters.Register(fs)
	fs.BoolVar(&c.replace, "replace", false, "overwrite keys the target already has (default: report them as failed)")
	fs.BoolVar(&c.skipExisting, "skip-existing", false, "leave keys the target already has, counted as skipped")
	fs.StringVar(&c.memberExpires, "member-expires", "auto", "KeyDB member expirations: auto, strip, convert or fail")
	fs.IntVar(&c.pipeline, "pipeline", 512, "keys in flight per connection")
	fs.IntVar(&c.conns, "conns", 1, "connections per target node")
	fs.IntVar(&c.rdbVersion, "rdb-version", 0, "RDB version of a target file (default: the source's)")
	fs.BoolVar(&c.jsonOut, "json", false, "print one JSON object with the results on standard output")
	fs.BoolVar(&c.progress, "progress", true, "show a progress bar when standard error is a terminal")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: migrate -from SRC -to DST [flags]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if c.from == "" || c.to == "" || fs.NArg() > 0 || c.replace && c.skipExisting {
		fs.Usage()
		return 2
	}
	opts, err := c.filters.Options()
	if err != nil {
		fmt.Fprintln(stderr, "migrate:", err)
		return 2
	}
	policy, err := rdb.ParseMemberExpirePolicy(c.memberExpires)
	if err != nil {
		fmt.Fprintln(stderr, "migrate:", err)
		return 2
	}
	src := c.source(stdin)
	sink, err := c.sink(ctx, policy)
	if err != nil {
		fmt.Fprintln(stderr, "migrate:", err)
		return 1
	}
	barOpts, finish := cli.ProgressBar(stderr, "migrating", c.progress && !c.jsonOut)
	st, err := transfer.Run(ctx, src, sink, append(opts, barOpts...)...)
	finish()
	cli.Summary(stderr, "migrate", st, err)
	if c.jsonOut {
		stdout.Write(cli.AppendJSON(nil, st))
	}
	if err != nil || st.KeysFailed > 0 {
		return 1
	}
	return 0
}

func isURL(s string) bool { return strings.Contains(s, "://") }

func (c *cmd) source(stdin io.Reader) transfer.Source {
	switch {
	case c.from == "-":
		return transfer.FromReader(stdin, "standard input")
	case strings.HasPrefix(c.from, "redis+scan://") || strings.HasPrefix(c.from, "rediss+scan://"):
		if c.fromCluster {
			return transfer.Cluster(c.from, func(u string) transfer.Source { return transfer.Scan(u, transfer.ScanOptions{}) })
		}
		return transfer.Scan(c.from, transfer.ScanOptions{})
	case isURL(c.from):
		if c.fromCluster {
			return transfer.Cluster(c.from, func(u string) transfer.Source { return transfer.PSYNC(u, transfer.PSYNCOptions{}) })
		}
		return transfer.PSYNC(c.from, transfer.PSYNCOptions{})
	}
	return transfer.File(c.from)
}

func (c *cmd) sink(ctx context.Context, policy rdb.MemberExpirePolicy) (transfer.Sink, error) {
	conv := rdb.ConvertOptions{MemberExpires: policy}
	if !isURL(c.to) {
		if !strings.HasSuffix(c.to, ".rdb") && !strings.HasSuffix(c.to, ".rdb.gz") && !strings.HasSuffix(c.to, ".rdb.zst") && !strings.HasSuffix(c.to, ".rdb.lz4") {
			return nil, fmt.Errorf("-to %q: a file target must end .rdb, .rdb.gz, .rdb.zst or .rdb.lz4", c.to)
		}
		fo := transfer.FileOptions{Convert: conv}
		if c.rdbVersion != 0 {
			fo.Target = rdb.Target{Flavor: rdb.FlavorRedis, Version: c.rdbVersion}
		}
		return transfer.ToFile(c.to, fo), nil
	}
	existing := restore.ExistingFail
	if c.replace {
		existing = restore.ExistingReplace
	} else if c.skipExisting {
		existing = restore.ExistingSkip
	}
	w, err := restore.Dial(ctx, c.to, restore.Options{Existing: existing, Pipeline: c.pipeline, Conns: c.conns, Convert: conv})
	if err != nil {
		return nil, err
	}
	return transfer.Server(w), nil
}
