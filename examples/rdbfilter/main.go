// Command rdbfilter rewrites an RDB file: it keeps the keys the filters
// select, re-encodes values for an older RDB version when asked, and
// handles KeyDB data, e.g. to make a KeyDB snapshot loadable by Redis:
//
//	rdbfilter -rdb-version 10 -member-expires strip keydb.rdb redis.rdb
//	rdbfilter -match 'user:*' -db 0 -drop-expired dump.rdb.gz users.rdb.zst
//
// IN may be compressed (gzip, zstd, lz4) or "-" for standard input; OUT is
// compressed by its extension (.gz, .zst, .lz4). OUT is written under a
// temporary name and renamed into place only when the whole input was read
// and verified. Exit status: 0 when every selected key was written, 1 when
// a key could not be (e.g. a stream for an RDB version older than 9) or the
// input is bad, 2 for bad usage.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/rdbferry/rdbferry/internal/cli"
	"github.com/rdbferry/rdbferry/rdb"
	"github.com/rdbferry/rdbferry/transfer"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("rdbfilter", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var filters cli.Filters
	filters.Register(fs)
	version := fs.Int("rdb-version", 0, "RDB version to write (default: the input's)")
	flavor := fs.String("flavor", "redis", "server family of the output: redis, valkey or keydb")
	memberExpires := fs.String("member-expires", "auto", "KeyDB member expirations: auto, strip, convert or fail")
	dropExpired := fs.Bool("drop-expired", false, "leave out keys already expired")
	jsonOut := fs.Bool("json", false, "print one JSON object with the results on standard output")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: rdbfilter [flags] IN OUT")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil || fs.NArg() != 2 {
		if err == nil {
			fs.Usage()
		}
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintln(stderr, "rdbfilter:", err)
		return 2
	}
	opts, err := filters.Options()
	if err != nil {
		return fail(err)
	}
	policy, err := rdb.ParseMemberExpirePolicy(*memberExpires)
	if err != nil {
		return fail(err)
	}
	fo := transfer.FileOptions{Convert: rdb.ConvertOptions{MemberExpires: policy}, DropExpired: *dropExpired}
	target, err := parseFlavor(*flavor)
	if err != nil {
		return fail(err)
	}
	flavorSet := false
	fs.Visit(func(f *flag.Flag) { flavorSet = flavorSet || f.Name == "flavor" })
	switch {
	case *version != 0:
		fo.Target = rdb.Target{Flavor: target, Version: *version}
	case flavorSet:
		return fail(errors.New("-flavor needs -rdb-version (without both, the output keeps the input's)"))
	}
	in := transfer.File(fs.Arg(0))
	if fs.Arg(0) == "-" {
		in = transfer.FromReader(stdin, "standard input")
	}
	st, err := transfer.Run(ctx, in, transfer.ToFile(fs.Arg(1), fo), opts...)
	cli.Summary(stderr, "rdbfilter", st, err)
	if *jsonOut {
		stdout.Write(cli.AppendJSON(nil, st))
	}
	if err != nil || st.KeysFailed > 0 {
		return 1
	}
	return 0
}

func parseFlavor(s string) (rdb.Flavor, error) {
	for _, f := range []rdb.Flavor{rdb.FlavorRedis, rdb.FlavorValkey, rdb.FlavorKeyDB} {
		if f.String() == s {
			return f, nil
		}
	}
	return 0, fmt.Errorf("unknown flavor %q (want redis, valkey or keydb)", s)
}
