// Package keyslot computes Redis Cluster hash slots.
//
// A key's slot is CRC16 (the XMODEM variant: polynomial 0x1021, initial
// value 0, no reflection, no final XOR) of its hash tag, modulo 16384. The
// hash tag is the part between the first '{' and the first '}' after it when
// that part is non-empty; otherwise the whole key is hashed. This is
// keyHashSlot of Redis's cluster.c.
package keyslot

import "sync"

// NumSlots is the number of hash slots of a Redis cluster.
const NumSlots = 16384

// Slot returns key's cluster hash slot, 0 … NumSlots-1. It does not allocate.
func Slot(key []byte) int { return slot(key) }

// SlotString is Slot for a key held in a string.
func SlotString(key string) int { return slot(key) }

func slot[T string | []byte](key T) int {
	for i := 0; i < len(key); i++ {
		if key[i] == '{' {
			for j := i + 1; j < len(key); j++ {
				if key[j] == '}' {
					if j > i+1 {
						key = key[i+1 : j]
					}
					break
				}
			}
			break
		}
	}
	var crc uint16
	for i := 0; i < len(key); i++ {
		crc = crc<<8 ^ crcTable[byte(crc>>8)^key[i]]
	}
	return int(crc & (NumSlots - 1))
}

// CRC16 returns the CRC-16/XMODEM checksum of b (CRC16("123456789") is
// 0x31C3).
func CRC16(b []byte) uint16 {
	var crc uint16
	for _, c := range b {
		crc = crc<<8 ^ crcTable[byte(crc>>8)^c]
	}
	return crc
}

var crcTable = func() (t [256]uint16) {
	for i := range t {
		crc := uint16(i) << 8
		for k := 0; k < 8; k++ {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
		t[i] = crc
	}
	return t
}()

// tagAlphabet is what Tag's hash tags are made of: letters and digits, so the
// tags print plainly and never contain a brace.
const tagAlphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

var (
	tagsOnce sync.Once
	tags     [NumSlots]string
)

// Tag returns a short hash tag (without its braces) of slot: a key
// "{"+Tag(s)+"}…" is in slot s. Tags are letters and digits, 1 to 3
// bytes, the same on every run; the table behind them is built on first use
// (about a millisecond). Tag panics when slot is outside 0 … NumSlots-1.
func Tag(slot int) string {
	tagsOnce.Do(buildTags)
	return tags[slot]
}

// buildTags fills tags with the first strings over tagAlphabet, shortest
// first, that hash to each slot. Three characters already reach every slot
// (a test checks it); four are there for safety.
func buildTags() {
	left := NumSlots
	var buf [4]byte
	for n := 1; n <= len(buf) && left > 0; n++ {
		idx := make([]int, n)
		for left > 0 {
			for i, x := range idx {
				buf[i] = tagAlphabet[x]
			}
			s := int(CRC16(buf[:n]) & (NumSlots - 1))
			if tags[s] == "" {
				tags[s] = string(buf[:n])
				left--
			}
			// Next combination, last character fastest.
			i := n - 1
			for ; i >= 0; i-- {
				idx[i]++
				if idx[i] < len(tagAlphabet) {
					break
				}
				idx[i] = 0
			}
			if i < 0 {
				break
			}
		}
	}
}
