package rdb

import (
	"encoding/binary"
	"fmt"
)

// DUMP payloads
//
// A DUMP payload (the argument of RESTORE) is
//
//	<type byte> <value, as in an RDB file> <RDB version, u16 LE> <CRC-64, u64 LE>
//
// where the CRC covers everything before it. It carries no key, expiration,
// idle time or frequency. Valkey 9 writes payload version 80, whose type
// bytes follow Valkey's numbering.

// DumpFooterLen is the size of a DUMP payload's footer.
const DumpFooterLen = 10

// DumpPayloadLen returns the length of the DUMP payload of a raw value.
func DumpPayloadLen(raw []byte) int { return 1 + len(raw) + DumpFooterLen }

// DumpFooter returns the footer that follows a value of type t in a DUMP
// payload of the given RDB version. Writing t.Byte(), raw and the footer in
// sequence produces the payload without copying raw.
func DumpFooter(t Type, raw []byte, version int) [DumpFooterLen]byte {
	return DumpFooterWithMeta(nil, t, raw, version)
}

// DumpFooterWithMeta is DumpFooter for a payload that starts with a key
// metadata block (Redis 8.6, RDB 13), written before the type byte and
// covered by the checksum. meta is the whole block as it precedes the type
// byte: the 0xF3 opcode followed by Key.Meta.
func DumpFooterWithMeta(meta []byte, t Type, raw []byte, version int) [DumpFooterLen]byte {
	var f [DumpFooterLen]byte
	binary.LittleEndian.PutUint16(f[:2], uint16(version))
	crc := CRC64(CRC64(0, meta), []byte{t.Byte()})
	crc = CRC64(crc, raw)
	crc = CRC64(crc, f[:2])
	binary.LittleEndian.PutUint64(f[2:], crc)
	return f
}

// AppendDumpPayload appends the DUMP payload of a value of type t, framed
// with the given RDB version, to dst.
func AppendDumpPayload(dst []byte, t Type, raw []byte, version int) []byte {
	f := DumpFooter(t, raw, version)
	dst = append(dst, t.Byte())
	dst = append(dst, raw...)
	return append(dst, f[:]...)
}

// ParseDumpPayload verifies a DUMP payload's checksum and splits it into the
// value's type, its raw bytes (aliasing p) and the payload's RDB version.
// A checksum of zero (servers with checksums disabled) is accepted. Errors
// wrap ErrChecksum for a bad checksum.
func ParseDumpPayload(p []byte) (t Type, raw []byte, version int, err error) {
	if len(p) < 1+DumpFooterLen {
		return 0, nil, 0, &FormatError{Offset: 0, Err: fmt.Errorf("DUMP payload of %d bytes is shorter than its %d-byte minimum", len(p), 1+DumpFooterLen)}
	}
	body := len(p) - 8
	want := binary.LittleEndian.Uint64(p[body:])
	if got := CRC64(0, p[:body]); want != 0 && got != want {
		return 0, nil, 0, &FormatError{Offset: int64(body), Err: fmt.Errorf("%w: DUMP payload says %016x, contents give %016x", ErrChecksum, want, got)}
	}
	version = int(binary.LittleEndian.Uint16(p[body-2:]))
	return typeFromByte(p[0], version), p[1 : body-2], version, nil
}
