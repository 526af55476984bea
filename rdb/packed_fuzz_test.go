package rdb

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Fuzz targets for the packed encodings. Each asserts that a decoder never
// panics on arbitrary input and that what it accepts re-encodes into a blob
// that decodes to the same values. Run one with, e.g.,
//
//	go test -run '^$' -fuzz '^FuzzZiplist$' -fuzztime 20s -fuzzminimizetime 5s ./rdb

// fuzzCorpusBlobs returns the packed blobs of the given keys (RDB type typ)
// of a corpus file, for seeding; nothing when the corpus is absent.
func fuzzCorpusBlobs(f *testing.F, file string, typ byte, keys ...string) [][]byte {
	data, err := os.ReadFile(filepath.Join(corpusPath(), file))
	if err != nil {
		return nil
	}
	var out [][]byte
	for _, key := range keys {
		blobs, _ := corpusBlobs(f, data, typ, key)
		out = append(out, blobs...)
	}
	return out
}

// packedSeedStrings are element values covering every encoding width.
var packedSeedStrings = []string{
	"0", "12", "13", "-1", "127", "128", "-4096", "4095", "4096", "32767", "-32768", "32768",
	"8388607", "-8388608", "8388608", "2147483647", "-2147483648", "2147483648",
	"9223372036854775807", "-9223372036854775808", "", "a", "01", "-0",
	strings.Repeat("s", 63), strings.Repeat("m", 64), strings.Repeat("l", 260),
}

// checkPackedRebuild re-encodes decoded entries with AppendString/AppendInt,
// decodes the result and compares the values as strings.
func checkPackedRebuild(t *testing.T, entries []packedEntry,
	appendString func([]byte), appendInt func(int64), finish func() []byte,
	each func([]byte, func(int, packedEntry) error) (int, error)) {
	t.Helper()
	for _, e := range entries {
		if e.IsInt {
			appendInt(e.Int)
		} else {
			appendString(e.Str)
		}
	}
	blob := finish()
	again, err := collectEntries(each, blob)
	if err != nil {
		t.Fatalf("re-encoded blob %x does not decode: %v", blob, err)
	}
	if len(again) != len(entries) {
		t.Fatalf("re-encoded %d entries, decoded %d", len(entries), len(again))
	}
	for i := range entries {
		a, b := entries[i].AppendTo(nil), again[i].AppendTo(nil)
		if !bytes.Equal(a, b) {
			t.Fatalf("entry %d: %q re-encoded as %q", i, a, b)
		}
		// A string stays a string unless Redis would store it as an integer.
		if _, isInt := packedStringInt(a); again[i].IsInt != (entries[i].IsInt || isInt) {
			t.Fatalf("entry %d %q: IsInt %v after re-encoding", i, a, again[i].IsInt)
		}
	}
}

func FuzzZiplist(f *testing.F) {
	var b ziplistBuilder
	for _, s := range packedSeedStrings {
		b.AppendString([]byte(s))
	}
	f.Add(append([]byte(nil), b.Bytes()...))
	b = ziplistBuilder{legacyInts: true}
	b.AppendString([]byte("1"))
	b.AppendString([]byte(strings.Repeat("x", 260)))
	b.AppendString([]byte("-70000"))
	f.Add(append([]byte(nil), b.Bytes()...))
	f.Add([]byte("\x0b\x00\x00\x00\x0a\x00\x00\x00\x00\x00\xff"))
	for _, zl := range append(fuzzCorpusBlobs(f, "rdbtools-dumps/ziplist_with_integers.rdb", 10, "ziplist_with_integers"),
		fuzzCorpusBlobs(f, "legacy/redis-2.8.24.rdb", 10, "list:ints", "list:small")...) {
		f.Add(zl)
	}
	f.Fuzz(func(t *testing.T, zl []byte) {
		fuzzZiplistOnce(t, zl)
		// Also with a consistent header, to get past the cheap checks more
		// often (zltail still has to be right for the blob to be accepted).
		if len(zl) >= zipHeaderSize+1 {
			zl = append([]byte(nil), zl...)
			binary.LittleEndian.PutUint32(zl, uint32(len(zl)))
			binary.LittleEndian.PutUint16(zl[8:], zipLenUnknown)
			zl[len(zl)-1] = zipEnd
			fuzzZiplistOnce(t, zl)
		}
	})
}

// fuzzZiplistOnce decodes zl and checks what it accepts.
func fuzzZiplistOnce(t *testing.T, zl []byte) {
	entries, err := collectEntries(ziplistEach, zl)
	n, err2 := ziplistEach(zl, nil)
	if (err == nil) != (err2 == nil) {
		t.Fatalf("result depends on fn: %v vs %v", err, err2)
	}
	if err != nil {
		return
	}
	if n != len(entries) {
		t.Fatalf("count %d, %d callbacks", n, len(entries))
	}
	for _, legacy := range []bool{false, true} {
		b := ziplistBuilder{legacyInts: legacy}
		checkPackedRebuild(t, entries, b.AppendString, b.AppendInt, b.Bytes, ziplistEach)
		// The builder's output is canonical: rebuilding it is the identity.
		first := append([]byte(nil), b.Bytes()...)
		again, _ := collectEntries(ziplistEach, first)
		b2 := ziplistBuilder{legacyInts: legacy}
		for _, e := range again {
			if e.IsInt {
				b2.AppendInt(e.Int)
			} else {
				b2.AppendString(e.Str)
			}
		}
		if !bytes.Equal(b2.Bytes(), first) {
			t.Fatalf("rebuild of a builder blob differs")
		}
	}
}

func FuzzListpack(f *testing.F) {
	var b listpackBuilder
	for _, s := range packedSeedStrings {
		b.AppendString([]byte(s))
	}
	f.Add(append([]byte(nil), b.Bytes()...))
	f.Add([]byte("\x07\x00\x00\x00\x00\x00\xff"))
	for _, lp := range append(fuzzCorpusBlobs(f, "hdt3213-cases/listpack.rdb", 18, "l"),
		fuzzCorpusBlobs(f, "modern/redis-7.4.1.rdb", 18, "list:ints", "list:small")...) {
		f.Add(lp)
	}
	f.Fuzz(func(t *testing.T, lp []byte) {
		fuzzListpackOnce(t, lp)
		// Also with a consistent header, to get past the cheap checks more
		// often.
		if len(lp) >= lpHeaderSize+1 {
			lp = append([]byte(nil), lp...)
			binary.LittleEndian.PutUint32(lp, uint32(len(lp)))
			binary.LittleEndian.PutUint16(lp[4:], lpNumUnknown)
			lp[len(lp)-1] = lpEOF
			fuzzListpackOnce(t, lp)
		}
	})
}

// fuzzListpackOnce decodes lp and checks what it accepts.
func fuzzListpackOnce(t *testing.T, lp []byte) {
	entries, err := collectEntries(listpackEach, lp)
	n, err2 := listpackEach(lp, nil)
	if (err == nil) != (err2 == nil) {
		t.Fatalf("result depends on fn: %v vs %v", err, err2)
	}
	if err != nil {
		return
	}
	if n != len(entries) {
		t.Fatalf("count %d, %d callbacks", n, len(entries))
	}
	var b listpackBuilder
	checkPackedRebuild(t, entries, b.AppendString, b.AppendInt, b.Bytes, listpackEach)
	first := append([]byte(nil), b.Bytes()...)
	again, _ := collectEntries(listpackEach, first)
	var b2 listpackBuilder
	for _, e := range again {
		if e.IsInt {
			b2.AppendInt(e.Int)
		} else {
			b2.AppendString(e.Str)
		}
	}
	if !bytes.Equal(b2.Bytes(), first) {
		t.Fatalf("rebuild of a builder blob differs")
	}
}

func FuzzIntset(f *testing.F) {
	f.Add(intsetEncode(nil, []int64{1, 2, 3}))
	f.Add(intsetEncode(nil, []int64{-70000, 5}))
	f.Add(intsetEncode(nil, []int64{-1 << 40, 0, 1 << 40}))
	f.Add([]byte("\x08\x00\x00\x00\x01\x00\x00\x00\x05\x00\x00\x00\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, is []byte) {
		var vals []int64
		n, err := intsetEach(is, func(_ int, v int64) error { vals = append(vals, v); return nil })
		if err != nil {
			return
		}
		if n != len(vals) || n == 0 {
			t.Fatalf("count %d, %d callbacks", n, len(vals))
		}
		enc := intsetEncode(nil, vals)
		again, err := intsetValues(enc)
		if err != nil || !slices.Equal(again, vals) {
			t.Fatalf("re-encode %x: %v, %v; want %v", enc, again, err, vals)
		}
		// With the smallest encoding the input is exactly what Redis writes.
		w := 2
		for _, v := range vals {
			w = max(w, intsetValueWidth(v))
		}
		if binary.LittleEndian.Uint32(is) == uint32(w) && !bytes.Equal(enc, is) {
			t.Fatalf("re-encode %x differs from canonical input %x", enc, is)
		}
	})
}

// zipmapTestEncode builds a zipmap from pairs (no free bytes).
func zipmapTestEncode(pairs [][2][]byte) []byte {
	zm := []byte{byte(min(len(pairs), 254))}
	putLen := func(l int) {
		if l < 254 {
			zm = append(zm, byte(l))
		} else {
			zm = append(zm, 254)
			zm = binary.LittleEndian.AppendUint32(zm, uint32(l))
		}
	}
	for _, p := range pairs {
		putLen(len(p[0]))
		zm = append(zm, p[0]...)
		putLen(len(p[1]))
		zm = append(zm, 0)
		zm = append(zm, p[1]...)
	}
	return append(zm, 0xFF)
}

func FuzzZipmap(f *testing.F) {
	f.Add([]byte("\x02\x03foo\x03\x00bar\x05hello\x05\x00world\xff"))
	f.Add([]byte("\x02\x01a\x01\x02bXY\x01c\x00\x00\xff"))
	f.Add(zipmapTestEncode([][2][]byte{{[]byte("k"), bytes.Repeat([]byte("v"), 300)}}))
	for _, zm := range fuzzCorpusBlobs(f, "legacy/redis-2.4.18.rdb", 9, "hash:small", "db2:hash") {
		f.Add(zm)
	}
	f.Fuzz(func(t *testing.T, zm []byte) {
		var pairs [][2][]byte
		n, err := zipmapEach(zm, func(k, v []byte) error {
			pairs = append(pairs, [2][]byte{k, v})
			return nil
		})
		if err != nil {
			return
		}
		if n != len(pairs) || n == 0 {
			t.Fatalf("count %d, %d callbacks", n, len(pairs))
		}
		enc := zipmapTestEncode(pairs)
		i := 0
		if _, err := zipmapEach(enc, func(k, v []byte) error {
			if !bytes.Equal(k, pairs[i][0]) || !bytes.Equal(v, pairs[i][1]) {
				t.Fatalf("pair %d differs after re-encoding", i)
			}
			i++
			return nil
		}); err != nil {
			t.Fatalf("re-encoded zipmap: %v", err)
		}
	})
}

func FuzzLZF(f *testing.F) {
	for _, in := range [][]byte{
		[]byte(strings.Repeat("abcabcabd", 30)),
		bytes.Repeat([]byte{'a'}, 300),
		[]byte("hello hello hello hello hello!"),
	} {
		c, _ := lzfCompress(nil, in)
		f.Add(c, uint16(len(in)))
		f.Add(in, uint16(len(in)))
	}
	f.Add([]byte("\x00a\xe0\x05\x00"), uint16(15))
	f.Fuzz(func(t *testing.T, data []byte, outLen uint16) {
		// Decompression of arbitrary input: no panic, exact length on success.
		if out, err := lzfDecompress(nil, data, int(outLen)); err == nil && len(out) != int(outLen) {
			t.Fatalf("decompressed %d bytes, want %d", len(out), outLen)
		}
		// Compression of arbitrary input round-trips.
		c, ok := lzfCompress(nil, data)
		if !ok {
			return
		}
		if len(c) > len(data)-4 {
			t.Fatalf("compressed %d bytes to %d", len(data), len(c))
		}
		out, err := lzfDecompress(make([]byte, 0, 8), c, len(data))
		if err != nil || !bytes.Equal(out, data) {
			t.Fatalf("round trip failed: %v", err)
		}
	})
}

// FuzzCRC64 checks that folding (carry-less multiplication, where the CPU
// has it) and the tables agree on any input, split anywhere.
func FuzzCRC64(f *testing.F) {
	f.Add(uint64(0), make([]byte, 300), 17)
	f.Add(uint64(1)<<63, bytes.Repeat([]byte("rdbferry"), 100), 256)
	f.Fuzz(func(t *testing.T, crc uint64, p []byte, split int) {
		if got, want := CRC64(crc, p), crc64Tables(crc, p); got != want {
			t.Fatalf("%d bytes from %x: %x, want %x", len(p), crc, got, want)
		}
		if split < 0 || split > len(p) {
			return
		}
		if got, want := CRC64(CRC64(crc, p[:split]), p[split:]), crc64Tables(crc, p); got != want {
			t.Fatalf("%d bytes split at %d: %x, want %x", len(p), split, got, want)
		}
	})
}
