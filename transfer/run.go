package transfer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/rdbferry/rdbferry/rdb"
	"github.com/rdbferry/rdbferry/restore"
)

// Stats is the outcome of Run. When Run returns no error, KeysRead equals
// KeysWritten + KeysFiltered + KeysSkipped + KeysFailed. When it returns an
// error, the counts say what was done before it; the key in hand when the
// transfer stopped may be counted as read and nothing else.
type Stats struct {
	KeysRead     int64
	KeysWritten  int64
	KeysFiltered int64 // dropped by a filter
	KeysSkipped  int64 // already expired, or existing on the target (skip policy)
	KeysFailed   int64 // see Failures

	KeysSkippedExpired  int64
	KeysSkippedExisting int64

	KeysConverted          int64
	KeysViaCommands        int64
	FieldTTLsDropped       int64
	MemberExpiresStripped  int64
	MemberExpiresConverted int64
	RecordsDropped         int64 // functions, KeyDB aux fields the sink could not carry
	// What keys lost on the way although they were written (see
	// rdb.Conversion and restore.Stats).
	StreamMetaDropped  int64 // streams without the metadata the target's encoding lacks
	PendingEntriesLost int64 // stream PEL entries the command path cannot recreate
	KeyMetaDropped     int64 // keys whose Redis 8.6 key metadata the target cannot hold

	// KeysVanished counts keys a SCAN source listed that were deleted or
	// expired on the source before they could be dumped (not read, so not
	// in KeysRead).
	KeysVanished int64

	BytesRead int64 // bytes of the snapshot; keys for SCAN sources
	Duration  time.Duration
	Source    SourceInfo
	Failures  []restore.Failure // the first failures (up to 1000)
}

// Progress is reported while Run works.
type Progress struct {
	BytesRead  int64
	BytesTotal int64 // -1 when unknown
	Keys       int64 // keys read
	KeysPerSec float64
	Elapsed    time.Duration
	ETA        time.Duration // 0 when unknown
}

// Percent returns the share of the source read, or -1 when the total is unknown.
func (p Progress) Percent() float64 {
	if p.BytesTotal <= 0 {
		return -1
	}
	return 100 * float64(p.BytesRead) / float64(p.BytesTotal)
}

// OnProgress calls fn about every interval while Run reads, and once at
// the end.
func OnProgress(interval time.Duration, fn func(Progress)) Option {
	return func(c *config) { c.progressEvery, c.progress = interval, fn }
}

var errExpired = errors.New("expired")

// Run reads every record of src, applies the options' filters and
// transforms to its keys, and writes them to sink. It stops at the first
// error of the source or the sink, or when ctx is done; per-key failures
// are counted in Stats and do not stop it. Run closes sink on every path;
// a file sink is removed rather than completed when the transfer fails.
func Run(ctx context.Context, src Source, sink Sink, opts ...Option) (Stats, error) {
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	start := time.Now()
	var st Stats
	r, err := src.Open(ctx)
	if err != nil {
		// The sink is Run's to close, whatever happens (a server sink holds
		// connections and goroutines).
		if a, ok := sink.(interface{ abort() }); ok {
			a.abort()
		} else {
			sink.Close(ctx)
		}
		return st, fmt.Errorf("transfer: opening %v: %w", src, err)
	}
	defer r.Close()

	err = run(ctx, r, sink, &cfg, &st, start)
	if err != nil {
		if a, ok := sink.(interface{ abort() }); ok {
			a.abort()
		}
	}
	res, cerr := sink.Close(ctx)
	if err == nil {
		err = cerr
	}
	st.KeysWritten = res.Written
	st.KeysSkippedExisting = res.SkippedExisting
	st.KeysSkippedExpired += res.SkippedExpired
	st.KeysSkipped = st.KeysSkippedExisting + st.KeysSkippedExpired
	st.KeysFailed += res.Failed
	st.Failures = append(st.Failures, res.Failures...)
	if len(st.Failures) > 1000 {
		st.Failures = st.Failures[:1000]
	}
	st.KeysConverted = res.Converted
	st.KeysViaCommands = res.ViaCommands
	st.FieldTTLsDropped = res.FieldTTLsDropped
	st.MemberExpiresStripped = res.MemberExpiresStripped
	st.MemberExpiresConverted = res.MemberExpiresConverted
	st.RecordsDropped = res.RecordsDropped
	st.StreamMetaDropped = res.StreamMetaDropped
	st.PendingEntriesLost = res.PendingEntriesLost
	st.KeyMetaDropped = res.KeyMetaDropped
	st.BytesRead, _ = r.Progress()
	if sr, ok := r.(ScanReporter); ok {
		st.KeysVanished = sr.ScanStats().Skipped
	}
	st.Duration = time.Since(start)
	st.Source = r.Info()
	if cfg.progress != nil {
		cfg.progress(progressOf(r, st.KeysRead, start))
	}
	if err == nil && st.KeysRead != st.KeysWritten+st.KeysFiltered+st.KeysSkipped+st.KeysFailed {
		err = fmt.Errorf("transfer: %d keys read but %d written + %d filtered + %d skipped + %d failed",
			st.KeysRead, st.KeysWritten, st.KeysFiltered, st.KeysSkipped, st.KeysFailed)
	}
	return st, err
}

func run(ctx context.Context, r Reader, sink Sink, cfg *config, st *Stats, start time.Time) error {
	begun := false
	lastProgress := start
	var renamed rdb.Key
	for n := 0; ; n++ {
		if n&255 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			if cfg.progress != nil && time.Since(lastProgress) >= cfg.progressEvery {
				lastProgress = time.Now()
				cfg.progress(progressOf(r, st.KeysRead, start))
			}
		}
		rec, err := r.Next()
		if !begun && (err == nil || err == io.EOF) {
			begun = true
			if berr := sink.Begin(ctx, r.Info()); berr != nil {
				return berr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		k, ok := rec.(*rdb.Key)
		if !ok {
			if err := sink.Write(ctx, rec); err != nil {
				return err
			}
			continue
		}
		st.KeysRead++
		keep := true
		for _, f := range cfg.filters {
			ok, ferr := f(k)
			if ferr == errExpired {
				st.KeysSkippedExpired++
				keep = false
				break
			}
			if ferr != nil {
				return fmt.Errorf("transfer: filter on key %s: %w", rdb.QuoteKey(k.Key), ferr)
			}
			if !ok {
				st.KeysFiltered++
				keep = false
				break
			}
		}
		if !keep {
			continue
		}
		if to, ok := cfg.dbMap[k.DB]; ok {
			k.DB = to
		}
		if cfg.rename != nil {
			renamed = *k
			renamed.Key = cfg.rename(k.Key)
			k = &renamed
		}
		if err := sink.Write(ctx, k); err != nil {
			return err
		}
	}
}

func progressOf(r Reader, keys int64, start time.Time) Progress {
	read, total := r.Progress()
	p := Progress{BytesRead: read, BytesTotal: total, Keys: keys, Elapsed: time.Since(start)}
	if secs := p.Elapsed.Seconds(); secs > 0 {
		p.KeysPerSec = float64(keys) / secs
		if total > 0 && read > 0 && read < total {
			p.ETA = time.Duration(float64(p.Elapsed) * float64(total-read) / float64(read))
		}
	}
	return p
}
