package rdb

import (
	"encoding/binary"
	"fmt"
	"slices"
)

// Intset layout (redis src/intset.c), little-endian:
//
//	encoding u32 (2, 4 or 8 = bytes per integer) | length u32 | integers...
//
// The integers are sorted ascending without duplicates, all stored in the
// width of the encoding, the smallest that holds every member.

const intsetHeaderSize = 8

// intsetEach calls fn for each integer of the intset is, in order, and
// returns the number of integers.
//
// The blob is checked as intsetValidateIntegrity(deep=1) does: the encoding
// is 2, 4 or 8, the header length times the encoding fills the blob exactly,
// the set is not empty (that error wraps errPackedEmpty) and the integers
// are strictly ascending. If fn returns an error, intsetEach stops and
// returns it unchanged.
func intsetEach(is []byte, fn func(i int, v int64) error) (int, error) {
	const kind = "intset"
	if len(is) < intsetHeaderSize {
		return 0, packedHeaderError(kind, "blob of %d bytes is shorter than the %d-byte header", len(is), intsetHeaderSize)
	}
	enc := binary.LittleEndian.Uint32(is)
	if enc != 2 && enc != 4 && enc != 8 {
		return 0, packedHeaderError(kind, "invalid encoding %d at offset 0 (want 2, 4 or 8)", enc)
	}
	count := binary.LittleEndian.Uint32(is[4:])
	if want := intsetHeaderSize + uint64(count)*uint64(enc); want != uint64(len(is)) {
		return 0, packedHeaderError(kind, "header length %d × %d bytes needs a %d-byte blob, have %d", count, enc, want, len(is))
	}
	if count == 0 {
		return 0, fmt.Errorf("%s: %w (length 0 at offset 4)", kind, errPackedEmpty)
	}
	w := int(enc)
	var prev int64
	for i, off := 0, intsetHeaderSize; off < len(is); i, off = i+1, off+w {
		var v int64
		switch w {
		case 2:
			v = int64(int16(binary.LittleEndian.Uint16(is[off:])))
		case 4:
			v = int64(int32(binary.LittleEndian.Uint32(is[off:])))
		default:
			v = int64(binary.LittleEndian.Uint64(is[off:]))
		}
		if i > 0 && v <= prev {
			return i, packedEntryError(kind, i, off, "%d does not follow %d in ascending order", v, prev)
		}
		if fn != nil {
			if err := fn(i, v); err != nil {
				return i, err
			}
		}
		prev = v
	}
	return int(count), nil
}

// intsetValueWidth returns the bytes per integer of the smallest intset
// encoding that holds v (_intsetValueEncoding).
func intsetValueWidth(v int64) int {
	switch {
	case v < -1<<31 || v > 1<<31-1:
		return 8
	case v < -1<<15 || v > 1<<15-1:
		return 4
	default:
		return 2
	}
}

// intsetEncode appends to dst the intset holding vals and returns the
// extended slice: sorted ascending, duplicates removed, in the smallest
// encoding that fits every value — the blob Redis would hold for that set.
// vals need not be sorted and is not modified. With no values the result is
// an empty intset (encoding 2, length 0), which Redis never writes and its
// loader rejects; callers should not store empty sets.
func intsetEncode(dst []byte, vals []int64) []byte {
	sorted := true
	for i := 1; i < len(vals); i++ {
		if vals[i] <= vals[i-1] {
			sorted = false
			break
		}
	}
	if !sorted {
		vals = slices.Clone(vals)
		slices.Sort(vals)
		vals = slices.Compact(vals)
	}
	w := 2
	if len(vals) > 0 {
		// Sorted: the extremes decide the width.
		w = max(intsetValueWidth(vals[0]), intsetValueWidth(vals[len(vals)-1]))
	}
	dst = binary.LittleEndian.AppendUint32(dst, uint32(w))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(vals)))
	dst = slices.Grow(dst, w*len(vals))
	for _, v := range vals {
		switch w {
		case 2:
			dst = binary.LittleEndian.AppendUint16(dst, uint16(v))
		case 4:
			dst = binary.LittleEndian.AppendUint32(dst, uint32(v))
		default:
			dst = binary.LittleEndian.AppendUint64(dst, uint64(v))
		}
	}
	return dst
}
