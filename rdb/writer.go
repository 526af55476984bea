package rdb

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"
)

// WriterOptions configure a Writer.
type WriterOptions struct {
	// Version is the RDB version to write (1–13, or 80 for Valkey 9).
	// Zero means the newest Redis version, MaxRedisVersion.
	Version int
	// KeyDB makes the Writer write KeyDB's member expirations
	// (Key.MemberExpires) and accept KeyDB cron values. Without it, a key
	// carrying member expirations is refused: strip them first (see Convert).
	KeyDB bool
	// NoCompression stores strings the Writer encodes itself (aux fields,
	// function code) without LZF. Raw values pass through unchanged either way.
	NoCompression bool
}

// Writer writes an RDB file: records are written as they come, with memory
// bounded by a buffer, and Close writes the end marker and the CRC-64.
//
// Values are written as given (Key.Raw): the Writer checks that the file's
// version can hold each value's type but does not re-encode values; use
// Convert for values of newer encodings.
//
// Errors are sticky: after a write fails, every later call returns the same
// error.
type Writer struct {
	w       *bufio.Writer
	opts    WriterOptions
	crc     uint64
	err     error
	started bool
	closed  bool
	scratch []byte
	db      int // the database selected last (0 until a SELECTDB)
}

// ErrWriterClosed is returned by writes after Close.
var ErrWriterClosed = errors.New("rdb: write after Close")

// NewWriter returns a Writer writing an RDB file to dst. It does not close
// dst. Compression is the caller's: pass a gzip or zstd writer as dst.
func NewWriter(dst io.Writer, opts WriterOptions) *Writer {
	if opts.Version == 0 {
		opts.Version = MaxRedisVersion
	}
	w := &Writer{w: bufio.NewWriterSize(dst, 256<<10), opts: opts}
	if !validVersion(opts.Version) {
		w.err = unsupportedf("writing RDB version %d", opts.Version)
	}
	return w
}

func validVersion(v int) bool {
	return v >= 1 && v <= MaxRedisVersion || v >= ValkeyMinVersion && v <= MaxValkeyVersion
}

// Version returns the RDB version the Writer writes.
func (w *Writer) Version() int { return w.opts.Version }

// write appends p to the output and the checksum.
func (w *Writer) write(p []byte) {
	if w.err != nil {
		return
	}
	w.crc = CRC64(w.crc, p)
	_, w.err = w.w.Write(p)
}

func (w *Writer) begin() error {
	if w.closed && w.err == nil {
		w.err = ErrWriterClosed
	}
	if w.err != nil {
		return w.err
	}
	if !w.started {
		w.started = true
		if w.opts.Version >= ValkeyMinVersion {
			w.write([]byte(fmt.Sprintf("VALKEY%03d", w.opts.Version)))
		} else {
			w.write([]byte(fmt.Sprintf("REDIS%04d", w.opts.Version)))
		}
	}
	return w.err
}

// writeLen writes an RDB length in its smallest form.
func (w *Writer) writeLen(n uint64) {
	w.scratch = appendLen(w.scratch[:0], n)
	w.write(w.scratch)
}

// appendLen appends an RDB length in its smallest form, as rdbSaveLen does.
func appendLen(dst []byte, n uint64) []byte {
	switch {
	case n < 1<<6:
		return append(dst, byte(n))
	case n < 1<<14:
		return append(dst, byte(n>>8)|0x40, byte(n))
	case n <= math.MaxUint32:
		dst = append(dst, 0x80)
		return binary.BigEndian.AppendUint32(dst, uint32(n))
	}
	dst = append(dst, 0x81)
	return binary.BigEndian.AppendUint64(dst, n)
}

// appendString appends s as an RDB string the way Redis saves one: an
// integer encoding when s is a canonical integer (string2ll) that fits 32 bits, LZF when
// compress is set, s is longer than 20 bytes and shrinks by at least 4
// bytes, and plain otherwise.
func appendString(dst, s []byte, compress bool) []byte {
	if len(s) <= 11 {
		if v, ok := packedStringInt(s); ok {
			switch {
			case v >= math.MinInt8 && v <= math.MaxInt8:
				return append(dst, 0xC0|encInt8, byte(v))
			case v >= math.MinInt16 && v <= math.MaxInt16:
				return binary.LittleEndian.AppendUint16(append(dst, 0xC0|encInt16), uint16(v))
			case v >= math.MinInt32 && v <= math.MaxInt32:
				return binary.LittleEndian.AppendUint32(append(dst, 0xC0|encInt32), uint32(v))
			}
		}
	}
	if compress && len(s) > 20 {
		if c, ok := lzfCompress(nil, s); ok && len(c) <= len(s)-4 {
			dst = append(dst, 0xC0|encLZF)
			dst = appendLen(dst, uint64(len(c)))
			dst = appendLen(dst, uint64(len(s)))
			return append(dst, c...)
		}
	}
	dst = appendLen(dst, uint64(len(s)))
	return append(dst, s...)
}

func (w *Writer) writeString(s []byte) {
	w.scratch = appendString(w.scratch[:0], s, !w.opts.NoCompression)
	w.write(w.scratch)
}

// WriteAux writes an aux field (RDB 7+; ignored for older versions, which
// have no aux fields).
func (w *Writer) WriteAux(key, value string) error {
	if w.begin() != nil || w.opts.Version < 7 {
		return w.err
	}
	w.write([]byte{opAux})
	w.writeString([]byte(key))
	w.writeString([]byte(value))
	return w.err
}

// WriteStandardAux writes the aux fields Redis puts at the start of a file:
// redis-ver (a release of the file's RDB version, e.g. "7.0.0" for RDB 10,
// or valkey-ver for Valkey versions), redis-bits, ctime, used-mem, and
// aof-base (RDB 10+) or aof-preamble (RDB 8–9).
func (w *Writer) WriteStandardAux(ctime time.Time) error {
	verKey, ver := "redis-ver", releaseOfVersion(w.opts.Version)
	if w.opts.Version >= ValkeyMinVersion {
		verKey = "valkey-ver"
	}
	w.WriteAux(verKey, ver)
	w.WriteAux("redis-bits", "64")
	w.WriteAux("ctime", strconv.FormatInt(ctime.Unix(), 10))
	w.WriteAux("used-mem", "0")
	switch {
	case w.opts.Version >= 10:
		w.WriteAux("aof-base", "0")
	case w.opts.Version >= 8:
		w.WriteAux("aof-preamble", "0")
	}
	return w.err
}

// SelectDB starts database db, followed (RDB 7+) by a RESIZEDB hint of keys
// and keys with an expiration; pass zeros when unknown.
func (w *Writer) SelectDB(db int, keys, expires uint64) error {
	if w.begin() != nil {
		return w.err
	}
	if w.selectDB(db) != nil {
		return w.err
	}
	if w.opts.Version >= 7 {
		w.write([]byte{opResizeDB})
		w.writeLen(keys)
		w.writeLen(expires)
	}
	return w.err
}

// selectDB writes a SELECTDB record and remembers db as the current one.
func (w *Writer) selectDB(db int) error {
	if db < 0 {
		return w.fail(fmt.Errorf("rdb: negative database %d", db))
	}
	w.write([]byte{opSelectDB})
	w.writeLen(uint64(db))
	w.db = db
	return w.err
}

func (w *Writer) fail(err error) error {
	if w.err == nil {
		w.err = err
	}
	return w.err
}

// CanHold reports whether files of the Writer's version can hold values of
// type t.
func (w *Writer) CanHold(t Type) bool {
	return VersionCanHold(w.opts.Version, t, w.opts.KeyDB)
}

// VersionCanHold reports whether RDB files of the given version can hold
// values of type t. Valkey's own types need a Valkey version (80+), Redis's
// types 22 and up a Redis version; KeyDB cron jobs need keydb.
func VersionCanHold(version int, t Type, keydb bool) bool {
	minV := t.MinVersion()
	switch {
	case minV == 0:
		return false
	case t == TypeKeyDBCron:
		return keydb && version >= minV && version < ValkeyMinVersion
	case t&valkeyType != 0:
		return version >= minV
	case version >= ValkeyMinVersion:
		// Valkey reads Redis's types up to 21 (RDB 11).
		return minV <= 11 && t.Byte() < 22
	}
	return version >= minV
}

// WriteKey writes a key record: expiration, LRU idle time or LFU frequency
// (RDB 9+, dropped for older versions), key metadata (RDB 13), the key and
// its raw value, and for KeyDB files its member expirations. The key goes
// into database k.DB: a SELECTDB record comes first when that is not the
// database selected last.
func (w *Writer) WriteKey(k *Key) error {
	if w.begin() != nil {
		return w.err
	}
	if k.DB != w.db && w.selectDB(k.DB) != nil {
		return w.err
	}
	if !w.CanHold(k.Type) {
		return w.fail(&FormatError{Offset: k.Offset(), Key: append([]byte(nil), k.Key...),
			Err: unsupportedf("%v values cannot be written in RDB version %d: convert the value first", k.Type, w.opts.Version)})
	}
	if len(k.MemberExpires) > 0 && !w.opts.KeyDB {
		return w.fail(&FormatError{Offset: k.Offset(), Key: append([]byte(nil), k.Key...),
			Err: fmt.Errorf("rdb: key has %d KeyDB member expirations and the Writer is not writing a KeyDB file: strip or convert them first", len(k.MemberExpires))})
	}
	b := w.scratch[:0]
	if k.ExpireAt != 0 {
		if w.opts.Version >= 3 {
			b = append(b, opExpireTimeMs)
			b = binary.LittleEndian.AppendUint64(b, uint64(k.ExpireAt))
		} else {
			b = append(b, opExpireTime)
			b = binary.LittleEndian.AppendUint32(b, uint32((k.ExpireAt+999)/1000))
		}
	}
	if w.opts.Version >= 9 {
		if k.Idle >= 0 {
			b = append(b, opIdle)
			b = appendLen(b, uint64(k.Idle))
		} else if k.Freq >= 0 {
			b = append(b, opFreq, byte(k.Freq))
		}
	}
	if k.Meta != nil && w.opts.Version >= 13 && w.opts.Version < ValkeyMinVersion {
		b = append(b, opKeyMeta)
		b = append(b, k.Meta...)
	}
	b = append(b, k.Type.Byte())
	b = appendLen(b, uint64(len(k.Key)))
	b = append(b, k.Key...)
	w.scratch = b
	w.write(b)
	w.write(k.Raw)
	for _, m := range k.MemberExpires {
		w.WriteAux(auxKeyDBSubexpireKey, string(m.Member))
		w.WriteAux(auxKeyDBSubexpireWhen, strconv.FormatInt(m.ExpireAt, 10))
	}
	return w.err
}

// WriteFunction writes a function library (RDB 10+). Libraries in the
// pre-GA format are written in the GA form.
func (w *Writer) WriteFunction(f *Function) error {
	if w.begin() != nil {
		return w.err
	}
	if w.opts.Version < 10 {
		return w.fail(unsupportedf("function libraries cannot be written in RDB version %d", w.opts.Version))
	}
	w.write([]byte{opFunction2})
	w.writeString([]byte(f.LibraryCode()))
	return w.err
}

// LibraryCode returns the library's code as Redis 7.0 GA and later store
// it: for a pre-GA function, its code under a "#!engine name=…" line.
func (f *Function) LibraryCode() string {
	if !f.PreGA {
		return f.Code
	}
	return "#!" + lower(f.Engine) + " name=" + f.Name + "\n" + f.Code
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// WriteModuleAux writes module auxiliary data (RDB 9+).
func (w *Writer) WriteModuleAux(m *ModuleAux) error {
	if w.begin() != nil {
		return w.err
	}
	if w.opts.Version < 9 {
		return w.fail(unsupportedf("module aux data cannot be written in RDB version %d", w.opts.Version))
	}
	b := append(w.scratch[:0], opModuleAux)
	b = appendLen(b, m.ModuleID)
	b = appendLen(b, moduleOpUInt)
	b = appendLen(b, m.When)
	w.scratch = b
	w.write(b)
	w.write(m.Raw)
	return w.err
}

// WriteRecord writes a record as read by a Reader. Aux fields, select-db,
// resize-db, keys, functions and module aux data are written; slot info and
// slot imports, which describe a cluster node's state, are not.
func (w *Writer) WriteRecord(rec Record) error {
	switch rec := rec.(type) {
	case *Key:
		return w.WriteKey(rec)
	case *Aux:
		return w.WriteAux(rec.Key, rec.Value)
	case *SelectDB:
		if w.begin() != nil {
			return w.err
		}
		return w.selectDB(rec.DB)
	case *ResizeDB:
		if w.begin() != nil || w.opts.Version < 7 {
			return w.err
		}
		w.write([]byte{opResizeDB})
		w.writeLen(rec.Keys)
		w.writeLen(rec.Expires)
		return w.err
	case *Function:
		return w.WriteFunction(rec)
	case *ModuleAux:
		return w.WriteModuleAux(rec)
	case *SlotInfo, *SlotImport:
		return w.begin()
	}
	return w.fail(fmt.Errorf("rdb: cannot write record of type %T", rec))
}

// Close writes the end-of-file marker and (RDB 5+) the CRC-64, and flushes.
// It does not close the underlying writer.
func (w *Writer) Close() error {
	if w.closed {
		return w.err
	}
	if w.begin() != nil {
		w.closed = true
		return w.err
	}
	w.write([]byte{opEOF})
	if w.opts.Version >= checksumMinVersion && w.err == nil {
		var sum [8]byte
		binary.LittleEndian.PutUint64(sum[:], w.crc)
		_, w.err = w.w.Write(sum[:])
	}
	if w.err == nil {
		w.err = w.w.Flush()
	}
	w.closed = true
	return w.err
}

// releaseOfVersion returns the release the "redis-ver"/"valkey-ver" aux
// field names for a file of version v.
func releaseOfVersion(v int) string {
	if v >= ValkeyMinVersion {
		return ReleaseFor(FlavorValkey, v) + ".0"
	}
	return ReleaseFor(FlavorRedis, v) + ".0"
}
