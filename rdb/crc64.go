package rdb

import (
	"encoding/binary"
	"math/bits"
)

// crcPoly is the reflected CRC-64/Jones polynomial (0xad93d23594c935a9).
const crcPoly = 0x95AC9329AC4BC9B5

// crcTables holds the slicing-by-16 tables of CRC-64/Jones: t[j][b] is the
// CRC of byte b followed by j zero bytes.
var crcTables = func() *[16][256]uint64 {
	t := new([16][256]uint64)
	for i := 0; i < 256; i++ {
		c := uint64(i)
		for j := 0; j < 8; j++ {
			if c&1 == 1 {
				c = c>>1 ^ crcPoly
			} else {
				c >>= 1
			}
		}
		t[0][i] = c
	}
	for i := 0; i < 256; i++ {
		c := t[0][i]
		for j := 1; j < 16; j++ {
			c = t[0][c&0xff] ^ c>>8
			t[j][i] = c
		}
	}
	return t
}()

// CRC64 continues the CRC-64 that Redis computes for RDB files and DUMP
// payloads (CRC-64/Jones, reflected, initial value 0, no final xor) over p.
// Start with crc = 0: CRC64(0, []byte("123456789")) == 0xe9c6d914c4b8d9ca.
func CRC64(crc uint64, p []byte) uint64 {
	crc, p = crc64Fold(crc, p)
	return crc64Tables(crc, p)
}

// crc64Tables is CRC64 with the tables alone.
func crc64Tables(crc uint64, p []byte) uint64 {
	t := crcTables
	for len(p) >= 16 {
		a := crc ^ binary.LittleEndian.Uint64(p)
		b := binary.LittleEndian.Uint64(p[8:])
		crc = t[15][a&0xff] ^ t[14][a>>8&0xff] ^ t[13][a>>16&0xff] ^ t[12][a>>24&0xff] ^
			t[11][a>>32&0xff] ^ t[10][a>>40&0xff] ^ t[9][a>>48&0xff] ^ t[8][a>>56] ^
			t[7][b&0xff] ^ t[6][b>>8&0xff] ^ t[5][b>>16&0xff] ^ t[4][b>>24&0xff] ^
			t[3][b>>32&0xff] ^ t[2][b>>40&0xff] ^ t[1][b>>48&0xff] ^ t[0][b>>56]
		p = p[16:]
	}
	if len(p) >= 8 {
		crc ^= binary.LittleEndian.Uint64(p)
		crc = t[7][crc&0xff] ^ t[6][crc>>8&0xff] ^ t[5][crc>>16&0xff] ^ t[4][crc>>24&0xff] ^
			t[3][crc>>32&0xff] ^ t[2][crc>>40&0xff] ^ t[1][crc>>48&0xff] ^ t[0][crc>>56]
		p = p[8:]
	}
	for _, b := range p {
		crc = t[0][byte(crc)^b] ^ crc>>8
	}
	return crc
}

// crcXnModP returns x^n mod P, bit-reflected as the tables are: the
// constants of folding.
func crcXnModP(n int) uint64 {
	const poly = 0xAD93D23594C935A9 // P without its x^64 term, not reflected
	r := uint64(1)
	for i := 0; i < n; i++ {
		top := r >> 63
		r <<= 1
		if top == 1 {
			r ^= poly
		}
	}
	return bits.Reverse64(r)
}
