package rdb

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
)

// intsetValues decodes an intset into a slice.
func intsetValues(is []byte) ([]int64, error) {
	var vals []int64
	n, err := intsetEach(is, func(i int, v int64) error {
		if i != len(vals) {
			return fmt.Errorf("callback index %d, want %d", i, len(vals))
		}
		vals = append(vals, v)
		return nil
	})
	if err == nil && n != len(vals) {
		err = fmt.Errorf("returned count %d, callbacks %d", n, len(vals))
	}
	return vals, err
}

func TestIntsetDecode(t *testing.T) {
	tests := []struct {
		name string
		hex  string
		want []int64
	}{
		{"int16", "02000000 03000000 0080 ffff ff7f", []int64{math.MinInt16, -1, math.MaxInt16}},
		{"int32", "04000000 02000000 00000080 ffffff7f", []int64{math.MinInt32, math.MaxInt32}},
		{"int64", "08000000 02000000 0000000000000080 ffffffffffffff7f", []int64{math.MinInt64, math.MaxInt64}},
		{"wide encoding, small values", "08000000 01000000 0500000000000000", []int64{5}},
	}
	for _, tt := range tests {
		got, err := intsetValues(mustHex(t, tt.hex))
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("%s: %v, %v; want %v", tt.name, got, err, tt.want)
		}
	}
}

func TestIntsetChecks(t *testing.T) {
	tests := []struct {
		name string
		hex  string
		want string
	}{
		{"short", "02000000 0100", "intset: blob of 6 bytes is shorter than the 8-byte header"},
		{"encoding", "03000000 01000000 000000", "intset: invalid encoding 3 at offset 0 (want 2, 4 or 8)"},
		{"length", "02000000 02000000 0100", "header length 2 × 2 bytes needs a 12-byte blob, have 10"},
		{"huge length", "08000000 ffffffff 0100000000000000 02000000", "header length 4294967295 × 8 bytes needs a 34359738368-byte blob, have 20"},
		{"empty", "04000000 00000000", "intset: empty (length 0 at offset 4)"},
		{"order", "02000000 03000000 0100 0300 0200", "intset: entry 2 at offset 12: 2 does not follow 3 in ascending order"},
		{"duplicate", "02000000 02000000 0700 0700", "intset: entry 1 at offset 10: 7 does not follow 7"},
	}
	for _, tt := range tests {
		_, err := intsetEach(mustHex(t, tt.hex), nil)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want it to contain %q", tt.name, err, tt.want)
		}
	}
	if _, err := intsetEach(mustHex(t, "02000000 00000000"), nil); !errors.Is(err, errPackedEmpty) {
		t.Errorf("empty intset: %v does not wrap errPackedEmpty", err)
	}
	stop := errors.New("stop")
	if n, err := intsetEach(mustHex(t, "02000000 02000000 0100 0200"), func(i int, v int64) error {
		if i == 1 {
			return stop
		}
		return nil
	}); err != stop || n != 1 {
		t.Errorf("callback error: %d, %v", n, err)
	}
}

func TestIntsetEncode(t *testing.T) {
	tests := []struct {
		in   []int64
		want string
	}{
		{nil, "02000000 00000000"},
		{[]int64{3, 1, 2, 3, 1}, "02000000 03000000 0100 0200 0300"},
		{[]int64{math.MaxInt16, math.MinInt16}, "02000000 02000000 0080 ff7f"},
		{[]int64{math.MaxInt16 + 1}, "04000000 01000000 00800000"},
		{[]int64{0, math.MinInt16 - 1}, "04000000 02000000 ff7fffff 00000000"},
		{[]int64{math.MaxInt32, math.MinInt32}, "04000000 02000000 00000080 ffffff7f"},
		{[]int64{1, math.MaxInt32 + 1}, "08000000 02000000 0100000000000000 0000008000000000"},
		{[]int64{math.MinInt32 - 1, 1}, "08000000 02000000 ffffff7fffffffff 0100000000000000"},
		{[]int64{math.MaxInt64, math.MinInt64, 0}, "08000000 03000000 0000000000000080 0000000000000000 ffffffffffffff7f"},
	}
	for _, tt := range tests {
		in := slices.Clone(tt.in)
		got := intsetEncode([]byte("prefix"), in)
		want := append([]byte("prefix"), mustHex(t, tt.want)...)
		if !bytes.Equal(got, want) {
			t.Errorf("intsetEncode(%v) = %x, want %x", tt.in, got, want)
		}
		if !slices.Equal(in, tt.in) {
			t.Errorf("intsetEncode modified its input: %v", in)
		}
		if len(tt.in) > 0 {
			vals, err := intsetValues(got[len("prefix"):])
			sorted := slices.Clone(tt.in)
			slices.Sort(sorted)
			sorted = slices.Compact(sorted)
			if err != nil || !slices.Equal(vals, sorted) {
				t.Errorf("round trip of %v: %v, %v", tt.in, vals, err)
			}
		}
	}
	// Already sorted input: no allocation besides dst's growth.
	vals := []int64{1, 5, 9, 100000}
	dst := make([]byte, 0, 64)
	if a := testing.AllocsPerRun(100, func() { dst = intsetEncode(dst[:0], vals) }); a != 0 {
		t.Errorf("%v allocations for sorted input", a)
	}
}

func TestIntsetTruncatedAndMutated(t *testing.T) {
	is := intsetEncode(nil, []int64{-5, 0, 7, 1 << 40})
	checkTruncations(t, "intset", is, func(b []byte) error {
		_, err := intsetEach(b, func(int, int64) error { return nil })
		return err
	})
}

func TestIntsetNoAllocs(t *testing.T) {
	is := intsetEncode(nil, []int64{1, 2, 3, 1 << 20, 1 << 30})
	var sum int64
	fn := func(_ int, v int64) error { sum += v; return nil }
	if a := testing.AllocsPerRun(100, func() { _, _ = intsetEach(is, fn) }); a != 0 {
		t.Errorf("%v allocations per decode", a)
	}
}

// TestIntsetCorpus decodes intsets written by real servers and checks that
// intsetEncode reproduces them byte for byte.
func TestIntsetCorpus(t *testing.T) {
	tests := []struct {
		file, key string
		want      []int64
	}{
		{"rdbtools-dumps/intset_16.rdb", "intset_16", []int64{0x7ffc, 0x7ffd, 0x7ffe}},
		{"rdbtools-dumps/intset_32.rdb", "intset_32", []int64{0x7ffefffc, 0x7ffefffd, 0x7ffefffe}},
		{"rdbtools-dumps/intset_64.rdb", "intset_64", []int64{0x7ffefffefffefffc, 0x7ffefffefffefffd, 0x7ffefffefffefffe}},
		{"redis-assets/encodings.rdb", "set_zipped_1", []int64{1, 2, 3, 4}},
		{"redis-assets/encodings.rdb", "set_zipped_2", []int64{100000, 200000, 300000, 400000}},
		{"redis-assets/encodings.rdb", "set_zipped_3", []int64{1000000000, 2000000000, 3000000000, 4000000000, 5000000000, 6000000000}},
		{"legacy/redis-2.4.18.rdb", "set:int32", []int64{-300000, 100000, 200000}},
		{"legacy/redis-2.8.24.rdb", "set:int64", []int64{-6000000000, 1, 5000000000}},
		{"modern/redis-7.4.1.rdb", "set:int16", []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19}},
		{"modern/valkey-8.0.1.rdb", "set:int64", []int64{-6000000000, 1, 5000000000}},
	}
	for _, tt := range tests {
		t.Run(tt.file+"/"+tt.key, func(t *testing.T) {
			data := corpusFile(t, tt.file)
			blobs, _ := corpusBlobs(t, data, 11, tt.key)
			got, err := intsetValues(blobs[0])
			if err != nil || !slices.Equal(got, tt.want) {
				t.Errorf("got %v, %v; want %v", got, err, tt.want)
			}
			if enc := intsetEncode(nil, got); !bytes.Equal(enc, blobs[0]) {
				t.Errorf("re-encode: %x, want %x", enc, blobs[0])
			}
		})
	}
}
