package rdb

import (
	"fmt"
	"math"
	"sync"
)

// LZF (liblzf 3.x as vendored by Redis in src/lzf_c.c, src/lzf_d.c, src/lzfP.h).
// The compressed stream is a sequence of
//
//	000LLLLL <L+1 literal bytes>
//	LLLooooo oooooooo            back reference, length L+2 (L in 1..6)
//	111ooooo LLLLLLLL oooooooo   back reference, length L+9
//
// where the 13-bit o is the distance minus one to the referenced output byte.

// lzfDecompress decompresses src, which must expand to exactly outLen bytes,
// into dst[:0] (reusing its capacity when large enough) and returns the result.
//
// The caller is responsible for bounding outLen (the allocation is outLen
// bytes); lzfDecompress never writes past outLen and reports an error for a
// back reference before the start of the output, a literal run or back
// reference that does not fit the input or the output, and output shorter
// than outLen. Like Redis's loader, it rejects an empty src or outLen 0. On
// error the returned slice still holds the (reused or new) buffer, with
// undefined contents.
func lzfDecompress(dst, src []byte, outLen int) ([]byte, error) {
	if outLen <= 0 {
		return dst[:0], fmt.Errorf("lzf: invalid uncompressed length %d", outLen)
	}
	var out []byte
	if cap(dst) >= outLen {
		out = dst[:outLen]
	} else {
		out = make([]byte, outLen)
	}
	if len(src) == 0 {
		return out[:0], fmt.Errorf("lzf: empty input for %d bytes of output", outLen)
	}
	ip, op := 0, 0
	for ip < len(src) {
		at := ip
		ctrl := int(src[ip])
		ip++
		if ctrl < 1<<5 { // literal run
			run := ctrl + 1
			if run > outLen-op {
				return out[:0], fmt.Errorf("lzf: literal run of %d bytes at input offset %d overflows the %d-byte output at %d", run, at, outLen, op)
			}
			if run > len(src)-ip {
				return out[:0], fmt.Errorf("lzf: literal run of %d bytes at input offset %d runs past the end of the %d-byte input", run, at, len(src))
			}
			copy(out[op:op+run], src[ip:])
			op += run
			ip += run
			continue
		}
		// back reference
		length := ctrl >> 5
		if ip >= len(src) {
			return out[:0], fmt.Errorf("lzf: back reference at input offset %d is truncated", at)
		}
		if length == 7 {
			length += int(src[ip])
			ip++
			if ip >= len(src) {
				return out[:0], fmt.Errorf("lzf: back reference at input offset %d is truncated", at)
			}
		}
		dist := (ctrl&0x1F)<<8 + int(src[ip]) + 1
		ip++
		length += 2
		if length > outLen-op {
			return out[:0], fmt.Errorf("lzf: back reference of %d bytes at input offset %d overflows the %d-byte output at %d", length, at, outLen, op)
		}
		ref := op - dist
		if ref < 0 {
			return out[:0], fmt.Errorf("lzf: back reference at input offset %d points %d bytes back, before the start of the output (at %d)", at, dist, op)
		}
		if dist >= length {
			copy(out[op:op+length], out[ref:])
			op += length
			continue
		}
		// Overlapping copy: the output repeats with period dist; each copy
		// doubles the available pattern.
		for length > 0 {
			c := copy(out[op:op+length], out[ref:op])
			op += c
			length -= c
		}
	}
	if op != outLen {
		return out[:0], fmt.Errorf("lzf: input expands to %d bytes, want %d", op, outLen)
	}
	return out, nil
}

// Compressor parameters of Redis's lzfP.h: HLOG 16, VERY_FAST 1,
// ULTRA_FAST 0.
const (
	lzfHLog   = 16
	lzfHSize  = 1 << lzfHLog
	lzfMaxLit = 1 << 5
	lzfMaxOff = 1 << 13
	lzfMaxRef = 1<<8 + 1<<3
)

// lzfTable is the compressor's hash table of input positions. Entries hold
// base+position; an entry is valid for the current call only when it is
// above base (position 0 can never be referenced: lzf_compress requires
// ref > in_data), so the table never needs clearing between calls.
type lzfTable struct {
	slot [lzfHSize]uint32
	base uint32
}

var lzfTables = sync.Pool{New: func() any { return new(lzfTable) }}

// lzfIdx is lzf_c.c's IDX(h) for VERY_FAST.
func lzfIdx(h uint32) uint32 {
	return ((h >> (3*8 - lzfHLog)) - h*5) & (lzfHSize - 1)
}

// lzfCompress compresses src as Redis's rdbSaveLzfStringObject does
// (lzf_compress with an output limit of len(src)-4), appending to dst[:0]
// (reusing its capacity when large enough), so Redis's loader can decompress
// it. It returns ok=false when Redis would store the string raw instead:
// src of 4 bytes or less, or a compressed form longer than len(src)-4.
// (Redis only tries compression for strings longer than 20 bytes with
// rdbcompression on; that decision is the caller's.)
//
// The output is the one lzf_compress produces when its hash table starts
// empty (Redis leaves the table uninitialised, which can only make it find
// other, equally valid back references).
func lzfCompress(dst, src []byte) (out []byte, ok bool) {
	if len(src) <= 4 || uint64(len(src)) >= math.MaxUint32 {
		return dst[:0], false
	}
	t := lzfTables.Get().(*lzfTable)
	out, ok = t.compress(dst, src)
	lzfTables.Put(t)
	return out, ok
}

// compress is lzfCompress with the hash table t; len(src) is in 5..2^32-2.
func (t *lzfTable) compress(dst, src []byte) (out []byte, ok bool) {
	inLen := len(src)
	outLen := inLen - 4
	if cap(dst) >= outLen+1 {
		out = dst[:outLen+1]
	} else {
		out = make([]byte, outLen+1)
	}
	if uint64(t.base)+uint64(inLen) > math.MaxUint32 {
		t.slot = [lzfHSize]uint32{}
		t.base = 0
	}
	base := t.base
	t.base += uint32(inLen)

	ip, op, lit := 0, 1, 0 // op 1: room for the first literal run's control byte
	hval := uint32(src[0])<<8 | uint32(src[1])
	for ip < inLen-2 {
		hval = hval<<8 | uint32(src[ip+2])
		slot := &t.slot[lzfIdx(hval)]
		rv := *slot
		*slot = base + uint32(ip)
		if rv > base {
			ref := int(rv - base)
			off := ip - ref - 1
			if off < lzfMaxOff && ip+4 < inLen &&
				src[ref] == src[ip] && src[ref+1] == src[ip+1] && src[ref+2] == src[ip+2] {
				length := 2
				maxlen := inLen - ip - length
				if maxlen > lzfMaxRef {
					maxlen = lzfMaxRef
				}
				out[op-lit-1] = byte(lit - 1) // stop run
				if lit == 0 {
					op-- // undo run if length is zero
				}
				if op+3+1 >= outLen {
					return out[:0], false
				}
				length = lzfMatchLen(src, ref, ip, maxlen)
				length -= 2 // now #octets - 1
				ip++
				if length < 7 {
					out[op] = byte(off>>8 + length<<5)
					op++
				} else {
					out[op] = byte(off>>8 + 7<<5)
					out[op+1] = byte(length - 7)
					op += 2
				}
				out[op] = byte(off)
				op++
				lit = 0
				op++ // start run
				ip += length + 1
				if ip >= inLen-2 {
					break
				}
				ip -= 2
				hval = uint32(src[ip])<<8 | uint32(src[ip+1])
				hval = hval<<8 | uint32(src[ip+2])
				t.slot[lzfIdx(hval)] = base + uint32(ip)
				ip++
				hval = hval<<8 | uint32(src[ip+2])
				t.slot[lzfIdx(hval)] = base + uint32(ip)
				ip++
				continue
			}
		}
		// one more literal byte
		if op >= outLen {
			return out[:0], false
		}
		lit++
		out[op] = src[ip]
		op++
		ip++
		if lit == lzfMaxLit {
			out[op-lit-1] = byte(lit - 1) // stop run
			lit = 0
			op++ // start run
		}
	}
	if op+3 > outLen { // at most 3 bytes can be missing here
		return out[:0], false
	}
	for ip < inLen {
		lit++
		out[op] = src[ip]
		op++
		ip++
		if lit == lzfMaxLit {
			out[op-lit-1] = byte(lit - 1)
			lit = 0
			op++
		}
	}
	out[op-lit-1] = byte(lit - 1) // end run
	if lit == 0 {
		op--
	}
	return out[:op], true
}

// lzfMatchLen returns lzf_compress's match length for the 3 equal bytes at
// src[ref:] and src[ip:], reproducing its loop exactly (including the
// unrolled 16-byte step, which can run 2 bytes past maxlen).
func lzfMatchLen(src []byte, ref, ip, maxlen int) int {
	length := 2
	if maxlen > 16 {
		for k := 0; k < 16; k++ {
			length++
			if src[ref+length] != src[ip+length] {
				return length
			}
		}
	}
	for {
		length++
		if length >= maxlen || src[ref+length] != src[ip+length] {
			return length
		}
	}
}
