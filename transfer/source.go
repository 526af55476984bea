package transfer

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"sync/atomic"

	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"

	"github.com/rdbferry/rdbferry/rdb"
)

// Source is where a transfer's records come from.
type Source interface {
	// Open starts reading. The records of the returned Reader are valid
	// until its next call to Next.
	Open(ctx context.Context) (Reader, error)
	// String names the source in messages, e.g. "file dump.rdb".
	String() string
}

// Reader reads the records of an opened Source.
type Reader interface {
	// Next returns the next record, and io.EOF once the snapshot has been
	// read to its verified end.
	Next() (rdb.Record, error)
	// Progress returns the bytes consumed so far and the total, or -1 when
	// the total is unknown.
	Progress() (read, total int64)
	// Info describes the snapshot (after the first record).
	Info() SourceInfo
	// Close releases the source.
	Close() error
}

// SourceInfo describes a snapshot being read.
type SourceInfo struct {
	Name    string
	Version int        // RDB version
	Flavor  rdb.Flavor // as far as the records read so far tell
	// ReplID and ReplOffset are the replication id and offset of a
	// snapshot taken over PSYNC (where a continuous sync would resume).
	ReplID     string
	ReplOffset int64
}

// File returns a source reading an RDB file, decompressing gzip, zstd and
// lz4 files (recognized by their first bytes, whatever their name).
func File(path string) Source { return fileSource(path) }

type fileSource string

func (f fileSource) String() string { return "file " + string(f) }

func (f fileSource) Open(ctx context.Context) (Reader, error) {
	fh, err := os.Open(string(f))
	if err != nil {
		return nil, err
	}
	total := int64(-1)
	if st, err := fh.Stat(); err == nil && st.Mode().IsRegular() {
		total = st.Size()
	}
	r, err := newStreamReader(f.String(), fh, total)
	if err != nil {
		fh.Close()
		return nil, err
	}
	return r, nil
}

// FromReader returns a source reading an RDB snapshot, possibly
// compressed, from r (standard input, an HTTP body, …). name appears in
// messages. Open can be called once.
func FromReader(r io.Reader, name string) Source { return &readerSource{r: r, name: name} }

type readerSource struct {
	r    io.Reader
	name string
}

func (s *readerSource) String() string { return s.name }

func (s *readerSource) Open(ctx context.Context) (Reader, error) {
	return newStreamReader(s.name, io.NopCloser(s.r), -1)
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// streamReader is a Reader over an RDB byte stream.
type streamReader struct {
	name   string
	rc     io.Closer
	count  *countingReader
	closer func() error // the decompressor's, if any
	rdb    *rdb.Reader
	total  int64
	info   SourceInfo
}

// newStreamReader detects compression and starts an rdb.Reader. total is
// the size of src in bytes, or -1.
func newStreamReader(name string, src io.ReadCloser, total int64) (*streamReader, error) {
	count := &countingReader{r: src}
	br := bufio.NewReaderSize(count, 64<<10)
	plain, closer, err := decompress(br)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &streamReader{name: name, rc: src, count: count, closer: closer, rdb: rdb.NewReader(plain), total: total, info: SourceInfo{Name: name}}, nil
}

// Compression magic numbers.
var (
	gzipMagic = []byte{0x1f, 0x8b}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
	lz4Magic  = []byte{0x04, 0x22, 0x4d, 0x18}
)

// decompress returns a reader of br's decompressed contents, by the first
// bytes of the stream.
func decompress(br *bufio.Reader) (io.Reader, func() error, error) {
	head, _ := br.Peek(4)
	switch {
	case bytes.HasPrefix(head, gzipMagic):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("gzip: %w", err)
		}
		return zr, zr.Close, nil
	case bytes.HasPrefix(head, zstdMagic):
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
		if err != nil {
			return nil, nil, fmt.Errorf("zstd: %w", err)
		}
		return zr, func() error { zr.Close(); return nil }, nil
	case bytes.HasPrefix(head, lz4Magic):
		return lz4.NewReader(br), nil, nil
	}
	return br, nil, nil
}

func (s *streamReader) Next() (rdb.Record, error) {
	rec, err := s.rdb.Next()
	if s.info.Version == 0 {
		s.info.Version = s.rdb.Version()
	}
	s.info.Flavor = s.rdb.Flavor()
	if err != nil && err != io.EOF {
		err = fmt.Errorf("%s: %w", s.name, err)
	}
	return rec, err
}

func (s *streamReader) Progress() (int64, int64) { return s.count.n.Load(), s.total }

func (s *streamReader) Info() SourceInfo { return s.info }

func (s *streamReader) Close() error {
	if s.closer != nil {
		s.closer()
	}
	return s.rc.Close()
}
