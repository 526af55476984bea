package rdb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
)

// This file holds the ziplist codec and the pieces it shares with the
// listpack codec (listpack.go): the element type packedEntry, the rule that
// decides when Redis stores a string as an integer, and error formatting.
//
// Ziplist layout (redis src/ziplist.c), all integers little-endian unless
// noted:
//
//	zlbytes u32 | zltail u32 | zllen u16 | entry... | 0xFF
//	entry := prevlen (1 byte < 254, or 0xFE + u32) | encoding | data
//
// Encodings: 00pppppp (string, 6-bit length), 01pppppp qqqqqqqq (14-bit
// big-endian length), 10______ + u32 big-endian length, 0xC0 int16, 0xD0
// int32, 0xE0 int64, 0xF0 int24, 0xFE int8, 0xF1..0xFD immediate 0..12.

// packedEntry is one element of a ziplist or listpack: a string or an integer.
type packedEntry struct {
	Str   []byte // the string (aliases the blob), when !IsInt
	Int   int64  // the integer, when IsInt
	IsInt bool
}

// AppendTo appends the element's bytes (integers in decimal, as Redis prints
// them) to dst.
func (e packedEntry) AppendTo(dst []byte) []byte {
	if e.IsInt {
		return strconv.AppendInt(dst, e.Int, 10)
	}
	return append(dst, e.Str...)
}

// errPackedEmpty is wrapped by the errors of intsetEach and zipmapEach for a
// blob without entries: Redis's integrity checks reject empty intsets and
// zipmaps (an empty ziplist or listpack is valid and yields no entries).
var errPackedEmpty = errors.New("empty")

// packedEntryError returns the error for entry i of a kind ("ziplist",
// "listpack", …) starting at byte offset off of the blob.
func packedEntryError(kind string, i, off int, format string, args ...any) error {
	return fmt.Errorf("%s: entry %d at offset %d: %s", kind, i, off, fmt.Sprintf(format, args...))
}

// packedHeaderError returns the error for a malformed blob header or trailer.
func packedHeaderError(kind string, format string, args ...any) error {
	return fmt.Errorf("%s: %s", kind, fmt.Sprintf(format, args...))
}

// packedStringInt reports whether Redis stores the string s as an integer in
// a ziplist or listpack, and returns that integer. This is Redis's
// string2ll / lpStringToInt64 rule: s must be the canonical decimal form of
// an int64 — an optional '-', no '+', no spaces, no leading zeros (except
// "0" itself, and "-0" is not canonical), at most 20 bytes. Such strings
// survive the round trip through the integer unchanged.
func packedStringInt(s []byte) (int64, bool) {
	if len(s) == 0 || len(s) > 20 {
		return 0, false
	}
	if len(s) == 1 && s[0] == '0' {
		return 0, true
	}
	neg := s[0] == '-'
	i := 0
	if neg {
		i = 1
		if len(s) == 1 {
			return 0, false
		}
	}
	if s[i] < '1' || s[i] > '9' {
		return 0, false
	}
	var v uint64
	for ; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if v > (1<<64-1)/10 {
			return 0, false
		}
		v *= 10
		d := uint64(c - '0')
		if v > 1<<64-1-d {
			return 0, false
		}
		v += d
	}
	if neg {
		if v > 1<<63 {
			return 0, false
		}
		return int64(-v), true // -(1<<63) wraps to math.MinInt64, as intended
	}
	if v > 1<<63-1 {
		return 0, false
	}
	return int64(v), true
}

// Ziplist constants (redis src/ziplist.c).
const (
	zipHeaderSize = 10   // zlbytes + zltail + zllen
	zipEnd        = 0xFF // end-of-ziplist marker
	zipBigPrevlen = 0xFE // first byte of a 5-byte prevlen
	zipLenUnknown = 0xFFFF

	zipInt16 = 0xC0
	zipInt32 = 0xD0
	zipInt64 = 0xE0
	zipInt24 = 0xF0
	zipInt8  = 0xFE
	zipImmLo = 0xF1 // immediate 0
	zipImmHi = 0xFD // immediate 12
)

// ziplistEach calls fn for every entry of the ziplist zl, in order, and
// returns the number of entries.
//
// The blob is checked as ziplistValidateIntegrity(deep=1) does: zlbytes
// equals len(zl), the last byte is 0xFF and the walk ends exactly there,
// every entry lies inside the blob with a valid encoding, every prevlen
// equals the previous entry's size, zltail points at the last entry and
// zllen equals the number of entries unless it is 0xFFFF ("count unknown").
// The walk is single-pass, so fn may already have been called for the
// entries before a malformed one. Strings in the entries alias zl. If fn
// returns an error, ziplistEach stops and returns it unchanged.
func ziplistEach(zl []byte, fn func(i int, e packedEntry) error) (int, error) {
	const kind = "ziplist"
	n := len(zl)
	if n < zipHeaderSize+1 {
		return 0, packedHeaderError(kind, "blob of %d bytes is shorter than the %d-byte minimum", n, zipHeaderSize+1)
	}
	if total := binary.LittleEndian.Uint32(zl); uint64(total) != uint64(n) {
		return 0, packedHeaderError(kind, "header zlbytes %d does not match the blob length %d", total, n)
	}
	end := n - 1 // offset of the end marker
	if zl[end] != zipEnd {
		return 0, packedHeaderError(kind, "last byte at offset %d is 0x%02x, not the 0xFF end marker", end, zl[end])
	}
	tail := binary.LittleEndian.Uint32(zl[4:])
	if uint64(tail) > uint64(end) {
		return 0, packedHeaderError(kind, "header zltail %d points past the end marker at offset %d", tail, end)
	}
	zllen := int(binary.LittleEndian.Uint16(zl[8:]))

	p := zipHeaderSize
	prevSize, last, i := 0, -1, 0
	for zl[p] != zipEnd {
		start := p
		// prevlen: p < end here, because zl[end] == 0xFF.
		prevlen := int(zl[p])
		if prevlen < zipBigPrevlen {
			p++
		} else {
			if end-p < 5 {
				return i, packedEntryError(kind, i, start, "5-byte prevlen runs into the end of the blob (%d bytes)", n)
			}
			prevlen = int(binary.LittleEndian.Uint32(zl[p+1:]))
			p += 5
		}
		if prevlen != prevSize {
			return i, packedEntryError(kind, i, start, "prevlen %d does not match the previous entry's size %d", prevlen, prevSize)
		}
		// encoding: p <= end here.
		enc := zl[p]
		var e packedEntry
		if enc < 0xC0 {
			var slen uint64
			switch enc >> 6 {
			case 0:
				slen = uint64(enc & 0x3F)
				p++
			case 1:
				if end-p < 2 {
					return i, packedEntryError(kind, i, start, "14-bit string header at offset %d runs into the end of the blob (%d bytes)", p, n)
				}
				slen = uint64(enc&0x3F)<<8 | uint64(zl[p+1])
				p += 2
			default: // 10xxxxxx: the low 6 bits are ignored, as Redis does
				if end-p < 5 {
					return i, packedEntryError(kind, i, start, "32-bit string header at offset %d runs into the end of the blob (%d bytes)", p, n)
				}
				slen = uint64(binary.BigEndian.Uint32(zl[p+1:]))
				p += 5
			}
			if slen > uint64(end-p) {
				return i, packedEntryError(kind, i, start, "string length %d exceeds blob (%d bytes)", slen, n)
			}
			e.Str = zl[p : p+int(slen) : p+int(slen)]
			p += int(slen)
		} else {
			var size int
			switch {
			case enc == zipInt8:
				size = 1
			case enc == zipInt16:
				size = 2
			case enc == zipInt24:
				size = 3
			case enc == zipInt32:
				size = 4
			case enc == zipInt64:
				size = 8
			case enc >= zipImmLo && enc <= zipImmHi:
				size = 0
			default:
				return i, packedEntryError(kind, i, start, "invalid encoding byte 0x%02x at offset %d", enc, p)
			}
			p++
			if size > end-p {
				return i, packedEntryError(kind, i, start, "%d-byte integer runs past the end of the blob (%d bytes)", size, n)
			}
			d := zl[p:]
			switch size {
			case 0:
				e.Int = int64(enc&0x0F) - 1
			case 1:
				e.Int = int64(int8(d[0]))
			case 2:
				e.Int = int64(int16(binary.LittleEndian.Uint16(d)))
			case 3:
				e.Int = int64(int32(uint32(d[0])<<8|uint32(d[1])<<16|uint32(d[2])<<24) >> 8)
			case 4:
				e.Int = int64(int32(binary.LittleEndian.Uint32(d)))
			case 8:
				e.Int = int64(binary.LittleEndian.Uint64(d))
			}
			e.IsInt = true
			p += size
		}
		if fn != nil {
			if err := fn(i, e); err != nil {
				return i, err
			}
		}
		prevSize = p - start
		last = start
		i++
	}
	if p != end {
		return i, packedHeaderError(kind, "end marker at offset %d, but the blob ends at offset %d", p, end)
	}
	if last >= 0 && uint64(last) != uint64(tail) {
		return i, packedHeaderError(kind, "header zltail %d, but the last entry starts at offset %d", tail, last)
	}
	if zllen != zipLenUnknown && zllen != i {
		return i, packedHeaderError(kind, "header zllen %d, but the blob holds %d entries", zllen, i)
	}
	return i, nil
}

// ziplistBuilder appends entries and produces a valid ziplist, byte for byte
// what Redis builds by pushing the same entries at the tail of a new ziplist
// (ziplistNew + ziplistPush): minimal prevlen fields, the smallest string
// header, strings stored as integers by zipTryEncoding's rule and the
// smallest integer encoding.
//
// The zero value is ready to use.
type ziplistBuilder struct {
	buf      []byte // header + entries, without the end marker
	n        int    // entries appended
	prevSize int    // size of the last entry
	tail     int    // offset of the last entry

	// legacyInts restricts integers to the int16/int32/int64 encodings, the
	// only ones known before Redis 2.6.0 (RDB 6 added int24, int8 and the
	// 4-bit immediates): set it, before the first Append, when writing RDB
	// versions 2 to 5: the servers that read them know no other encoding.
	legacyInts bool
}

// Reset empties the builder, keeping its buffer and legacyInts.
func (b *ziplistBuilder) Reset() {
	b.buf = append(b.buf[:0], 0, 0, 0, 0, 0, 0, 0, 0, 0, 0) // zlbytes, zltail, zllen
	b.n = 0
	b.prevSize = 0
	b.tail = zipHeaderSize
}

// begin writes the prevlen field of a new entry and returns its offset.
func (b *ziplistBuilder) begin() int {
	if len(b.buf) < zipHeaderSize {
		b.Reset()
	}
	start := len(b.buf)
	if b.prevSize < zipBigPrevlen {
		b.buf = append(b.buf, byte(b.prevSize))
	} else {
		b.buf = append(b.buf, zipBigPrevlen)
		b.buf = binary.LittleEndian.AppendUint32(b.buf, uint32(b.prevSize))
	}
	return start
}

// finish records the entry that starts at start.
func (b *ziplistBuilder) finish(start int) {
	b.prevSize = len(b.buf) - start
	b.tail = start
	b.n++
}

// AppendString appends s, stored as an integer when Redis would do so
// (packedStringInt).
func (b *ziplistBuilder) AppendString(s []byte) {
	if v, ok := packedStringInt(s); ok {
		b.AppendInt(v)
		return
	}
	start := b.begin()
	l := len(s)
	switch {
	case l <= 0x3F:
		b.buf = append(b.buf, byte(l))
	case l <= 0x3FFF:
		b.buf = append(b.buf, 0x40|byte(l>>8), byte(l))
	default:
		b.buf = append(b.buf, 0x80)
		b.buf = binary.BigEndian.AppendUint32(b.buf, uint32(l))
	}
	b.buf = append(b.buf, s...)
	b.finish(start)
}

// AppendInt appends the integer v in the smallest encoding that holds it.
func (b *ziplistBuilder) AppendInt(v int64) {
	start := b.begin()
	switch {
	case !b.legacyInts && v >= 0 && v <= 12:
		b.buf = append(b.buf, zipImmLo+byte(v))
	case !b.legacyInts && v >= -1<<7 && v < 1<<7:
		b.buf = append(b.buf, zipInt8, byte(v))
	case v >= -1<<15 && v < 1<<15:
		b.buf = append(b.buf, zipInt16)
		b.buf = binary.LittleEndian.AppendUint16(b.buf, uint16(v))
	case !b.legacyInts && v >= -1<<23 && v < 1<<23:
		b.buf = append(b.buf, zipInt24, byte(v), byte(v>>8), byte(v>>16))
	case v >= -1<<31 && v < 1<<31:
		b.buf = append(b.buf, zipInt32)
		b.buf = binary.LittleEndian.AppendUint32(b.buf, uint32(v))
	default:
		b.buf = append(b.buf, zipInt64)
		b.buf = binary.LittleEndian.AppendUint64(b.buf, uint64(v))
	}
	b.finish(start)
}

// Len returns the number of entries appended since the last Reset.
func (b *ziplistBuilder) Len() int { return b.n }

// Bytes returns the finished ziplist. It aliases the builder's buffer and is
// valid until the next Reset or Append.
func (b *ziplistBuilder) Bytes() []byte {
	if len(b.buf) < zipHeaderSize {
		b.Reset()
	}
	zl := append(b.buf, zipEnd)
	b.buf = zl[:len(zl)-1]
	binary.LittleEndian.PutUint32(zl, uint32(len(zl)))
	binary.LittleEndian.PutUint32(zl[4:], uint32(b.tail))
	count := b.n
	if count > zipLenUnknown {
		count = zipLenUnknown
	}
	binary.LittleEndian.PutUint16(zl[8:], uint16(count))
	return zl
}
