package rdb

import (
	"encoding/binary"
	"fmt"
)

// Zipmap layout (redis src/zipmap.c), the hash encoding of Redis ≤ 2.4
// (RDB type 9, HASH_ZIPMAP):
//
//	zmlen u8 | (len field  len free value free-bytes)... | 0xFF
//
// zmlen is the number of pairs, or ≥ 254 when it is unknown. A len is one
// byte below 254, or 254 followed by a u32 (little-endian in every file Redis
// wrote). free is one byte: the number of unused bytes after the value.

// Zipmap constants.
const (
	zipmapBigLen = 254
	zipmapEnd    = 0xFF
)

// zipmapEach calls fn for each field/value pair of the zipmap zm, in order,
// and returns the number of pairs.
//
// The blob is checked as zipmapValidateIntegrity(deep=1) does: the last
// byte is 0xFF, every length, field, value and its free bytes lie inside the
// blob, there is at least one pair (that error wraps errPackedEmpty) and the
// count byte equals the number of pairs unless it is 254 or more ("count
// unknown"; Redis's check only exempts 254, but its zipmapLen treats 255 the
// same way and files with 255 exist). Like Redis, the walk stops at the
// first 0xFF where a field length is expected. fn's arguments alias zm. If
// fn returns an error, zipmapEach stops and returns it unchanged.
func zipmapEach(zm []byte, fn func(field, value []byte) error) (int, error) {
	const kind = "zipmap"
	n := len(zm)
	if n < 2 {
		return 0, packedHeaderError(kind, "blob of %d bytes is shorter than the 2-byte minimum", n)
	}
	end := n - 1
	if zm[end] != zipmapEnd {
		return 0, packedHeaderError(kind, "last byte at offset %d is 0x%02x, not the 0xFF end marker", end, zm[end])
	}
	p, count := 1, 0
	for zm[p] != zipmapEnd {
		start := p
		field, next, err := zipmapString(zm, p, end, false)
		if err != nil {
			return count, packedEntryError(kind, count, start, "field %v", err)
		}
		value, next, err := zipmapString(zm, next, end, true)
		if err != nil {
			return count, packedEntryError(kind, count, start, "value %v", err)
		}
		if fn != nil {
			if err := fn(field, value); err != nil {
				return count, err
			}
		}
		p = next
		count++
	}
	if count == 0 {
		return 0, fmt.Errorf("%s: %w (no pairs before the end marker at offset %d)", kind, errPackedEmpty, p)
	}
	if zmlen := int(zm[0]); zmlen < zipmapBigLen && zmlen != count {
		return count, packedHeaderError(kind, "count byte %d at offset 0, but the blob holds %d pairs", zmlen, count)
	}
	return count, nil
}

// zipmapString decodes the length-prefixed string at zm[p:] (followed by a
// free byte and that many unused bytes when withFree) and returns it with
// the offset after it, which is at most end.
func zipmapString(zm []byte, p, end int, withFree bool) (s []byte, next int, err error) {
	l := uint64(zm[p])
	if l < zipmapBigLen {
		p++
	} else {
		if end-p < 5 {
			return nil, 0, fmt.Errorf("5-byte length at offset %d runs into the end of the blob (%d bytes)", p, end+1)
		}
		l = uint64(binary.LittleEndian.Uint32(zm[p+1:]))
		p += 5
	}
	free := uint64(0)
	if withFree {
		// p <= end: the free byte exists (it may be the end marker, in which
		// case the length check below fails).
		free = uint64(zm[p])
		p++
	}
	if uint64(p)+l+free > uint64(end) {
		return nil, 0, fmt.Errorf("length %d (+%d free) at offset %d exceeds blob (%d bytes)", l, free, p, end+1)
	}
	return zm[p : p+int(l) : p+int(l)], p + int(l) + int(free), nil
}

// zipmapEncode appends a zipmap holding the hash's pairs, as Redis 2.4
// writes one: no free bytes, the pair count in the header (254 when there
// are more).
func zipmapEncode(dst []byte, h Hash) []byte {
	appendLen := func(dst []byte, n int) []byte {
		if n < zipmapBigLen {
			return append(dst, byte(n))
		}
		return binary.LittleEndian.AppendUint32(append(dst, zipmapBigLen), uint32(n))
	}
	dst = append(dst, byte(min(len(h), zipmapBigLen)))
	for _, f := range h {
		dst = appendLen(dst, len(f.Field))
		dst = append(dst, f.Field...)
		dst = appendLen(dst, len(f.Value))
		dst = append(dst, 0) // free
		dst = append(dst, f.Value...)
	}
	return append(dst, zipmapEnd)
}
