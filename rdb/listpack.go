package rdb

import "encoding/binary"

// Listpack layout (redis src/listpack.c), all integers little-endian:
//
//	total-bytes u32 | num-elements u16 | element... | 0xFF
//	element := encoding [length] data backlen
//
// Encodings of the first byte:
//
//	0xxxxxxx                 7-bit unsigned integer
//	10xxxxxx                 string, 6-bit length
//	110xxxxx yyyyyyyy        13-bit signed integer
//	1110xxxx yyyyyyyy        string, 12-bit length (big-endian halves)
//	0xF0 u32                 string, 32-bit length
//	0xF1/0xF2/0xF3/0xF4      16/24/32/64-bit signed integer
//	0xFF                     end of listpack
//
// backlen is the size of encoding+length+data as a base-128 number written
// so it can be read backwards from the element's last byte.

// Listpack constants.
const (
	lpHeaderSize  = 6 // total bytes + number of elements
	lpEOF         = 0xFF
	lpNumUnknown  = 0xFFFF
	lpEnc16BitInt = 0xF1
	lpEnc24BitInt = 0xF2
	lpEnc32BitInt = 0xF3
	lpEnc64BitInt = 0xF4
	lpEnc32BitStr = 0xF0
)

// lpBacklenSize returns the number of bytes lpEncodeBacklen uses for an
// element of size l (note Redis's boundaries: 16383 already takes 3 bytes).
func lpBacklenSize(l uint64) int {
	switch {
	case l <= 127:
		return 1
	case l < 16383:
		return 2
	case l < 2097151:
		return 3
	case l < 268435455:
		return 4
	default:
		return 5
	}
}

// lpAppendBacklen appends the backlen of an element of size l.
func lpAppendBacklen(dst []byte, l uint64) []byte {
	switch lpBacklenSize(l) {
	case 1:
		return append(dst, byte(l))
	case 2:
		return append(dst, byte(l>>7), byte(l&127)|128)
	case 3:
		return append(dst, byte(l>>14), byte((l>>7)&127)|128, byte(l&127)|128)
	case 4:
		return append(dst, byte(l>>21), byte((l>>14)&127)|128, byte((l>>7)&127)|128, byte(l&127)|128)
	default:
		return append(dst, byte(l>>28), byte((l>>21)&127)|128, byte((l>>14)&127)|128,
			byte((l>>7)&127)|128, byte(l&127)|128)
	}
}

// lpDecodeBacklen decodes the backlen whose last byte is lp[q], reading
// backwards as lpDecodeBacklen does. It returns ok=false when more than 5
// bytes carry the continuation bit.
func lpDecodeBacklen(lp []byte, q int) (uint64, bool) {
	var v uint64
	for shift := uint(0); q >= 0; shift += 7 {
		b := lp[q]
		v |= uint64(b&127) << shift
		if b&128 == 0 {
			return v, true
		}
		if shift+7 > 28 {
			return 0, false
		}
		q--
	}
	return 0, false
}

// listpackEach calls fn for every element of the listpack lp, in order, and
// returns the number of elements.
//
// The blob is checked as lpValidateIntegrity(deep=1) does: total-bytes
// equals len(lp), the last byte is 0xFF and the walk ends exactly there,
// every element lies inside the blob with a valid encoding and a backlen that
// decodes to its size, and num-elements equals the number of elements unless
// it is 65535 ("count unknown"). The walk is single-pass, so fn may already
// have been called for the elements before a malformed one. Strings alias lp.
// If fn returns an error, listpackEach stops and returns it unchanged.
func listpackEach(lp []byte, fn func(i int, e packedEntry) error) (int, error) {
	const kind = "listpack"
	n := len(lp)
	if n < lpHeaderSize+1 {
		return 0, packedHeaderError(kind, "blob of %d bytes is shorter than the %d-byte minimum", n, lpHeaderSize+1)
	}
	if total := binary.LittleEndian.Uint32(lp); uint64(total) != uint64(n) {
		return 0, packedHeaderError(kind, "header total bytes %d does not match the blob length %d", total, n)
	}
	end := n - 1 // offset of the EOF byte
	if lp[end] != lpEOF {
		return 0, packedHeaderError(kind, "last byte at offset %d is 0x%02x, not the 0xFF end marker", end, lp[end])
	}
	numele := int(binary.LittleEndian.Uint16(lp[4:]))

	p, i := lpHeaderSize, 0
	for lp[p] != lpEOF {
		start := p
		b := lp[p]
		var e packedEntry
		var size uint64 // encoding + length + data, without the backlen
		switch {
		case b < 0x80: // 7-bit unsigned integer
			e.Int, e.IsInt, size = int64(b), true, 1
		case b < 0xC0: // 6-bit string
			size = 1 + uint64(b&0x3F)
		case b < 0xE0: // 13-bit integer; p < end, so lp[p+1] exists
			u := int64(b&0x1F)<<8 | int64(lp[p+1])
			if u >= 1<<12 {
				u -= 1 << 13
			}
			e.Int, e.IsInt, size = u, true, 2
		case b < 0xF0: // 12-bit string
			if end-p < 2 {
				return i, packedEntryError(kind, i, start, "12-bit string header runs into the end of the blob (%d bytes)", n)
			}
			size = 2 + (uint64(b&0x0F)<<8 | uint64(lp[p+1]))
		case b == lpEnc32BitStr:
			if end-p < 5 {
				return i, packedEntryError(kind, i, start, "32-bit string header runs into the end of the blob (%d bytes)", n)
			}
			size = 5 + uint64(binary.LittleEndian.Uint32(lp[p+1:]))
		case b == lpEnc16BitInt:
			e.IsInt, size = true, 3
		case b == lpEnc24BitInt:
			e.IsInt, size = true, 4
		case b == lpEnc32BitInt:
			e.IsInt, size = true, 5
		case b == lpEnc64BitInt:
			e.IsInt, size = true, 9
		default:
			return i, packedEntryError(kind, i, start, "invalid encoding byte 0x%02x", b)
		}
		bl := lpBacklenSize(size)
		if size+uint64(bl) > uint64(end-p) {
			if e.IsInt {
				return i, packedEntryError(kind, i, start, "%d-byte integer entry runs past the end of the blob (%d bytes)", size+uint64(bl), n)
			}
			return i, packedEntryError(kind, i, start, "string length %d exceeds blob (%d bytes)", size-uint64(lpStrHeaderSize(b)), n)
		}
		next := p + int(size) + bl
		// Fast path for a 1-byte backlen; otherwise decode like Redis does.
		if last := lp[next-1]; last >= 128 || uint64(last) != size {
			got, ok := lpDecodeBacklen(lp, next-1)
			if !ok {
				return i, packedEntryError(kind, i, start, "backlen at offset %d is longer than 5 bytes", next-bl)
			}
			if got != size {
				return i, packedEntryError(kind, i, start, "backlen at offset %d says %d bytes, entry is %d", next-bl, got, size)
			}
		}
		if e.IsInt {
			d := lp[p+1:]
			switch b {
			case lpEnc16BitInt:
				e.Int = int64(int16(binary.LittleEndian.Uint16(d)))
			case lpEnc24BitInt:
				e.Int = int64(int32(uint32(d[0])<<8|uint32(d[1])<<16|uint32(d[2])<<24) >> 8)
			case lpEnc32BitInt:
				e.Int = int64(int32(binary.LittleEndian.Uint32(d)))
			case lpEnc64BitInt:
				e.Int = int64(binary.LittleEndian.Uint64(d))
			}
		} else {
			h := p + lpStrHeaderSize(b)
			e.Str = lp[h : p+int(size) : p+int(size)]
		}
		if fn != nil {
			if err := fn(i, e); err != nil {
				return i, err
			}
		}
		p = next
		i++
	}
	if p != end {
		return i, packedHeaderError(kind, "end marker at offset %d, but the blob ends at offset %d", p, end)
	}
	if numele != lpNumUnknown && numele != i {
		return i, packedHeaderError(kind, "header num-elements %d, but the blob holds %d elements", numele, i)
	}
	return i, nil
}

// lpStrHeaderSize returns the size of the encoding+length header of a
// listpack string whose first byte is b.
func lpStrHeaderSize(b byte) int {
	switch {
	case b < 0xC0:
		return 1
	case b == lpEnc32BitStr:
		return 5
	default:
		return 2
	}
}

// listpackBuilder appends elements and produces a valid listpack, byte for
// byte what Redis builds by appending the same elements to a new listpack
// (lpNew + lpAppend): strings stored as integers by lpStringToInt64's rule,
// the smallest integer or string encoding, the num-elements header stuck at
// 65535 once the count reaches it.
//
// The zero value is ready to use.
type listpackBuilder struct {
	buf []byte // header + elements, without the EOF byte
	n   int    // elements appended
}

// Reset empties the builder, keeping its buffer.
func (b *listpackBuilder) Reset() {
	b.buf = append(b.buf[:0], 0, 0, 0, 0, 0, 0) // total bytes, num-elements
	b.n = 0
}

// AppendString appends s, stored as an integer when Redis would do so
// (packedStringInt).
func (b *listpackBuilder) AppendString(s []byte) {
	if v, ok := packedStringInt(s); ok {
		b.AppendInt(v)
		return
	}
	if len(b.buf) < lpHeaderSize {
		b.Reset()
	}
	start := len(b.buf)
	l := len(s)
	switch {
	case l < 64:
		b.buf = append(b.buf, 0x80|byte(l))
	case l < 4096:
		b.buf = append(b.buf, 0xE0|byte(l>>8), byte(l))
	default:
		b.buf = append(b.buf, lpEnc32BitStr)
		b.buf = binary.LittleEndian.AppendUint32(b.buf, uint32(l))
	}
	b.buf = append(b.buf, s...)
	b.buf = lpAppendBacklen(b.buf, uint64(len(b.buf)-start))
	b.n++
}

// AppendInt appends the integer v in the smallest encoding that holds it.
func (b *listpackBuilder) AppendInt(v int64) {
	if len(b.buf) < lpHeaderSize {
		b.Reset()
	}
	start := len(b.buf)
	switch {
	case v >= 0 && v <= 127:
		b.buf = append(b.buf, byte(v))
	case v >= -4096 && v <= 4095:
		u := uint64(v) & (1<<13 - 1)
		b.buf = append(b.buf, 0xC0|byte(u>>8), byte(u))
	case v >= -1<<15 && v < 1<<15:
		b.buf = append(b.buf, lpEnc16BitInt, byte(v), byte(v>>8))
	case v >= -1<<23 && v < 1<<23:
		b.buf = append(b.buf, lpEnc24BitInt, byte(v), byte(v>>8), byte(v>>16))
	case v >= -1<<31 && v < 1<<31:
		b.buf = append(b.buf, lpEnc32BitInt)
		b.buf = binary.LittleEndian.AppendUint32(b.buf, uint32(v))
	default:
		b.buf = append(b.buf, lpEnc64BitInt)
		b.buf = binary.LittleEndian.AppendUint64(b.buf, uint64(v))
	}
	b.buf = lpAppendBacklen(b.buf, uint64(len(b.buf)-start))
	b.n++
}

// Len returns the number of elements appended since the last Reset.
func (b *listpackBuilder) Len() int { return b.n }

// Bytes returns the finished listpack. It aliases the builder's buffer and is
// valid until the next Reset or Append.
func (b *listpackBuilder) Bytes() []byte {
	if len(b.buf) < lpHeaderSize {
		b.Reset()
	}
	lp := append(b.buf, lpEOF)
	b.buf = lp[:len(lp)-1]
	binary.LittleEndian.PutUint32(lp, uint32(len(lp)))
	count := b.n
	if count > lpNumUnknown {
		count = lpNumUnknown
	}
	binary.LittleEndian.PutUint16(lp[4:], uint16(count))
	return lp
}
