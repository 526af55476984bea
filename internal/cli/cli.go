// Package cli holds what rdbferry's command-line programs share: the key
// filter flags, the progress bar, the human summary and the JSON result of a
// transfer.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/rdbferry/rdbferry/internal/jsonenc"
	"github.com/rdbferry/rdbferry/rdb"
	"github.com/rdbferry/rdbferry/transfer"
)

// listFlag collects a repeated flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

// Filters are the key filter flags: -db, -map-db, -match, -exclude, -type.
type Filters struct {
	dbs     string
	mapDB   listFlag
	match   listFlag
	exclude listFlag
	types   string
}

// Register adds the filter flags to fs.
func (f *Filters) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.dbs, "db", "", "only these databases, e.g. 0,3")
	fs.Var(&f.mapDB, "map-db", "move a database, e.g. 3=0 (repeatable)")
	fs.Var(&f.match, "match", "only keys matching this glob (repeatable: any of them)")
	fs.Var(&f.exclude, "exclude", "drop keys matching this glob (repeatable)")
	fs.StringVar(&f.types, "type", "", "only these types: string,list,set,zset,hash,stream,module")
}

// Options turns the flags into transfer options.
func (c *Filters) Options() ([]transfer.Option, error) {
	var opts []transfer.Option
	if c.dbs != "" {
		var dbs []int
		for _, s := range strings.Split(c.dbs, ",") {
			db, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || db < 0 {
				return nil, fmt.Errorf("-db: bad database %q", s)
			}
			dbs = append(dbs, db)
		}
		opts = append(opts, transfer.DB(dbs...))
	}
	for _, m := range c.mapDB {
		from, to, ok := strings.Cut(m, "=")
		f, err1 := strconv.Atoi(from)
		t, err2 := strconv.Atoi(to)
		if !ok || err1 != nil || err2 != nil || f < 0 || t < 0 {
			return nil, fmt.Errorf("-map-db: want FROM=TO, got %q", m)
		}
		opts = append(opts, transfer.MapDB(f, t))
	}
	for _, m := range c.match {
		opts = append(opts, transfer.Match(m))
	}
	for _, e := range c.exclude {
		opts = append(opts, transfer.Exclude(e))
	}
	if c.types != "" {
		var kinds []rdb.Kind
		for _, name := range strings.Split(c.types, ",") {
			kind := rdb.KindUnknown
			for k := rdb.KindString; k <= rdb.KindCron; k++ {
				if k.String() == strings.TrimSpace(name) {
					kind = k
				}
			}
			if kind == rdb.KindUnknown {
				return nil, fmt.Errorf("-type: unknown type %q", name)
			}
			kinds = append(kinds, kind)
		}
		opts = append(opts, transfer.Types(kinds...))
	}
	return opts, nil
}

// Summary writes a human summary of a transfer.
func Summary(w io.Writer, prog string, st transfer.Stats, err error) {
	fmt.Fprintf(w, "read %d keys (%d bytes) in %v: %d written, %d filtered, %d skipped (%d expired, %d existing), %d failed\n",
		st.KeysRead, st.BytesRead, st.Duration.Round(time.Millisecond), st.KeysWritten, st.KeysFiltered,
		st.KeysSkipped, st.KeysSkippedExpired, st.KeysSkippedExisting, st.KeysFailed)
	if st.KeysConverted+st.KeysViaCommands+st.MemberExpiresStripped+st.MemberExpiresConverted+st.FieldTTLsDropped+st.RecordsDropped > 0 {
		fmt.Fprintf(w, "%d re-encoded for the target, %d written with commands; KeyDB member expirations: %d stripped, %d converted; %d hash field TTLs dropped; %d other records dropped\n",
			st.KeysConverted, st.KeysViaCommands, st.MemberExpiresStripped, st.MemberExpiresConverted, st.FieldTTLsDropped, st.RecordsDropped)
	}
	if st.StreamMetaDropped+st.PendingEntriesLost+st.KeyMetaDropped > 0 {
		fmt.Fprintf(w, "lost on the way: stream metadata of %d streams, %d pending entries of consumer groups, key metadata of %d keys\n",
			st.StreamMetaDropped, st.PendingEntriesLost, st.KeyMetaDropped)
	}
	for i, f := range st.Failures {
		if i == 10 {
			fmt.Fprintf(w, "… %d more failures\n", st.KeysFailed-10)
			break
		}
		fmt.Fprintln(w, "failed:", f.Error())
	}
	if err != nil {
		fmt.Fprintln(w, prog+":", err)
		if errors.Is(err, context.Canceled) {
			fmt.Fprintln(w, prog+": interrupted; the counts above are what was acknowledged")
		}
	}
}

// AppendJSON appends the JSON result of a transfer and a newline:
// {"keys_read":N,…,"failures":[{"db":N,"key":K,"error":E}…]}, keys encoded as
// rdbdump encodes them. Besides the fields the migrate contract names, it
// carries every other count of Stats, losses included.
func AppendJSON(b []byte, st transfer.Stats) []byte {
	field := func(name string, v int64) {
		b = append(b, '"')
		b = append(b, name...)
		b = append(b, `":`...)
		b = strconv.AppendInt(b, v, 10)
		b = append(b, ',')
	}
	b = append(b, '{')
	field("keys_read", st.KeysRead)
	field("keys_written", st.KeysWritten)
	field("keys_filtered", st.KeysFiltered)
	field("keys_skipped", st.KeysSkipped)
	field("keys_failed", st.KeysFailed)
	field("keys_converted", st.KeysConverted)
	field("keys_via_commands", st.KeysViaCommands)
	field("member_expires_stripped", st.MemberExpiresStripped)
	field("member_expires_converted", st.MemberExpiresConverted)
	field("bytes_read", st.BytesRead)
	field("duration_ms", st.Duration.Milliseconds())
	field("keys_skipped_expired", st.KeysSkippedExpired)
	field("keys_skipped_existing", st.KeysSkippedExisting)
	field("keys_vanished", st.KeysVanished)
	field("field_ttls_dropped", st.FieldTTLsDropped)
	field("records_dropped", st.RecordsDropped)
	field("stream_meta_dropped", st.StreamMetaDropped)
	field("pending_entries_lost", st.PendingEntriesLost)
	field("key_meta_dropped", st.KeyMetaDropped)
	b = append(b, `"failures":[`...)
	for i, f := range st.Failures {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"db":`...)
		b = strconv.AppendInt(b, int64(f.DB), 10)
		b = append(b, `,"key":`...)
		b = jsonenc.AppendBytes(b, f.Key)
		b = append(b, `,"error":`...)
		b = jsonenc.AppendBytes(b, []byte(f.Err.Error()))
		b = append(b, '}')
	}
	return append(b, "]}\n"...)
}

// ProgressBar returns the options that draw a progress bar of a transfer
// on w, when enabled and w is a terminal (else none), and the function
// that ends the bar: call it once Run returns, before printing a summary.
func ProgressBar(w io.Writer, desc string, enabled bool) (opts []transfer.Option, finish func()) {
	f, ok := w.(*os.File)
	if !enabled || !ok || !term.IsTerminal(int(f.Fd())) {
		return nil, func() {}
	}
	bar := progressbar.NewOptions64(-1,
		progressbar.OptionSetWriter(w),
		progressbar.OptionShowBytes(true),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionShowElapsedTimeOnFinish(),
	)
	opts = append(opts, transfer.OnProgress(200*time.Millisecond, func(p transfer.Progress) {
		if p.BytesTotal > 0 {
			bar.ChangeMax64(p.BytesTotal)
		}
		bar.Set64(p.BytesRead)
	}))
	return opts, func() {
		bar.Finish()
		fmt.Fprintln(w)
	}
}
