package rdb

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// ---- helpers shared by the packed-encoding tests (ziplist, listpack, intset,
// zipmap, lzf, fuzz) ----

// corpusPath returns where the real RDB files are: $RDB_CORPUS, or
// ../../shared/corpus.
func corpusPath() string {
	if dir := os.Getenv("RDB_CORPUS"); dir != "" {
		return dir
	}
	return filepath.Join("..", "..", "shared", "corpus")
}

// corpusDir returns corpusPath, skipping the test when it does not exist.
func corpusDir(t testing.TB) string {
	t.Helper()
	dir := corpusPath()
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		t.Skipf("corpus not found at %s (set RDB_CORPUS)", dir)
	}
	return dir
}

// corpusFile reads a file of the corpus, skipping the test when absent.
func corpusFile(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(corpusDir(t), rel))
	if err != nil {
		t.Skipf("corpus file: %v", err)
	}
	return b
}

// rdbTestLen parses an RDB length at b[p:]; special reports the 11xxxxxx
// string encodings (the returned length is then the encoding number).
func rdbTestLen(t testing.TB, b []byte, p int) (n uint64, special bool, next int) {
	t.Helper()
	c := b[p]
	switch c >> 6 {
	case 0:
		return uint64(c & 0x3F), false, p + 1
	case 1:
		return uint64(c&0x3F)<<8 | uint64(b[p+1]), false, p + 2
	case 3:
		return uint64(c & 0x3F), true, p + 1
	}
	switch c {
	case 0x80:
		return uint64(binary.BigEndian.Uint32(b[p+1:])), false, p + 5
	case 0x81:
		return binary.BigEndian.Uint64(b[p+1:]), false, p + 9
	}
	t.Fatalf("bad RDB length byte 0x%02x at %d", c, p)
	return 0, false, 0
}

// rdbTestString parses the RDB string at b[p:]. For an LZF string it also
// returns the compressed bytes.
func rdbTestString(t testing.TB, b []byte, p int) (val, compressed []byte, next int) {
	t.Helper()
	n, special, p := rdbTestLen(t, b, p)
	if !special {
		return b[p : p+int(n)], nil, p + int(n)
	}
	switch n {
	case 0:
		return []byte(strconv.Itoa(int(int8(b[p])))), nil, p + 1
	case 1:
		return []byte(strconv.Itoa(int(int16(binary.LittleEndian.Uint16(b[p:]))))), nil, p + 2
	case 2:
		return []byte(strconv.Itoa(int(int32(binary.LittleEndian.Uint32(b[p:]))))), nil, p + 4
	case 3:
		clen, _, q := rdbTestLen(t, b, p)
		ulen, _, q := rdbTestLen(t, b, q)
		comp := b[q : q+int(clen)]
		out, err := lzfDecompress(nil, comp, int(ulen))
		if err != nil {
			t.Fatalf("LZF string at %d: %v", p, err)
		}
		return out, comp, q + int(clen)
	}
	t.Fatalf("bad string encoding %d at %d", n, p)
	return nil, nil, 0
}

// corpusKeyValue returns the offset of the value of key in an RDB file,
// found as the bytes type, 6-bit key length, key.
func corpusKeyValue(t testing.TB, data []byte, typ byte, key string) (int, bool) {
	t.Helper()
	if len(key) > 63 {
		t.Fatalf("key %q too long for the search", key)
	}
	pat := append([]byte{typ, byte(len(key))}, key...)
	i := bytes.Index(data, pat)
	if i < 0 {
		return 0, false
	}
	return i + len(pat), true
}

// corpusString is one RDB string of a value found in the corpus.
type corpusString struct {
	val    []byte // decompressed
	comp   []byte // the LZF-compressed bytes, or nil
	packed bool   // false for a PLAIN node of a type-18 quicklist
}

// corpusStrings returns the RDB strings holding the packed blobs of the value
// of key, of RDB type typ: one for the single-blob types, every node for the
// quicklists (plain nodes of type 18 too, flagged) and the node listpacks of
// streams.
func corpusStrings(t testing.TB, data []byte, typ byte, key string) []corpusString {
	t.Helper()
	p, ok := corpusKeyValue(t, data, typ, key)
	if !ok {
		t.Fatalf("key %q of type %d not found", key, typ)
	}
	var out []corpusString
	switch typ {
	case 15, 19, 21: // stream: node count, then (master ID, listpack) pairs
		n, _, q := rdbTestLen(t, data, p)
		p = q
		for k := uint64(0); k < n; k++ {
			_, _, q := rdbTestString(t, data, p)
			v, c, q := rdbTestString(t, data, q)
			out, p = append(out, corpusString{v, c, true}), q
		}
	case 14, 18:
		n, _, q := rdbTestLen(t, data, p)
		p = q
		for k := uint64(0); k < n; k++ {
			container := uint64(2)
			if typ == 18 {
				container, _, p = rdbTestLen(t, data, p)
			}
			v, c, q := rdbTestString(t, data, p)
			out, p = append(out, corpusString{v, c, container == 2}), q
		}
	default:
		v, c, _ := rdbTestString(t, data, p)
		out = append(out, corpusString{v, c, true})
	}
	return out
}

// corpusBlobs returns the decompressed strings of corpusStrings, with their
// packed flags.
func corpusBlobs(t testing.TB, data []byte, typ byte, key string) (blobs [][]byte, packed []bool) {
	t.Helper()
	for _, s := range corpusStrings(t, data, typ, key) {
		blobs, packed = append(blobs, s.val), append(packed, s.packed)
	}
	return blobs, packed
}

// entryStrings decodes a ziplist or listpack into strings.
func entryStrings(t testing.TB, each func([]byte, func(int, packedEntry) error) (int, error), blob []byte) []string {
	t.Helper()
	var out []string
	n, err := each(blob, func(i int, e packedEntry) error {
		if i != len(out) {
			t.Errorf("callback index %d, want %d", i, len(out))
		}
		out = append(out, string(e.AppendTo(nil)))
		return nil
	})
	if err != nil {
		t.Fatalf("decode %x: %v", blob, err)
	}
	if n != len(out) {
		t.Fatalf("returned count %d, callbacks %d", n, len(out))
	}
	return out
}

// collectEntries decodes a ziplist or listpack into entries; Str is copied.
func collectEntries(each func([]byte, func(int, packedEntry) error) (int, error), blob []byte) ([]packedEntry, error) {
	var out []packedEntry
	_, err := each(blob, func(_ int, e packedEntry) error {
		if !e.IsInt {
			e.Str = append([]byte{}, e.Str...)
		}
		out = append(out, e)
		return nil
	})
	return out, err
}

// mustHex decodes a hex string with optional spaces.
func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkTruncations asserts that every strict prefix of a valid blob, and
// the blob with each single byte changed, decode without panicking, and
// that the prefixes are rejected.
func checkTruncations(t *testing.T, name string, blob []byte, decode func([]byte) error) {
	t.Helper()
	for i := 0; i < len(blob); i++ {
		if err := decode(blob[:i]); err == nil {
			t.Errorf("%s: prefix of %d/%d bytes accepted", name, i, len(blob))
		}
	}
	mut := append([]byte(nil), blob...)
	for i := range mut {
		for _, x := range []byte{0x00, 0x01, 0x3F, 0x40, 0x7F, 0x80, 0xBF, 0xC0, 0xF0, 0xFE, 0xFF} {
			old := mut[i]
			mut[i] = x
			_ = decode(mut) // must not panic or hang
			mut[i] = old
		}
	}
}

// ---- packedStringInt ----

func TestPackedStringInt(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true},
		{"1", 1, true},
		{"-1", -1, true},
		{"12", 12, true},
		{"9223372036854775807", math.MaxInt64, true},
		{"-9223372036854775808", math.MinInt64, true},
		{"9223372036854775808", 0, false},
		{"-9223372036854775809", 0, false},
		{"18446744073709551615", 0, false},
		{"18446744073709551616", 0, false},
		{"99999999999999999999", 0, false},
		{"-99999999999999999999", 0, false},
		{"00", 0, false},
		{"01", 0, false},
		{"-0", 0, false},
		{"-01", 0, false},
		{"+1", 0, false},
		{" 1", 0, false},
		{"1 ", 0, false},
		{"1a", 0, false},
		{"", 0, false},
		{"-", 0, false},
		{"1.0", 0, false},
		{"1e3", 0, false},
		{"0x10", 0, false},
	}
	for _, tt := range tests {
		got, ok := packedStringInt([]byte(tt.in))
		if ok != tt.ok || got != tt.want {
			t.Errorf("packedStringInt(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
		// Cross-check with strconv: canonical iff it formats back unchanged.
		v, err := strconv.ParseInt(tt.in, 10, 64)
		canonical := err == nil && strconv.FormatInt(v, 10) == tt.in
		if canonical != tt.ok {
			t.Errorf("%q: canonical by strconv %v, packedStringInt %v", tt.in, canonical, tt.ok)
		}
	}
}

func TestPackedEntryAppendTo(t *testing.T) {
	if got := string(packedEntry{Int: -42, IsInt: true}.AppendTo([]byte("x="))); got != "x=-42" {
		t.Errorf("int: %q", got)
	}
	if got := string(packedEntry{Str: []byte("abc")}.AppendTo(nil)); got != "abc" {
		t.Errorf("str: %q", got)
	}
	if got := string(packedEntry{Int: math.MinInt64, IsInt: true}.AppendTo(nil)); got != "-9223372036854775808" {
		t.Errorf("min: %q", got)
	}
}

// ---- ziplist ----

// zlTest assembles a ziplist from entry bodies (encoding + data): it
// prefixes each with its prevlen (5 bytes when force5 or needed) and writes
// the header. count < 0 means "the real count".
func zlTest(count int, force5 bool, bodies ...[]byte) []byte {
	zl := make([]byte, zipHeaderSize)
	prev, tail := 0, zipHeaderSize
	for _, body := range bodies {
		start := len(zl)
		if prev < 254 && !force5 {
			zl = append(zl, byte(prev))
		} else {
			zl = append(zl, 0xFE, byte(prev), byte(prev>>8), byte(prev>>16), byte(prev>>24))
		}
		zl = append(zl, body...)
		prev, tail = len(zl)-start, start
	}
	zl = append(zl, 0xFF)
	if count < 0 {
		count = len(bodies)
	}
	binary.LittleEndian.PutUint32(zl, uint32(len(zl)))
	binary.LittleEndian.PutUint32(zl[4:], uint32(tail))
	binary.LittleEndian.PutUint16(zl[8:], uint16(count))
	return zl
}

func TestZiplistDocExample(t *testing.T) {
	// The example of redis src/ziplist.c: "2", "5".
	zl := mustHex(t, "0f000000 0c000000 0200 00f3 02f6 ff")
	if got := entryStrings(t, ziplistEach, zl); fmt.Sprint(got) != "[2 5]" {
		t.Errorf("got %q", got)
	}
	var b ziplistBuilder
	b.AppendString([]byte("2"))
	b.AppendString([]byte("5"))
	if !bytes.Equal(b.Bytes(), zl) {
		t.Errorf("builder: %x, want %x", b.Bytes(), zl)
	}
}

func TestZiplistEncodings(t *testing.T) {
	s300 := bytes.Repeat([]byte("x"), 300)
	s20k := bytes.Repeat([]byte("y"), 20000)
	tests := []struct {
		name string
		body []byte
		want packedEntry
	}{
		{"imm0", []byte{0xF1}, packedEntry{Int: 0, IsInt: true}},
		{"imm12", []byte{0xFD}, packedEntry{Int: 12, IsInt: true}},
		{"int8", []byte{0xFE, 0x80}, packedEntry{Int: -128, IsInt: true}},
		{"int8 pos", []byte{0xFE, 0x7F}, packedEntry{Int: 127, IsInt: true}},
		{"int16", []byte{0xC0, 0x00, 0x80}, packedEntry{Int: -32768, IsInt: true}},
		{"int24", []byte{0xF0, 0xFF, 0xFF, 0x7F}, packedEntry{Int: 8388607, IsInt: true}},
		{"int24 neg", []byte{0xF0, 0x00, 0x00, 0x80}, packedEntry{Int: -8388608, IsInt: true}},
		{"int32", []byte{0xD0, 0x00, 0x00, 0x00, 0x80}, packedEntry{Int: math.MinInt32, IsInt: true}},
		{"int64", []byte{0xE0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F}, packedEntry{Int: math.MaxInt64, IsInt: true}},
		{"str6 empty", []byte{0x00}, packedEntry{Str: []byte{}}},
		{"str6", []byte{0x03, 'a', 'b', 'c'}, packedEntry{Str: []byte("abc")}},
		{"str14", append([]byte{0x41, 0x2C}, s300...), packedEntry{Str: s300}},
		{"str32", append([]byte{0x80, 0x00, 0x00, 0x4E, 0x20}, s20k...), packedEntry{Str: s20k}},
		{"str32 low bits ignored", append([]byte{0xBF, 0x00, 0x00, 0x00, 0x02}, "hi"...), packedEntry{Str: []byte("hi")}},
	}
	for _, tt := range tests {
		for _, force5 := range []bool{false, true} {
			// A first entry so that the tested one has a non-zero prevlen,
			// and one after it to check its own size.
			zl := zlTest(-1, force5, []byte{0xF2}, tt.body, []byte{0xF3})
			got, err := collectEntries(ziplistEach, zl)
			if err != nil {
				t.Errorf("%s (5-byte prevlen %v): %v", tt.name, force5, err)
				continue
			}
			if len(got) != 3 || got[1].IsInt != tt.want.IsInt || got[1].Int != tt.want.Int ||
				!bytes.Equal(got[1].Str, tt.want.Str) || got[0].Int != 1 || got[2].Int != 2 {
				t.Errorf("%s (5-byte prevlen %v): got %+v", tt.name, force5, got)
			}
		}
	}
}

func TestZiplistPrevlenWidths(t *testing.T) {
	// Entries of 253, 254 and 300 bytes: the next prevlen takes 1, 5, 5 bytes.
	var b ziplistBuilder
	for _, n := range []int{250, 251, 296} { // + 1 prevlen + 2 header => 253, 254, 299/300
		b.AppendString(bytes.Repeat([]byte{'a'}, n))
	}
	b.AppendString([]byte("end"))
	zl := b.Bytes()
	// entry 0 at 10: prevlen 0, 14-bit header (n >= 64) => 1+2+250 = 253
	// entry 1 at 263: prevlen 253 (1 byte) => 1+2+251 = 254
	// entry 2 at 517: prevlen 254 (5 bytes) => 5+2+296 = 303
	// entry 3 at 820: prevlen 303 (5 bytes)
	if zl[263] != 253 || zl[517] != 0xFE || binary.LittleEndian.Uint32(zl[518:]) != 254 ||
		zl[820] != 0xFE || binary.LittleEndian.Uint32(zl[821:]) != 303 {
		t.Errorf("unexpected prevlen layout")
	}
	if got := entryStrings(t, ziplistEach, zl); len(got) != 4 || got[3] != "end" || len(got[2]) != 296 {
		t.Errorf("decode: %d entries", len(got))
	}
}

func TestZiplistBuilderEncodings(t *testing.T) {
	tests := []struct {
		in     string
		body   string // encoding + data, hex
		legacy string // with legacyInts, when different
	}{
		{"0", "f1", "c00000"},
		{"12", "fd", "c00c00"},
		{"13", "fe0d", "c00d00"},
		{"-1", "feff", "c0ffff"},
		{"127", "fe7f", "c07f00"},
		{"-128", "fe80", "c080ff"},
		{"128", "c08000", ""},
		{"-129", "c07fff", ""},
		{"32767", "c0ff7f", ""},
		{"32768", "f0008000", "d000800000"},
		{"-32769", "f0ff7fff", "d0ff7fffff"},
		{"8388607", "f0ffff7f", "d0ffff7f00"},
		{"8388608", "d000008000", ""},
		{"-8388609", "d0ffff7fff", ""},
		{"2147483647", "d0ffffff7f", ""},
		{"2147483648", "e00000008000000000", ""},
		{"-9223372036854775808", "e00000000000000080", ""},
		{"", "00", ""},
		{"007", "03303037", ""},
		{"-0", "022d30", ""},
		{"+5", "022b35", ""},
		{"9223372036854775808", "13" + hex.EncodeToString([]byte("9223372036854775808")), ""},
		{strings.Repeat("z", 63), "3f" + strings.Repeat("7a", 63), ""},
		{strings.Repeat("z", 64), "4040" + strings.Repeat("7a", 64), ""},
		{strings.Repeat("z", 16383), "7fff" + strings.Repeat("7a", 16383), ""},
		{strings.Repeat("z", 16384), "8000004000" + strings.Repeat("7a", 16384), ""},
	}
	for _, tt := range tests {
		for _, legacy := range []bool{false, true} {
			want := tt.body
			if legacy && tt.legacy != "" {
				want = tt.legacy
			}
			b := ziplistBuilder{legacyInts: legacy}
			b.AppendString([]byte(tt.in))
			wantZL := zlTest(-1, false, mustHex(t, want))
			if got := b.Bytes(); !bytes.Equal(got, wantZL) {
				t.Errorf("AppendString(%.20q) legacy=%v = %.80x, want %.80x", tt.in, legacy, got, wantZL)
			}
			if got := entryStrings(t, ziplistEach, b.Bytes()); len(got) != 1 || got[0] != tt.in {
				t.Errorf("round trip of %.20q: %.20q", tt.in, got)
			}
		}
	}
}

func TestZiplistBuilderRoundTrip(t *testing.T) {
	var b ziplistBuilder
	if got := b.Bytes(); !bytes.Equal(got, mustHex(t, "0b000000 0a000000 0000 ff")) {
		t.Errorf("empty zero value: %x", got)
	}
	var want []string
	for i := 0; i < 70000; i++ { // past the 65535 count limit
		var s string
		switch i % 5 {
		case 0:
			s = strconv.Itoa(i * 7919 * (1 - 2*(i%2)))
		case 1:
			s = strings.Repeat("v", i%300)
		case 2:
			s = strconv.FormatInt(int64(i)<<40, 10)
		case 3:
			s = "0" + strconv.Itoa(i)
		default:
			s = strconv.Itoa(i % 13)
		}
		want = append(want, s)
		if i%2 == 0 {
			b.AppendString([]byte(s))
		} else if v, ok := packedStringInt([]byte(s)); ok {
			b.AppendInt(v)
		} else {
			b.AppendString([]byte(s))
		}
	}
	if b.Len() != len(want) {
		t.Fatalf("Len %d", b.Len())
	}
	zl := b.Bytes()
	if c := binary.LittleEndian.Uint16(zl[8:]); c != 0xFFFF {
		t.Errorf("zllen %d, want 65535", c)
	}
	got := entryStrings(t, ziplistEach, zl)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("round trip differs")
	}
	// Bytes twice, then more appends: the blob stays consistent.
	if !bytes.Equal(b.Bytes(), zl) {
		t.Errorf("second Bytes differs")
	}
	b.Reset()
	b.AppendString([]byte("a"))
	b.AppendInt(1)
	if got := entryStrings(t, ziplistEach, b.Bytes()); fmt.Sprint(got) != "[a 1]" {
		t.Errorf("after Reset: %q", got)
	}
	b.AppendString([]byte("b"))
	if got := entryStrings(t, ziplistEach, b.Bytes()); fmt.Sprint(got) != "[a 1 b]" {
		t.Errorf("append after Bytes: %q", got)
	}
}

func TestZiplistHeaderChecks(t *testing.T) {
	good := zlTest(-1, false, []byte{0xF2}, []byte{0x01, 'x'}, []byte{0xF3})
	mod := func(f func(zl []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	tests := []struct {
		name string
		zl   []byte
		want string
	}{
		{"too short", good[:10], "ziplist: blob of 10 bytes is shorter than the 11-byte minimum"},
		{"zlbytes", mod(func(zl []byte) []byte { zl[0]++; return zl }), "header zlbytes 19 does not match the blob length 18"},
		{"no end", mod(func(zl []byte) []byte { zl[len(zl)-1] = 0; return zl }), "not the 0xFF end marker"},
		{"zltail past end", mod(func(zl []byte) []byte { zl[4] = 19; return zl }), "header zltail 19 points past the end marker"},
		{"zltail wrong", mod(func(zl []byte) []byte { zl[4] = 12; return zl }), "header zltail 12, but the last entry starts at offset 15"},
		{"zllen", mod(func(zl []byte) []byte { zl[8] = 4; return zl }), "header zllen 4, but the blob holds 3 entries"},
		{"prevlen", mod(func(zl []byte) []byte { zl[12] = 3; return zl }), "ziplist: entry 1 at offset 12: prevlen 3 does not match the previous entry's size 2"},
		{"first prevlen", mod(func(zl []byte) []byte { zl[10] = 1; return zl }), "entry 0 at offset 10: prevlen 1 does not match"},
		{"bad encoding", mod(func(zl []byte) []byte { zl[11] = 0xC1; return zl }), "entry 0 at offset 10: invalid encoding byte 0xc1 at offset 11"},
		{"early end", mod(func(zl []byte) []byte { zl[12] = 0xFF; return zl }), "end marker at offset 12, but the blob ends at offset 17"},
	}
	for _, tt := range tests {
		_, err := ziplistEach(tt.zl, nil)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want it to contain %q", tt.name, err, tt.want)
		}
	}
	// The "count unknown" sentinel and an empty ziplist are valid.
	unknown := mod(func(zl []byte) []byte { zl[8], zl[9] = 0xFF, 0xFF; return zl })
	if n, err := ziplistEach(unknown, nil); n != 3 || err != nil {
		t.Errorf("zllen 0xFFFF: %d, %v", n, err)
	}
	if n, err := ziplistEach(mustHex(t, "0b000000 0a000000 0000 ff"), nil); n != 0 || err != nil {
		t.Errorf("empty: %d, %v", n, err)
	}
}

func TestZiplistLyingLengths(t *testing.T) {
	tests := []struct {
		name string
		zl   []byte
		want string
	}{
		{
			// The example message of the package's error style.
			"string past end",
			func() []byte {
				zl := zlTest(-1, false, []byte{0xF1}, []byte{0xF2}, []byte{0xF3}, append([]byte{0x4F, 0xA0}, "abcdefghij"...))
				return zl
			}(),
			"ziplist: entry 3 at offset 16: string length 4000 exceeds blob (30 bytes)",
		},
		{"32-bit length 2^32-1", zlTest(-1, false, []byte{0x80, 0xFF, 0xFF, 0xFF, 0xFF, 'a'}), "string length 4294967295 exceeds blob (18 bytes)"},
		{"huge prevlen", func() []byte {
			zl := zlTest(-1, true, []byte{0xF1})
			binary.LittleEndian.PutUint32(zl[11:], 0xFFFFFFFF)
			return zl
		}(), "prevlen 4294967295 does not match the previous entry's size 0"},
		{"5-byte prevlen cut", mustHex(t, "0e000000 0a000000 0100 fe0000 ff"), "5-byte prevlen runs into the end of the blob"},
		{"14-bit header cut", mustHex(t, "0d000000 0a000000 0100 0040 ff"), "14-bit string header at offset 11 runs into the end"},
		{"32-bit header cut", mustHex(t, "10000000 0a000000 0100 0080000000 ff"), "32-bit string header at offset 11 runs into the end"},
		{"int64 cut", mustHex(t, "10000000 0a000000 0100 00e0010203 ff"), "8-byte integer runs past the end of the blob"},
	}
	for _, tt := range tests {
		_, err := ziplistEach(tt.zl, nil)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want it to contain %q", tt.name, err, tt.want)
		}
	}
}

func TestZiplistTruncatedAndMutated(t *testing.T) {
	var b ziplistBuilder
	for _, s := range []string{"1", "-200", "70000", "9000000000", "abc", strings.Repeat("q", 300), "12"} {
		b.AppendString([]byte(s))
	}
	checkTruncations(t, "ziplist", b.Bytes(), func(zl []byte) error {
		_, err := ziplistEach(zl, func(int, packedEntry) error { return nil })
		return err
	})
}

func TestZiplistCallbackError(t *testing.T) {
	var b ziplistBuilder
	b.AppendString([]byte("a"))
	b.AppendString([]byte("b"))
	stop := errors.New("stop")
	n, err := ziplistEach(b.Bytes(), func(i int, e packedEntry) error {
		if i == 1 {
			return stop
		}
		return nil
	})
	if err != stop || n != 1 {
		t.Errorf("got %d, %v", n, err)
	}
}

func TestZiplistNoAllocs(t *testing.T) {
	var b ziplistBuilder
	for i := 0; i < 100; i++ {
		b.AppendString([]byte(strconv.Itoa(i * 1000)))
		b.AppendString([]byte("field"))
	}
	zl := b.Bytes()
	sum := 0
	fn := func(i int, e packedEntry) error { sum += len(e.Str) + int(e.Int); return nil }
	if a := testing.AllocsPerRun(100, func() { _, _ = ziplistEach(zl, fn) }); a != 0 {
		t.Errorf("%v allocations per decode", a)
	}
}

// ---- corpus ----

// TestZiplistCorpus decodes ziplists written by real servers and checks that
// the builder reproduces them byte for byte.
func TestZiplistCorpus(t *testing.T) {
	tests := []struct {
		file, key string
		typ       byte
		want      []string // nil: only the rebuild check
	}{
		{"rdbtools-dumps/ziplist_with_integers.rdb", "ziplist_with_integers", 10, strings.Fields(
			"0 1 2 3 4 5 6 7 8 9 10 11 12 -2 13 25 -61 63 16380 -16000 65535 -65523 4194304 9223372036854775807")},
		{"rdbtools-dumps/ziplist_that_compresses_easily.rdb", "ziplist_compresses_easily", 10, []string{
			strings.Repeat("a", 6), strings.Repeat("a", 12), strings.Repeat("a", 18),
			strings.Repeat("a", 24), strings.Repeat("a", 30), strings.Repeat("a", 36)}},
		{"rdbtools-dumps/ziplist_that_doesnt_compress.rdb", "ziplist_doesnt_compress", 10, []string{
			"aj2410", "cc953a17a8e096e76a44169ad3f9ac87c5f8248a403274416179aa9fbd852344"}},
		{"rdbtools-dumps/hash_as_ziplist.rdb", "zipmap_compresses_easily", 13, []string{
			"a", "aa", "aa", "aaaa", "aaaaa", "aaaaaaaaaaaaaa"}},
		{"rdbtools-dumps/sorted_set_as_ziplist.rdb", "sorted_set_as_ziplist", 12, []string{
			"8b6ba6718a786daefa69438148361901", "1", "cb7a24bb7528f934b841b34c3a73e0c7", "2.3700000000000001",
			"523af537946b79c4f8369ed39ba78605", "3.423"}},
		{"redis-assets/encodings.rdb", "list_zipped", 10, strings.Fields("1 2 3 a b c 100000 6000000000")},
		{"redis-assets/encodings.rdb", "hash_zipped", 13, strings.Fields("a 1 b 2 c 3")},
		{"redis-assets/encodings.rdb", "zset_zipped", 12, strings.Fields("a 1 b 2 c 3")},
		{"redis-assets/hash-ziplist.rdb", "hash", 13, strings.Fields("f1 v1 f2 v2")},
		{"redis-assets/zset-ziplist.rdb", "zset", 12, strings.Fields("one 1 two 2")},
		{"redis-assets/list-quicklist.rdb", "list", 14, []string{"7"}},
		{"redis-assets/corrupt_empty_keys.rdb", "list_ziplist", 10, []string{}},
		{"redis-assets/corrupt_empty_keys.rdb", "zset_ziplist", 12, []string{}},
		{"legacy/redis-2.8.24.rdb", "list:ints", 10, nil},
		{"legacy/redis-2.8.24.rdb", "list:small", 10, strings.Fields("a b c 1 2 3 -100 4294967296")},
		{"legacy/redis-2.8.24.rdb", "hash:small", 13, []string{"f1", "v1", "f2", "2", "f3", "", "num", "-12345", "utf8", "ключ"}},
		{"legacy/redis-2.8.24.rdb", "zset:small", 12, nil},
		{"legacy/redis-3.2.13.rdb", "list:ints", 14, nil},
		{"legacy/redis-3.2.13.rdb", "hash:small", 13, nil},
		{"legacy/redis-4.0.14.rdb", "list:small", 14, strings.Fields("a b c 1 2 3 -100 4294967296")},
	}
	for _, tt := range tests {
		t.Run(tt.file+"/"+tt.key, func(t *testing.T) {
			data := corpusFile(t, tt.file)
			blobs, _ := corpusBlobs(t, data, tt.typ, tt.key)
			var got []string
			for _, zl := range blobs {
				got = append(got, entryStrings(t, ziplistEach, zl)...)
				checkZiplistRebuild(t, zl, corpusVersion(t, data) < 6)
			}
			if tt.want != nil && strings.Join(got, "\x00") != strings.Join(tt.want, "\x00") {
				t.Errorf("got %q\nwant %q", got, tt.want)
			}
		})
	}
}

// corpusVersion returns the RDB version of a REDISnnnn file.
func corpusVersion(t testing.TB, data []byte) int {
	t.Helper()
	v, err := strconv.Atoi(string(data[5:9]))
	if err != nil || string(data[:5]) != "REDIS" {
		t.Fatalf("not a REDIS file: %q", data[:9])
	}
	return v
}

// checkZiplistRebuild asserts that the builder reproduces zl from its entries.
func checkZiplistRebuild(t *testing.T, zl []byte, legacy bool) {
	t.Helper()
	b := ziplistBuilder{legacyInts: legacy}
	if _, err := ziplistEach(zl, func(_ int, e packedEntry) error {
		if e.IsInt {
			b.AppendInt(e.Int)
		} else {
			b.AppendString(e.Str)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got := b.Bytes(); !bytes.Equal(got, zl) {
		t.Errorf("rebuild (legacy %v) differs:\n got %x\nwant %x", legacy, got, zl)
	}
}

// TestZiplistCorpusLegacy checks a Redis 2.4 (RDB 2) file: its ziplists use
// only the int16/32/64 encodings, which legacyInts reproduces. (So do the
// RDB 3 and 4 files of TestZiplistCorpus, from 2.6 development builds.)
func TestZiplistCorpusLegacy(t *testing.T) {
	data := corpusFile(t, "legacy/redis-2.4.18.rdb")
	want := "0 1 -1 127 128 -4096 4095 8191 -8192 32767 -32768 8388607 -8388608 2147483647 -2147483648 9223372036854775807"
	blobs, _ := corpusBlobs(t, data, 10, "list:ints")
	got := entryStrings(t, ziplistEach, blobs[0])
	if !strings.HasPrefix(strings.Join(got, " "), want) {
		t.Errorf("list:ints = %q", got)
	}
	checkZiplistRebuild(t, blobs[0], true)
	for _, key := range []string{"list:small", "list:ttl"} {
		blobs, _ := corpusBlobs(t, data, 10, key)
		checkZiplistRebuild(t, blobs[0], true)
	}
	blobs, _ = corpusBlobs(t, data, 12, "zset:small")
	checkZiplistRebuild(t, blobs[0], true)
}

// TestZiplistCorpusBigValues covers 14- and 32-bit string headers and 5-byte
// prevlens written by Redis.
func TestZiplistCorpusBigValues(t *testing.T) {
	data := corpusFile(t, "rdbtools-dumps/zipmap_with_big_values.rdb")
	blobs, _ := corpusBlobs(t, data, 13, "zipmap_with_big_values")
	got := map[string]int{}
	var field string
	_, err := ziplistEach(blobs[0], func(i int, e packedEntry) error {
		if i%2 == 0 {
			field = string(e.AppendTo(nil))
		} else {
			got[field] = len(e.AppendTo(nil))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"253bytes": 253, "254bytes": 254, "255bytes": 255, "300bytes": 300, "20kbytes": 20000}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	checkZiplistRebuild(t, blobs[0], false)
}

// TestZiplistCorpusCorrupt decodes the deliberately broken HASH_ZIPLIST of
// Redis's corrupt_ziplist.rdb, whose payload is the 5 bytes "xxxxx".
func TestZiplistCorpusCorrupt(t *testing.T) {
	data := corpusFile(t, "redis-assets/corrupt_ziplist.rdb")
	blobs, _ := corpusBlobs(t, data, 13, "key:000000000091")
	if _, err := ziplistEach(blobs[0], nil); err == nil || !strings.Contains(err.Error(), "shorter than the 11-byte minimum") {
		t.Errorf("error %v", err)
	}
}

// packedBenchValues is a hash-like mix of fields, small and large integers
// and values.
func packedBenchValues() [][]byte {
	var vals [][]byte
	for i := 0; i < 128; i++ {
		vals = append(vals, []byte("field:"+strconv.Itoa(i)))
		switch i % 4 {
		case 0:
			vals = append(vals, []byte(strconv.Itoa(i)))
		case 1:
			vals = append(vals, []byte(strconv.Itoa(i*1000003)))
		case 2:
			vals = append(vals, []byte("value-"+strings.Repeat("v", i%40)))
		default:
			vals = append(vals, []byte(strconv.FormatInt(int64(i)<<40, 10)))
		}
	}
	return vals
}

func BenchmarkZiplistEach(b *testing.B) {
	var zb ziplistBuilder
	for _, v := range packedBenchValues() {
		zb.AppendString(v)
	}
	zl := zb.Bytes()
	var sum int
	fn := func(_ int, e packedEntry) error { sum += len(e.Str) + int(e.Int&1); return nil }
	b.SetBytes(int64(len(zl)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := ziplistEach(zl, fn); err != nil {
			b.Fatal(err)
		}
	}
}
