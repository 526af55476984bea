package rdb

import (
	"bytes"
	"math"
	"math/rand"
	"strconv"
	"strings"
	"testing"
)

func TestLZFDecompressHandBuilt(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want string
	}{
		{"literal", "02616263", "abc"},
		{"max literal", "1f" + strings.Repeat("78", 32), strings.Repeat("x", 32)},
		{"back reference", "02616263 2002", "abcabc"},                          // len 1+2, distance 3
		{"run of one byte", "0061 e00500", strings.Repeat("a", 15)},            // len 7+5+2, distance 1
		{"overlapping period 2", "016162 6001", "abababa"},                     // len 3+2, distance 2
		{"long reference", "0161 62 e0ff01", "ab" + strings.Repeat("ab", 132)}, // len 264
		{"far reference", "1f" + strings.Repeat("00", 32) + "1f" + strings.Repeat("01", 32) + "203f", strings.Repeat("\x00", 32) + strings.Repeat("\x01", 32) + "\x00\x00\x00"},
	}
	for _, tt := range tests {
		src := mustHex(t, tt.src)
		got, err := lzfDecompress(nil, src, len(tt.want))
		if err != nil || string(got) != tt.want {
			t.Errorf("%s: %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}
}

func TestLZFDecompressErrors(t *testing.T) {
	tests := []struct {
		name   string
		src    string
		outLen int
		want   string
	}{
		{"before start", "2000", 3, "lzf: back reference at input offset 0 points 1 bytes back, before the start of the output (at 0)"},
		{"far before start", "0061 3fff", 10, "points 8192 bytes back"},
		{"literal past input", "0561", 6, "lzf: literal run of 6 bytes at input offset 0 runs past the end of the 2-byte input"},
		{"literal past output", "03616263 64", 3, "lzf: literal run of 4 bytes at input offset 0 overflows the 3-byte output at 0"},
		{"reference past output", "0061 e00500", 10, "back reference of 14 bytes at input offset 2 overflows the 10-byte output at 1"},
		{"short output", "0161 62", 3, "lzf: input expands to 2 bytes, want 3"},
		{"truncated reference", "0061 20", 3, "back reference at input offset 2 is truncated"},
		{"truncated long reference", "0061 e005", 15, "back reference at input offset 2 is truncated"},
		{"empty input", "", 1, "lzf: empty input for 1 bytes of output"},
		{"zero output", "0061", 0, "lzf: invalid uncompressed length 0"},
		{"negative output", "0061", -1, "invalid uncompressed length -1"},
	}
	for _, tt := range tests {
		_, err := lzfDecompress(nil, mustHex(t, tt.src), tt.outLen)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want it to contain %q", tt.name, err, tt.want)
		}
	}
}

func TestLZFDecompressReusesDst(t *testing.T) {
	dst := make([]byte, 3, 100)
	out, err := lzfDecompress(dst, mustHex(t, "0061 e00500"), 15)
	if err != nil || &out[0] != &dst[:1][0] || string(out) != strings.Repeat("a", 15) {
		t.Errorf("dst not reused: %q, %v", out, err)
	}
	out, err = lzfDecompress(dst[:0:4], mustHex(t, "0061 e00500"), 15)
	if err != nil || len(out) != 15 {
		t.Errorf("small dst: %q, %v", out, err)
	}
}

// lzfTestInputs returns inputs of varied compressibility.
func lzfTestInputs() [][]byte {
	r := rand.New(rand.NewSource(1))
	var ins [][]byte
	for _, n := range []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 16, 17, 18, 19, 20, 21, 33, 100, 264, 265, 266, 1000, 8192, 8193, 70000, 300000} {
		random := make([]byte, n)
		r.Read(random)
		text := make([]byte, n)
		for i := range text {
			text[i] = "abcdefgh ijk"[r.Intn(12)]
		}
		runs := make([]byte, n)
		for i := range runs {
			runs[i] = byte(i / 300)
		}
		mixed := make([]byte, n)
		for i := range mixed {
			if (i/50)%2 == 0 {
				mixed[i] = byte(r.Intn(256))
			} else {
				mixed[i] = byte(i % 7)
			}
		}
		ins = append(ins, random, text, runs, mixed, bytes.Repeat([]byte{'a'}, n))
	}
	return ins
}

func TestLZFRoundTrip(t *testing.T) {
	var dst, out []byte
	for _, in := range lzfTestInputs() {
		var ok bool
		dst, ok = lzfCompress(dst, in)
		if !ok {
			if len(in) > 4 && bytes.Equal(in, bytes.Repeat(in[:1], len(in))) && len(in) > 16 {
				t.Errorf("constant input of %d bytes not compressed", len(in))
			}
			continue
		}
		if len(dst) > len(in)-4 {
			t.Errorf("compressed %d bytes to %d, more than len-4", len(in), len(dst))
		}
		var err error
		out, err = lzfDecompress(out, dst, len(in))
		if err != nil || !bytes.Equal(out, in) {
			t.Errorf("round trip of %d bytes failed: %v", len(in), err)
		}
	}
	// Compressing the same input twice gives the same output, also when the
	// table's position base wraps around (its stale entries are cleared).
	in := bytes.Repeat([]byte("hello, world. "), 100)
	a, _ := lzfCompress(nil, in)
	b, _ := lzfCompress(nil, in)
	if !bytes.Equal(a, b) {
		t.Errorf("compression is not deterministic")
	}
	tbl := &lzfTable{base: math.MaxUint32 - 100}
	for i := range tbl.slot {
		tbl.slot[i] = math.MaxUint32 - 50 // would be "valid" without the reset
	}
	if c, ok := tbl.compress(nil, in); !ok || !bytes.Equal(c, a) {
		t.Errorf("after base wrap-around: %x, want %x", c, a)
	}
	if tbl.base != uint32(len(in)) {
		t.Errorf("base %d after reset, want %d", tbl.base, len(in))
	}
}

func TestLZFCompressLimits(t *testing.T) {
	for n := 0; n <= 4; n++ {
		if _, ok := lzfCompress(nil, bytes.Repeat([]byte{'a'}, n)); ok {
			t.Errorf("%d bytes compressed; Redis stores 4 bytes or less raw", n)
		}
	}
	// Incompressible input is refused.
	r := rand.New(rand.NewSource(2))
	in := make([]byte, 1000)
	r.Read(in)
	if out, ok := lzfCompress(nil, in); ok {
		t.Errorf("random data compressed to %d bytes", len(out))
	}
}

func TestLZFTruncatedAndMutated(t *testing.T) {
	in := []byte(strings.Repeat("abcdefgh", 20) + "the quick brown fox" + strings.Repeat("xy", 50))
	comp, ok := lzfCompress(nil, in)
	if !ok {
		t.Fatal("not compressed")
	}
	for i := 0; i < len(comp); i++ {
		if _, err := lzfDecompress(nil, comp[:i], len(in)); err == nil {
			t.Errorf("prefix of %d/%d bytes accepted", i, len(comp))
		}
	}
	mut := append([]byte(nil), comp...)
	for i := range mut {
		for _, x := range []byte{0x00, 0x1F, 0x20, 0x3F, 0xE0, 0xFF} {
			old := mut[i]
			mut[i] = x
			_, _ = lzfDecompress(nil, mut, len(in))
			mut[i] = old
		}
	}
}

// TestLZFCorpus decompresses LZF strings written by Redis and checks that
// lzfCompress reproduces each compressed form byte for byte.
func TestLZFCorpus(t *testing.T) {
	tests := []struct {
		file, key string
		typ       byte
	}{
		{"redis-assets/encodings.rdb", "compressible", 0},
		{"rdbtools-dumps/ziplist_that_compresses_easily.rdb", "ziplist_compresses_easily", 10},
		{"rdbtools-dumps/zipmap_that_compresses_easily.rdb", "zipmap_compresses_easily", 9},
		{"rdbtools-dumps/hash_as_ziplist.rdb", "zipmap_compresses_easily", 13},
		{"rdbtools-dumps/sorted_set_as_ziplist.rdb", "sorted_set_as_ziplist", 12},
		{"hdt3213-cases/issue27.rdb", "mytest", 19},
		{"modern/redis-7.4.1.rdb", "list:large", 18},
		{"modern/valkey-8.0.1.rdb", "list:large", 18},
		{"legacy/redis-2.8.24.rdb", "zset:small", 12},
	}
	corpusDir(t) // skip without the corpus
	compressed := 0
	for _, tt := range tests {
		t.Run(tt.file+"/"+tt.key, func(t *testing.T) {
			data := corpusFile(t, tt.file)
			for k, s := range corpusStrings(t, data, tt.typ, tt.key) {
				if s.comp == nil {
					continue
				}
				compressed++
				got, ok := lzfCompress(nil, s.val)
				if !ok || !bytes.Equal(got, s.comp) {
					t.Errorf("string %d (%d bytes): recompressed to %x (ok %v), Redis wrote %x", k, len(s.val), got, ok, s.comp)
				}
			}
		})
	}
	t.Logf("%d LZF strings recompressed", compressed)
	if compressed < 100 {
		t.Errorf("only %d LZF strings checked", compressed)
	}

	// The key of easily_compressible_string_key.rdb is LZF-compressed.
	data := corpusFile(t, "rdbtools-dumps/easily_compressible_string_key.rdb")
	i := bytes.Index(data, []byte{0x00, 0xC3}) // type STRING, then an LZF key
	if i < 0 {
		t.Fatal("LZF key not found")
	}
	key, comp, next := rdbTestString(t, data, i+1)
	if string(key) != strings.Repeat("a", 200) {
		t.Errorf("key %q", key)
	}
	if val, _, _ := rdbTestString(t, data, next); string(val) != "Key that redis should compress easily" {
		t.Errorf("value %q", val)
	}
	if got, ok := lzfCompress(nil, key); !ok || !bytes.Equal(got, comp) {
		t.Errorf("recompressed key %x, Redis wrote %x", got, comp)
	}
}

// lzfBenchInput is 64 KiB of repetitive, JSON-like text.
func lzfBenchInput() []byte {
	r := rand.New(rand.NewSource(3))
	var buf bytes.Buffer
	words := []string{"id", "name", "value", "created_at", "user", "status", "ok", "items", "price"}
	for buf.Len() < 64<<10 {
		w := words[r.Intn(len(words))]
		buf.WriteString(`{"` + w + `":"` + words[r.Intn(len(words))] + strings.Repeat("x", r.Intn(4)) + `","n":` + strconv.Itoa(r.Intn(100000)) + "},")
	}
	return buf.Bytes()[:64<<10]
}

func BenchmarkLZFDecompress(b *testing.B) {
	in := lzfBenchInput()
	comp, ok := lzfCompress(nil, in)
	if !ok {
		b.Fatal("not compressible")
	}
	b.ReportMetric(float64(len(in))/float64(len(comp)), "ratio")
	dst := make([]byte, 0, len(in))
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		var err error
		if dst, err = lzfDecompress(dst, comp, len(in)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLZFCompress(b *testing.B) {
	in := lzfBenchInput()
	dst := make([]byte, 0, len(in))
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		dst, _ = lzfCompress(dst, in)
	}
}
