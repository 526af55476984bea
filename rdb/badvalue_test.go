package rdb

import (
	"errors"
	"runtime"
	"testing"
)

// decodeBounded decodes raw and fails the test unless it returns a
// *FormatError without panicking and without allocating more than limit
// bytes.
func decodeBounded(t *testing.T, what string, typ Type, raw []byte, limit uint64) {
	t.Helper()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var err error
	func() {
		defer func() {
			if p := recover(); p != nil {
				t.Fatalf("%s: DecodeValue panicked: %v", what, p)
			}
		}()
		_, err = DecodeValue(typ, raw, 10)
	}()
	runtime.ReadMemStats(&after)
	var fe *FormatError
	if !errors.As(err, &fe) {
		t.Fatalf("%s: got %v, want a *FormatError", what, err)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > limit {
		t.Fatalf("%s: %d input bytes made DecodeValue allocate %d bytes (limit %d)", what, len(raw), n, limit)
	}
}

// TestBadStreamNodeMasterFields: a stream node whose master entry claims
// more fields than the node holds is an error, not a panic.
func TestBadStreamNodeMasterFields(t *testing.T) {
	var lp listpackBuilder
	lp.Reset()
	for _, v := range []int64{0, 0, 2} { // count, deleted, master fields
		lp.AppendInt(v)
	}
	raw := appendLen(nil, 1)                         // one node
	raw = appendString(raw, make([]byte, 16), false) // its master id
	raw = appendString(raw, lp.Bytes(), false)
	decodeBounded(t, "stream node", TypeStreamListpacks, raw, 1<<20)
}

// TestBadQuicklistNodeCount: a quicklist announcing 2^40 nodes, or
// thousands of nodes after a large one, makes no allocation the input
// cannot back.
func TestBadQuicklistNodeCount(t *testing.T) {
	var zl ziplistBuilder
	zl.Reset()
	for i := 0; i < 50; i++ {
		zl.AppendInt(int64(i))
	}
	node := appendString(nil, zl.Bytes(), false)

	raw := append(appendLen(nil, 1<<40), node...)
	decodeBounded(t, "2^40 nodes", TypeListQuicklist, raw, 1<<20)

	raw = append(appendLen(nil, 3001), node...)
	for i := 0; i < 3000; i++ {
		raw = append(raw, 0) // an empty node
	}
	decodeBounded(t, "3000 empty nodes after a full one", TypeListQuicklist, raw, 1<<20)
}

// TestConvertEmptySet: an empty listpack set converted for Redis 7.0 is a
// plain empty set, not an empty intset (which Redis refuses to load).
func TestConvertEmptySet(t *testing.T) {
	var lp listpackBuilder
	lp.Reset()
	k := &Key{Key: []byte("empty"), Type: TypeSetListpack, Raw: appendString(nil, lp.Bytes(), false), Version: 11}
	target, err := TargetFor(FlavorRedis, "7.0.15")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Convert(k, target, ConvertOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Type != TypeSet {
		t.Fatalf("empty set converted to %v, want %v", c.Type, TypeSet)
	}
}

// TestPlainIntegersShareChunks: integer-encoded elements of plain
// encodings are formatted into shared chunks, not one allocation each.
func TestPlainIntegersShareChunks(t *testing.T) {
	raw := appendLen(nil, 500)
	for i := 0; i < 500; i++ {
		raw = append(raw, 0xC0|encInt16, byte(i), byte(i>>8)) // field
		raw = append(raw, 0xC0|encInt16, byte(i), byte(i>>8)) // value
	}
	allocs := testing.AllocsPerRun(20, func() {
		if _, err := DecodeValue(TypeHash, raw, 10); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 20 {
		t.Fatalf("a hash of 1000 integer strings took %.0f allocations to decode, want at most 20", allocs)
	}
}
