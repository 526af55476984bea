package rdb_test

// Bad input: truncated and bit-flipped corpus files, forged lengths, broken
// checksums and misbehaving sources. The Reader must answer each with an
// error (a *rdb.FormatError naming an offset), never a panic, a hang or a
// huge allocation.

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/rdbferry/rdbferry/rdb"
)

const (
	badInputMaxFile = 64 << 10 // files above this are left to the other tests
	everyOffsetMax  = 4 << 10  // files below this are cut at every offset
	perFileDeadline = 20 * time.Second
)

// withDeadline runs fn in a goroutine and fails the test if it has not
// returned within d (a hang); a panic in fn is reported as a failure with
// what describing the input.
func withDeadline(t *testing.T, d time.Duration, what string, fn func()) {
	t.Helper()
	done := make(chan any, 1)
	go func() {
		defer func() { done <- recover() }()
		fn()
	}()
	select {
	case p := <-done:
		if p != nil {
			t.Fatalf("%s: panic: %v", what, p)
		}
	case <-time.After(d):
		t.Fatalf("%s: no answer within %v (hang?)", what, d)
	}
}

// readAll parses data to the end, decoding values when decode is set. It
// returns the error that ended Next (nil for io.EOF) and any value errors.
// A panic propagates, annotated with the input.
func readAll(data []byte, decode bool, what string) (valueErrs []error, err error) {
	defer func() {
		if p := recover(); p != nil {
			panic(fmt.Sprintf("%s (input %d bytes, sha256 %x): %v", what, len(data), sha256.Sum256(data), p))
		}
	}()
	r := rdb.NewReader(bytes.NewReader(data))
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return valueErrs, nil
		}
		if err != nil {
			// Errors are sticky.
			if _, err2 := r.Next(); err2 != err {
				return valueErrs, fmt.Errorf("second Next returned %v after %w", err2, err)
			}
			return valueErrs, err
		}
		if k, ok := rec.(*rdb.Key); ok && decode {
			if _, verr := k.Value(); verr != nil {
				valueErrs = append(valueErrs, verr)
			}
		}
	}
}

// badInputFiles returns the corpus files small enough for the bad-input
// tests, with their contents, leaving out byte-identical copies (24
// hdt3213-cases files repeat rdbtools-dumps).
func badInputFiles(t *testing.T) map[string][]byte {
	out := map[string][]byte{}
	seen := map[[32]byte]bool{}
	for _, rel := range corpusRDBFiles(t) {
		data := readCorpus(t, rel)
		sum := sha256.Sum256(data)
		if len(data) <= badInputMaxFile && !seen[sum] {
			seen[sum] = true
			out[rel] = data
		}
	}
	return out
}

// fastGC makes the garbage collector run less often for the rest of the
// test: every Reader allocates a 256 KiB buffer, and the thousands of
// short-lived Readers of these tests otherwise spend most of their time in
// GC cycles.
func fastGC(t *testing.T) {
	old := debug.SetGCPercent(800)
	t.Cleanup(func() { debug.SetGCPercent(old) })
}

// fileEnd returns where a corpus file's records end (before any trailing
// bytes after the checksum) and whether it ends with a non-zero CRC-64 that
// the Reader verifies (RDB 5+).
func fileEnd(rel string, data []byte) (end int, checked bool) {
	end = len(data) - trailingBytes[rel]
	p := parseCorpusBytes(rel, data)
	if p.Version >= 5 {
		crc := binary.LittleEndian.Uint64(data[end-8 : end])
		return end, crc != 0
	}
	return end, false
}

func parseCorpusBytes(rel string, data []byte) *parsedFile {
	if p, ok := parsedCache.Load(rel); ok {
		return p.(*parsedFile)
	}
	return parseAll(rel, bytes.NewReader(data), false)
}

// truncationOffsets returns where to cut a file of size n: everywhere for
// small files; for larger ones the first and last 64 bytes and a sample.
func truncationOffsets(n int, rng *rand.Rand) []int {
	if n <= everyOffsetMax {
		offs := make([]int, n)
		for i := range offs {
			offs[i] = i
		}
		return offs
	}
	offs := []int{0, 8, 9, 10, n - 9, n - 8, n - 1}
	for i := 0; i < 9; i++ {
		offs = append(offs, 10+rng.IntN(n-20))
	}
	return offs
}

func TestBadInputTruncated(t *testing.T) {
	fastGC(t)
	files := badInputFiles(t)
	for rel, data := range files {
		t.Run(rel, func(t *testing.T) {
			t.Parallel()
			end, _ := fileEnd(rel, data)
			rng := rand.New(rand.NewPCG(uint64(len(data)), 1))
			withDeadline(t, perFileDeadline, rel, func() {
				for _, n := range truncationOffsets(end, rng) {
					what := fmt.Sprintf("%s cut at %d of %d", rel, n, len(data))
					_, err := readAll(data[:n], false, what)
					if err == nil {
						t.Errorf("%s: no error", what)
						continue
					}
					if !errors.Is(err, io.ErrUnexpectedEOF) {
						t.Errorf("%s: %v does not wrap io.ErrUnexpectedEOF", what, err)
					}
					var fe *rdb.FormatError
					if !errors.As(err, &fe) {
						t.Errorf("%s: %v (%T) is not a *rdb.FormatError", what, err, err)
					} else if fe.Offset < 0 || fe.Offset > int64(n) {
						t.Errorf("%s: error offset %d outside the input: %v", what, fe.Offset, err)
					}
				}
			})
		})
	}
}

// flipPositions returns the byte positions whose bits are flipped: all of a
// tiny file, otherwise a sample (more for small files) including the header
// and the trailer.
func flipPositions(n int, rng *rand.Rand) []int {
	var pos []int
	switch {
	case n <= 64:
		for i := 0; i < n; i++ {
			pos = append(pos, i)
		}
		return pos
	case n <= 512:
		pos = []int{5, 8, 9, n - 9, n - 1}
		for len(pos) < 24 {
			pos = append(pos, rng.IntN(n))
		}
	case n <= everyOffsetMax:
		pos = []int{9, n - 9}
		for len(pos) < 12 {
			pos = append(pos, rng.IntN(n))
		}
	default:
		pos = []int{rng.IntN(n), rng.IntN(n)}
	}
	return pos
}

func TestBadInputBitFlips(t *testing.T) {
	fastGC(t)
	files := badInputFiles(t)
	bigDirs := map[string]bool{}
	for _, rel := range corpusRDBFiles(t) {
		data, ok := files[rel]
		if !ok || len(data) <= everyOffsetMax {
			continue
		}
		// Of the larger files, one per folder.
		if dir := rel[:strings.LastIndexByte(rel, '/')]; bigDirs[dir] {
			delete(files, rel)
		} else {
			bigDirs[dir] = true
		}
	}
	for rel, data := range files {
		t.Run(rel, func(t *testing.T) {
			t.Parallel()
			end, checked := fileEnd(rel, data)
			rng := rand.New(rand.NewPCG(uint64(len(data)), 2))
			buf := make([]byte, len(data))
			var accepted, zeroCRC int
			withDeadline(t, perFileDeadline, rel, func() {
				for _, pos := range flipPositions(len(data), rng) {
					for bit := 0; bit < 8; bit++ {
						copy(buf, data)
						buf[pos] ^= 1 << bit
						what := fmt.Sprintf("%s with bit %d of byte %d flipped", rel, bit, pos)
						verrs, err := readAll(buf, true, what)
						for _, e := range append(verrs, err) {
							if e == nil {
								continue
							}
							var fe *rdb.FormatError
							if !errors.As(e, &fe) {
								t.Errorf("%s: %v (%T) is not a *rdb.FormatError", what, e, e)
							}
						}
						if err != nil || !checked || pos < 9 || pos >= end {
							continue
						}
						// A flip in the body of a file with a checksum must be
						// reported, by the checksum if nothing else. The one
						// way out: a flipped length that makes the Reader
						// stop early at an EOF byte followed by eight zero
						// bytes ("checksum disabled").
						if stop := parseAll(what, bytes.NewReader(buf), false).Offset; stop < int64(end) && bytes.Equal(buf[stop-8:stop], make([]byte, 8)) {
							zeroCRC++
							continue
						}
						accepted++
						t.Errorf("%s: accepted (reached io.EOF) although the file has a checksum", what)
					}
				}
			})
			if zeroCRC > 0 {
				t.Logf("%s: %d flips made the Reader stop early at EOF + a zero checksum", rel, zeroCRC)
			}
		})
	}
}

// --- hand-built files ---

// rdbFile returns an RDB file of the given version with body and a valid
// checksum (when the version has one).
func rdbFile(version int, body ...[]byte) []byte {
	return rdbFileMagic(fmt.Sprintf("REDIS%04d", version), version, body...)
}

// rdbFileMagic is rdbFile with the given 9-byte header.
func rdbFileMagic(header string, version int, body ...[]byte) []byte {
	b := []byte(header)
	for _, p := range body {
		b = append(b, p...)
	}
	b = append(b, 0xFF)
	if version >= 5 {
		b = binary.LittleEndian.AppendUint64(b, rdb.CRC64(0, b))
	}
	return b
}

// rdbStr encodes a plain RDB string.
func rdbStr(s string) []byte {
	return append(rdbLen(uint64(len(s))), s...)
}

// rdbLen encodes a length in the smallest form.
func rdbLen(n uint64) []byte {
	switch {
	case n < 1<<6:
		return []byte{byte(n)}
	case n < 1<<14:
		return []byte{0x40 | byte(n>>8), byte(n)}
	case n <= 0xFFFFFFFF:
		return binary.BigEndian.AppendUint32([]byte{0x80}, uint32(n))
	}
	return binary.BigEndian.AppendUint64([]byte{0x81}, n)
}

// len64 encodes n with the 0x81 64-bit length form.
func len64(n uint64) []byte { return binary.BigEndian.AppendUint64([]byte{0x81}, n) }

// keyRecord is a key record: type byte, key name, value bytes.
func keyRecord(typ byte, key string, value ...[]byte) []byte {
	b := append([]byte{typ}, rdbStr(key)...)
	for _, v := range value {
		b = append(b, v...)
	}
	return b
}

var selectDB0 = []byte{0xFE, 0x00}

// allocBytes returns how many bytes fn allocated on the heap.
func allocBytes(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

const allocLimit = 4 << 20 // "a few MB": the Reader's buffer is 256 KiB

func TestBadInputForgedLengths(t *testing.T) {
	pad := bytes.Repeat([]byte{'x'}, 1000) // the file stays about 1 KB
	zlHeader := func(zlbytes uint32) []byte {
		// A ziplist blob of 11 bytes whose header claims zlbytes.
		zl := binary.LittleEndian.AppendUint32(nil, zlbytes)
		zl = binary.LittleEndian.AppendUint32(zl, 10)
		zl = binary.LittleEndian.AppendUint16(zl, 0)
		return append(zl, 0xFF)
	}
	lzf := func(ulen uint64) []byte {
		// C3 clen ulen data: 10 compressed bytes claiming ulen bytes.
		b := append([]byte{0xC3}, rdbLen(10)...)
		b = append(b, rdbLen(ulen)...)
		return append(b, 9, 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i')
	}
	tests := []struct {
		name string
		file []byte
		// nextOK: the forged length is inside a value Next only walks
		// over; Value must then fail.
		nextOK bool
	}{
		{"string value of 2^40 bytes", rdbFile(11, selectDB0, keyRecord(0, "k", len64(1<<40), pad)), false},
		{"string value of 2^64-1 bytes", rdbFile(11, selectDB0, keyRecord(0, "k", len64(1<<64-1), pad)), false},
		{"key name of 2^40 bytes", rdbFile(11, selectDB0, []byte{0}, len64(1<<40), pad), false},
		{"list of 2^40 elements", rdbFile(11, selectDB0, keyRecord(1, "k", len64(1<<40), pad)), false},
		{"set of 2^40 elements", rdbFile(11, selectDB0, keyRecord(2, "k", len64(1<<40), pad)), false},
		{"zset2 of 2^40 members", rdbFile(11, selectDB0, keyRecord(5, "k", len64(1<<40), pad)), false},
		{"hash of 2^40 fields", rdbFile(11, selectDB0, keyRecord(4, "k", len64(1<<40), pad)), false},
		{"quicklist2 of 2^40 nodes", rdbFile(11, selectDB0, keyRecord(18, "k", len64(1<<40), pad)), false},
		{"stream of 2^40 nodes", rdbFile(11, selectDB0, keyRecord(21, "k", len64(1<<40), pad)), false},
		{"ziplist blob of 2^32 bytes", rdbFile(11, selectDB0, keyRecord(10, "k", len64(1<<32), pad)), false},
		{"ziplist header claiming 2^32-1 bytes", rdbFile(9, selectDB0, keyRecord(10, "k", rdbStr(string(zlHeader(1<<32-1))))), true},
		{"LZF value with ulen 2^31 from 10 bytes", rdbFile(11, selectDB0, keyRecord(0, "k", lzf(1<<31))), true},
		{"LZF key name with ulen 2^31 from 10 bytes", rdbFile(11, selectDB0, []byte{0}, lzf(1<<31), rdbStr("v")), false},
		{"LZF aux value with ulen 2^31", rdbFile(11, []byte{0xFA}, rdbStr("a"), lzf(1<<31)), false},
		{"aux value of 2^40 bytes", rdbFile(11, []byte{0xFA}, rdbStr("a"), len64(1<<40), pad), false},
		{"module aux body string of 2^40 bytes", rdbFile(11, []byte{0xF7}, rdbLen(1), rdbLen(2), rdbLen(2), rdbLen(5), len64(1<<40), pad), false},
		{"function of 2^40 bytes", rdbFile(11, []byte{0xF5}, len64(1<<40), pad), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if len(tc.file) > 1100 {
				t.Fatalf("test file of %d bytes", len(tc.file))
			}
			var err, verr error
			n := allocBytes(func() {
				r := rdb.NewReader(bytes.NewReader(tc.file))
				for {
					rec, e := r.Next()
					if e != nil {
						err = e
						return
					}
					if k, ok := rec.(*rdb.Key); ok {
						if _, e := k.Value(); e != nil && verr == nil {
							verr = e
						}
					}
				}
			})
			if n > allocLimit {
				t.Errorf("allocated %d bytes", n)
			}
			if tc.nextOK {
				if err != io.EOF {
					t.Errorf("Next: %v, want io.EOF (the value is only walked over)", err)
				}
				if verr == nil {
					t.Fatalf("Value: no error")
				}
				err = verr
			} else if err == io.EOF || err == nil {
				t.Fatalf("Next: %v, want an error", err)
			}
			var fe *rdb.FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("%v (%T) is not a *rdb.FormatError", err, err)
			}
			if fe.Offset < 9 || fe.Offset >= int64(len(tc.file)) {
				t.Errorf("offset %d not inside the %d-byte file: %v", fe.Offset, len(tc.file), err)
			}
			t.Logf("%v (%d bytes allocated)", err, n)
		})
	}
}

// TestBadInputForgedCounts feeds DecodeValue raw values whose element count
// says 2^40 followed by 1000 bytes.
func TestBadInputForgedCounts(t *testing.T) {
	pad := bytes.Repeat([]byte{1}, 1000)
	tests := []struct {
		typ     rdb.Type
		version int
		prefix  []byte
	}{
		{rdb.TypeList, 9, nil}, {rdb.TypeSet, 9, nil}, {rdb.TypeZSet, 9, nil}, {rdb.TypeZSet2, 9, nil},
		{rdb.TypeHash, 9, nil}, {rdb.TypeListQuicklist, 9, nil}, {rdb.TypeListQuicklist2, 10, nil},
		{rdb.TypeStreamListpacks, 9, nil}, {rdb.TypeStreamListpacks3, 11, nil},
		{rdb.TypeHashMetadata, 12, make([]byte, 8)}, {rdb.TypeValkeyHash2, 80, nil},
		{rdb.TypeString, 9, nil},
	}
	for _, tc := range tests {
		t.Run(tc.typ.String(), func(t *testing.T) {
			raw := append(append(append([]byte(nil), tc.prefix...), len64(1<<40)...), pad...)
			var err error
			n := allocBytes(func() { _, err = rdb.DecodeValue(tc.typ, raw, tc.version) })
			if n > allocLimit {
				t.Errorf("allocated %d bytes", n)
			}
			var fe *rdb.FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("DecodeValue: %v (%T), want a *rdb.FormatError", err, err)
			}
			if fe.Offset < 0 || fe.Offset > int64(len(raw)) {
				t.Errorf("offset %d outside the %d-byte value", fe.Offset, len(raw))
			}
		})
	}
}

func TestBadInputChecksum(t *testing.T) {
	body := [][]byte{selectDB0, keyRecord(0, "k", rdbStr("v"))}
	good := rdbFile(11, body...)
	if verrs, err := readAll(good, true, "good"); err != nil || verrs != nil {
		t.Fatalf("hand-built file: %v %v", err, verrs)
	}
	// Checksum 0: computed by nobody, accepted.
	zero := bytes.Clone(good)
	copy(zero[len(zero)-8:], make([]byte, 8))
	if _, err := readAll(zero, false, "zero"); err != nil {
		t.Errorf("zero checksum: %v", err)
	}
	files := map[string][]byte{"hand-built": good}
	if d := corpusLocation(); d != "" {
		for _, rel := range []string{"rdbtools-dumps/rdb_version_5_with_checksum.rdb", "modern/redis-7.4.1.rdb", "hdt3213-cases/valkey_hash2_with_hfe.rdb"} {
			files[rel] = readCorpus(t, rel)
		}
	}
	for name, data := range files {
		for _, pos := range []int{len(data) - 1, len(data) - 8, len(data) - 10, 9} {
			bad := bytes.Clone(data)
			bad[pos] ^= 0x10
			_, err := readAll(bad, false, name)
			var fe *rdb.FormatError
			switch {
			case err == nil:
				t.Errorf("%s: byte %d changed: accepted", name, pos)
			case pos >= len(data)-9 && !errors.Is(err, rdb.ErrChecksum):
				t.Errorf("%s: byte %d changed: %v, want rdb.ErrChecksum", name, pos, err)
			case !errors.As(err, &fe):
				t.Errorf("%s: byte %d changed: %v (%T) is not a *rdb.FormatError", name, pos, err, err)
			case errors.Is(err, rdb.ErrChecksum) && fe.Offset != int64(len(data)-9):
				t.Errorf("%s: checksum error at offset %d, want the EOF record at %d", name, fe.Offset, len(data)-9)
			}
		}
	}
}

// --- misbehaving sources ---

// stutterReader returns (0, nil) before every byte it hands out.
type stutterReader struct {
	r     io.Reader
	empty bool
}

func (s *stutterReader) Read(p []byte) (int, error) {
	s.empty = !s.empty
	if s.empty || len(p) == 0 {
		return 0, nil
	}
	return s.r.Read(p[:1])
}

// recordTrace renders what Next returned, for comparing runs over the same
// input: every field of each record (byte strings by their SHA-256).
func recordTrace(src io.Reader) []string {
	r := rdb.NewReader(src)
	var out []string
	for {
		rec, err := r.Next()
		if err != nil {
			return append(out, fmt.Sprintf("end: %v at %d", err, r.Offset()))
		}
		if k, ok := rec.(*rdb.Key); ok {
			h := sha256.New()
			for _, me := range k.MemberExpires {
				fmt.Fprintf(h, "%q@%d,", me.Member, me.ExpireAt)
			}
			out = append(out, fmt.Sprintf("key at %d: db %d %q %v exp %d idle %d freq %d mvcc %d v%d raw %x meta %x member-expires %x",
				k.Offset(), k.DB, k.Key, k.Type, k.ExpireAt, k.Idle, k.Freq, k.MVCC, k.Version,
				sha256.Sum256(k.Raw), sha256.Sum256(k.Meta), h.Sum(nil)))
			continue
		}
		out = append(out, fmt.Sprintf("%T %+v", rec, rec))
	}
}

func TestBadInputSources(t *testing.T) {
	sources := map[string]func(io.Reader) io.Reader{
		"OneByteReader": iotest.OneByteReader,
		"DataErrReader": iotest.DataErrReader,
		"HalfReader":    iotest.HalfReader,
	}
	seen := map[[32]byte]bool{}
	for _, rel := range corpusRDBFiles(t) {
		data := readCorpus(t, rel)
		if sum := sha256.Sum256(data); seen[sum] {
			continue // a byte-identical copy of a file already read
		} else {
			seen[sum] = true
		}
		t.Run(rel, func(t *testing.T) {
			t.Parallel()
			want := recordTrace(bytes.NewReader(data))
			for name, wrap := range sources {
				got := recordTrace(wrap(bytes.NewReader(data)))
				if len(got) != len(want) {
					t.Errorf("%s via %s: %d records, plain read gives %d; last: %s / %s", rel, name, len(got), len(want), got[len(got)-1], want[len(want)-1])
					continue
				}
				for i := range want {
					if got[i] != want[i] {
						t.Errorf("%s via %s: record %d differs:\n got  %.300s\n want %.300s", rel, name, i, got[i], want[i])
						break
					}
				}
			}
		})
	}
}

// TestBadInputStutteringSource reads through a source that returns (0, nil)
// before every byte: io.Reader allows it ("nothing happened"), and the
// source makes progress, so the records must be those of a plain read.
func TestBadInputStutteringSource(t *testing.T) {
	files := map[string][]byte{
		"hand-built (300-byte value)": rdbFile(11, selectDB0, keyRecord(0, "k", rdbStr(strings.Repeat("v", 300)))),
	}
	if corpusLocation() != "" {
		files["hdt3213-cases/sorted_set_as_ziplist.rdb"] = readCorpus(t, "hdt3213-cases/sorted_set_as_ziplist.rdb")
	}
	for name, data := range files {
		want := recordTrace(bytes.NewReader(data))
		got := recordTrace(&stutterReader{r: bytes.NewReader(data)})
		if len(got) != len(want) || got[len(got)-1] != want[len(want)-1] {
			t.Errorf("%s: %d records ending %q; a plain read gives %d ending %q", name, len(got), got[len(got)-1], len(want), want[len(want)-1])
		}
	}
}

// failingReader hands out data, then fails with err.
type failingReader struct {
	data []byte
	err  error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

var errBoom = errors.New("boom: disk on fire")

func TestBadInputReadError(t *testing.T) {
	data := rdbFile(11, []byte{0xFA}, rdbStr("redis-ver"), rdbStr("7.2.0"), selectDB0,
		keyRecord(0, "k", rdbStr(strings.Repeat("v", 300))), keyRecord(0, "k2", rdbStr("v2")))
	if d := corpusLocation(); d != "" {
		data = readCorpus(t, "modern/redis-7.4.1.rdb")
	}
	for _, n := range []int{0, 4, 9, 10, 30, 100, 500, len(data) / 2, len(data) - 8, len(data) - 1} {
		if n >= len(data) {
			continue
		}
		r := rdb.NewReader(&failingReader{data: data[:n], err: errBoom})
		var err error
		for err == nil {
			_, err = r.Next()
		}
		if !errors.Is(err, errBoom) {
			t.Errorf("source fails after %d bytes: Next returned %v, want it to wrap the source's error", n, err)
			continue
		}
		var fe *rdb.FormatError
		if !errors.As(err, &fe) || fe.Offset > int64(n) {
			t.Errorf("source fails after %d bytes: %v: want a *rdb.FormatError with an offset ≤ %d", n, err, n)
		}
		if _, again := r.Next(); again != err {
			t.Errorf("source fails after %d bytes: second Next returned %v, want the same error", n, again)
		}
	}
}

// badCountReader claims to have read more bytes than it was given.
type badCountReader struct{}

func (badCountReader) Read(p []byte) (int, error) { return len(p) + 1, nil }

// silentReader never returns data nor an error.
type silentReader struct{}

func (silentReader) Read(p []byte) (int, error) { return 0, nil }

func TestBadInputBrokenSources(t *testing.T) {
	for name, src := range map[string]io.Reader{"invalid count": badCountReader{}, "no progress": silentReader{}} {
		withDeadline(t, 10*time.Second, name, func() {
			_, err := rdb.NewReader(src).Next()
			if err == nil || err == io.EOF {
				t.Errorf("%s: Next returned %v, want an error", name, err)
			}
			if name == "no progress" && !errors.Is(err, io.ErrNoProgress) {
				t.Errorf("%s: %v, want io.ErrNoProgress", name, err)
			}
		})
	}
}
