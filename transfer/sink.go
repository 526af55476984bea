package transfer

import (
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"

	"github.com/rdbferry/rdbferry/rdb"
	"github.com/rdbferry/rdbferry/restore"
)

// Sink is where a transfer's records go. Run closes it, whatever happens.
type Sink interface {
	// Begin is called once, before the first record.
	Begin(ctx context.Context, src SourceInfo) error
	// Write takes one record. Records and their bytes are valid only
	// during the call. Keys already filtered and remapped by Run arrive
	// here; an error stops the transfer (per-key failures are not errors:
	// they are counted in the Result).
	Write(ctx context.Context, rec rdb.Record) error
	// Close finishes the sink and reports what happened to the keys.
	Close(ctx context.Context) (Result, error)
}

// Result is what a Sink did with the keys it was given. Every key ends
// as written, skipped or failed.
type Result struct {
	Written         int64
	SkippedExisting int64
	SkippedExpired  int64
	Failed          int64
	Failures        []restore.Failure // the first ones, with db, key and reason

	Converted              int64
	ViaCommands            int64
	FieldTTLsDropped       int64
	MemberExpiresStripped  int64
	MemberExpiresConverted int64
	// RecordsDropped counts non-key records the sink could not carry
	// (functions or KeyDB aux fields for a target without them).
	RecordsDropped int64
	// Written keys that lost part of themselves on the way.
	StreamMetaDropped  int64 // streams whose metadata the target's encoding lacks
	PendingEntriesLost int64 // stream PEL entries the command path cannot recreate
	KeyMetaDropped     int64 // keys whose Redis 8.6 key metadata the target cannot hold
}

// Server returns a sink writing into a server or cluster through w. Close
// closes w. Function libraries and module aux data are not written to
// servers and are counted in Result.RecordsDropped; aux fields (the
// snapshot's own metadata) are ignored.
func Server(w *restore.Writer) Sink { return &serverSink{w: w} }

type serverSink struct {
	w       *restore.Writer
	dropped int64 // function libraries and module aux records
}

func (s *serverSink) Begin(context.Context, SourceInfo) error { return nil }

func (s *serverSink) Write(ctx context.Context, rec rdb.Record) error {
	switch rec := rec.(type) {
	case *rdb.Key:
		return s.w.Write(ctx, rec)
	case *rdb.Function, *rdb.ModuleAux:
		s.dropped++
	}
	return nil
}

func (s *serverSink) Close(ctx context.Context) (Result, error) {
	st, err := s.w.Close(ctx)
	return Result{
		Written: st.Written, SkippedExisting: st.SkippedExisting, SkippedExpired: st.SkippedExpired,
		Failed: st.Failed, Failures: s.w.Failures(), Converted: st.Converted, ViaCommands: st.ViaCommands,
		FieldTTLsDropped: st.FieldTTLsDropped, MemberExpiresStripped: st.MemberExpiresStripped,
		MemberExpiresConverted: st.MemberExpiresConverted, RecordsDropped: s.dropped,
		StreamMetaDropped: st.StreamMetaDropped, PendingEntriesLost: st.PendingEntriesLost, KeyMetaDropped: st.MetaDropped,
	}, err
}

// FileOptions configure an RDB file sink.
type FileOptions struct {
	// Target is the server family and RDB version the file is for. The zero
	// value means the source's own version and flavor.
	Target rdb.Target
	// Convert tunes how values newer than Target are re-encoded.
	Convert rdb.ConvertOptions
	// DropExpired leaves out keys that have already expired.
	DropExpired bool
}

// ToFile returns a sink writing a new RDB file, compressed by the path's
// extension: .gz (gzip), .zst (zstd), .lz4 (lz4), anything else plain. The
// file is written under a temporary name and renamed into place by Close,
// so a failed transfer leaves no partial file behind.
func ToFile(path string, opts FileOptions) Sink {
	return &fileSink{path: path, opts: opts}
}

// ToWriter returns a sink writing an uncompressed RDB stream to w.
func ToWriter(w io.Writer, opts FileOptions) Sink {
	return &fileSink{dst: w, opts: opts}
}

type fileSink struct {
	path string
	dst  io.Writer
	opts FileOptions

	f      *os.File
	bw     *bufio.Writer
	comp   io.WriteCloser
	w      *rdb.Writer
	target rdb.Target
	res    Result
	buf    []byte
	now    int64
	// aborted: the transfer failed; Close must not complete the file
	// with an end marker and checksum.
	aborted bool
}

func (s *fileSink) Begin(ctx context.Context, src SourceInfo) error {
	s.target = s.opts.Target
	if s.target.Version == 0 {
		s.target = rdb.Target{Flavor: src.Flavor, Version: src.Version}
	}
	out := s.dst
	if s.path != "" {
		f, err := os.CreateTemp(filepath.Dir(s.path), "."+filepath.Base(s.path)+".tmp*")
		if err != nil {
			return err
		}
		s.f = f
		s.bw = bufio.NewWriterSize(f, 256<<10)
		out = s.bw
		switch {
		case strings.HasSuffix(s.path, ".gz"):
			s.comp = gzip.NewWriter(out)
		case strings.HasSuffix(s.path, ".zst"):
			zw, err := zstd.NewWriter(out, zstd.WithEncoderConcurrency(1))
			if err != nil {
				return err
			}
			s.comp = zw
		case strings.HasSuffix(s.path, ".lz4"):
			s.comp = lz4.NewWriter(out)
		}
		if s.comp != nil {
			out = s.comp
		}
	}
	s.w = rdb.NewWriter(out, rdb.WriterOptions{Version: s.target.Version, KeyDB: s.target.Flavor == rdb.FlavorKeyDB})
	s.now = time.Now().UnixMilli()
	return nil
}

func (s *fileSink) Write(ctx context.Context, rec rdb.Record) error {
	switch rec := rec.(type) {
	case *rdb.Key:
		return s.writeKey(rec)
	case *rdb.Aux:
		if s.target.Flavor != rdb.FlavorKeyDB && (rec.Key == "repl-masters" || strings.HasPrefix(rec.Key, "keydb-")) {
			s.res.RecordsDropped++
			return nil
		}
	case *rdb.Function:
		if s.target.Version < 10 {
			s.res.RecordsDropped++
			return nil
		}
	case *rdb.ModuleAux:
		if s.target.Version < 9 {
			s.res.RecordsDropped++
			return nil
		}
	}
	return s.w.WriteRecord(rec)
}

func (s *fileSink) writeKey(k *rdb.Key) error {
	if s.opts.DropExpired && k.ExpireAt != 0 && k.ExpireAt <= s.now {
		s.res.SkippedExpired++
		return nil
	}
	c, err := rdb.Convert(k, s.target, s.opts.Convert, s.buf[:0])
	if err != nil {
		if errors.Is(err, rdb.ErrNotRepresentable) || isFormatError(err) {
			s.res.Failed++
			if len(s.res.Failures) < 1000 {
				s.res.Failures = append(s.res.Failures, restore.Failure{DB: k.DB, Key: append([]byte(nil), k.Key...), Err: err})
			}
			return nil
		}
		return err
	}
	if c.Reencoded {
		s.buf = c.Raw
		s.res.Converted++
	}
	s.res.FieldTTLsDropped += int64(c.FieldTTLsDropped)
	s.res.MemberExpiresStripped += int64(c.MemberExpiresStripped)
	s.res.MemberExpiresConverted += int64(c.MemberExpiresConverted)
	if c.StreamMetaDropped {
		s.res.StreamMetaDropped++
	}
	if c.MetaDropped {
		s.res.KeyMetaDropped++
	}
	out := *k
	out.Type, out.Raw, out.MemberExpires, out.Meta = c.Type, c.Raw, c.MemberExpires, c.Meta
	if err := s.w.WriteKey(&out); err != nil {
		return err
	}
	s.res.Written++
	return nil
}

func isFormatError(err error) bool {
	var fe *rdb.FormatError
	return errors.As(err, &fe)
}

func (s *fileSink) Close(ctx context.Context) (Result, error) {
	if s.w == nil {
		return s.res, errors.New("transfer: file sink closed before Begin")
	}
	if s.aborted {
		return s.res, nil
	}
	err := s.w.Close()
	if s.comp != nil {
		if cerr := s.comp.Close(); err == nil {
			err = cerr
		}
	}
	if s.f != nil {
		if ferr := s.bw.Flush(); err == nil {
			err = ferr
		}
		if ferr := s.f.Sync(); err == nil {
			err = ferr
		}
		if ferr := s.f.Close(); err == nil {
			err = ferr
		}
		if err == nil {
			err = os.Rename(s.f.Name(), s.path)
		}
		if err != nil {
			os.Remove(s.f.Name())
			return s.res, fmt.Errorf("transfer: writing %s: %w", s.path, err)
		}
	}
	return s.res, err
}

// abort removes a partial file, and leaves a partial stream without the
// end marker and checksum that would make it read as complete.
func (s *fileSink) abort() {
	s.aborted = true
	if s.f != nil {
		s.f.Close()
		os.Remove(s.f.Name())
	}
}
