package rdb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
)

const (
	defaultBufferSize = 256 << 10 // the buffer grows to this size as input streams in
	minReadSize       = 4 << 10
)

// Reader reads the records of an RDB snapshot from an io.Reader, one at a
// time, without decoding values.
//
// Next returns each record in file order. A *Key carries its value's
// serialized bytes (Raw) exactly as in the file; Key.Value decodes them on
// demand. Memory use is bounded by the largest single record plus a buffer.
//
// Errors are sticky: after Next returns an error, it returns the same error
// on every later call. io.EOF is returned only after the end-of-file marker
// and, for RDB 5 and later, a matching CRC-64 (a stored checksum of zero
// means the writer did not compute one and is accepted).
type Reader struct {
	src io.Reader

	buf  []byte
	r, w int   // unread bytes are buf[r:w]
	base int64 // input offset of buf[0]
	keep int   // buf[keep:] must be kept (start of the current record)
	eof  bool  // src returned io.EOF

	crc    uint64
	crcPos int // buf[:crcPos] has been added to crc

	err error

	header  bool
	version int
	flavor  Flavor
	db      int

	strBuf      []byte        // scratch for decoded strings
	arena       []byte        // formatted integers of the value being decoded
	arenaHint   int           // size of the next arena chunk
	streamItems []packedEntry // scratch: the entries of one stream node
	reuse       *decodeMemory // a Decoder's memory, when decoding with one

	*records // nil when decoding a single value

	pendingMVCC uint64
	stats       ReaderStats
}

// records holds what Next returns, reused from call to call.
type records struct {
	key       Key
	keyBuf    []byte // decoded key when it is not stored plainly
	memberBuf []byte
	aux       Aux
	selectDB  SelectDB
	resizeDB  ResizeDB
	slotInfo  SlotInfo
	function  Function
	moduleAux ModuleAux
}

// ReaderStats counts what a Reader met besides records.
type ReaderStats struct {
	// DanglingMemberExpires counts KeyDB member-expire aux fields that did
	// not follow a key or came without their pair. KeyDB skips them too.
	DanglingMemberExpires int
}

// NewReader returns a Reader reading an RDB snapshot from src. The Reader
// does its own buffering: src needs no bufio.Reader.
func NewReader(src io.Reader) *Reader {
	return &Reader{src: src, buf: make([]byte, 0, minReadSize), keep: -1, records: &records{}}
}

// Version returns the file's RDB version (after the header has been read,
// i.e. after the first call to Next), or 0.
func (r *Reader) Version() int { return r.version }

// Flavor returns the server family that wrote the file as far as the records
// read so far tell: Valkey by its magic or "valkey-ver" aux field, KeyDB by
// its own aux fields.
func (r *Reader) Flavor() Flavor { return r.flavor }

// Offset returns the number of input bytes consumed so far.
func (r *Reader) Offset() int64 { return r.base + int64(r.r) }

// Stats returns what the Reader counted so far.
func (r *Reader) Stats() ReaderStats { return r.stats }

// --- buffer management ---

// offset returns the input offset of buf[i].
func (r *Reader) offset(i int) int64 { return r.base + int64(i) }

// fill makes at least n unread bytes available in buf[r:], reading from src
// as needed. It grows the buffer only as far as the input backs it, so a
// forged length cannot cause a large allocation.
func (r *Reader) fill(n int) error {
	if r.w-r.r >= n {
		return nil
	}
	if n < 0 || n > math.MaxInt-minReadSize {
		return corruptf("length %d out of range", n)
	}
	empty := 0
	for r.w-r.r < n {
		if r.eof {
			return io.ErrUnexpectedEOF
		}
		if r.w == cap(r.buf) {
			r.makeRoom(n)
		}
		m, err := r.src.Read(r.buf[r.w:cap(r.buf)])
		if m < 0 || m > cap(r.buf)-r.w {
			return errors.New("rdb: source returned an invalid count")
		}
		r.w += m
		r.buf = r.buf[:r.w]
		switch {
		case err == io.EOF:
			r.eof = true
		case err != nil:
			return err
		case m == 0:
			// Tolerate (0, nil) as io.Reader allows, but not forever.
			if empty++; empty >= 100 {
				return io.ErrNoProgress
			}
		default:
			empty = 0
		}
	}
	return nil
}

// makeRoom discards consumed bytes before the current record and, when the
// buffer is still full, grows it (doubling, so growth follows real input).
func (r *Reader) makeRoom(n int) {
	start := r.r
	if r.keep >= 0 && r.keep < start {
		start = r.keep
	}
	r.updateCRC(start)
	live := r.w - start
	want := r.r - start + n
	size := cap(r.buf)
	if want > size-minReadSize || live > size/2 || size < defaultBufferSize {
		size *= 2
		if size < minReadSize {
			size = minReadSize
		}
	} else if size > 4*defaultBufferSize && want < defaultBufferSize && live < defaultBufferSize/2 {
		size = defaultBufferSize // shrink after a large record
	}
	nb := r.buf[:0]
	if size != cap(r.buf) {
		nb = make([]byte, 0, size)
	}
	nb = nb[:live]
	copy(nb, r.buf[start:r.w])
	r.buf = nb
	r.base += int64(start)
	r.r -= start
	r.w -= start
	r.crcPos -= start
	if r.keep >= 0 {
		r.keep -= start
	}
}

// updateCRC adds buf[crcPos:end] to the running checksum.
func (r *Reader) updateCRC(end int) {
	if end > r.crcPos {
		r.crc = CRC64(r.crc, r.buf[r.crcPos:end])
		r.crcPos = end
	}
}

func (r *Reader) readByte() (byte, error) {
	if r.r >= r.w {
		if err := r.fill(1); err != nil {
			return 0, err
		}
	}
	b := r.buf[r.r]
	r.r++
	return b, nil
}

// readN consumes n bytes and returns them; they stay valid while the current
// record is kept.
func (r *Reader) readN(n int) ([]byte, error) {
	if err := r.fill(n); err != nil {
		return nil, err
	}
	b := r.buf[r.r : r.r+n]
	r.r += n
	return b, nil
}

// maxLen bounds any single length read from the input before the input
// itself is consulted; fill then refuses lengths the input cannot back.
const maxLen = 1 << 40

// skip consumes n bytes.
func (r *Reader) skip(n uint64) error {
	if n > maxLen {
		return corruptf("length %d larger than any input", n)
	}
	if err := r.fill(int(n)); err != nil {
		return err
	}
	r.r += int(n)
	return nil
}

func (r *Reader) readUint64LE() (uint64, error) {
	b, err := r.readN(8)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b), nil
}

// --- RDB primitives ---

// Special string encodings (the low 6 bits of an 11xxxxxx length byte).
const (
	encInt8  = 0
	encInt16 = 1
	encInt32 = 2
	encLZF   = 3
)

// readLen reads a length. When the length byte announces a special string
// encoding, it returns that encoding in enc with special set.
func (r *Reader) readLen() (n uint64, special bool, err error) {
	if r.w-r.r < 9 {
		if err := r.fill(1); err != nil {
			return 0, false, err
		}
	}
	b := r.buf[r.r]
	switch b >> 6 {
	case 0:
		r.r++
		return uint64(b & 0x3f), false, nil
	case 1:
		if err := r.fill(2); err != nil {
			return 0, false, err
		}
		n = uint64(b&0x3f)<<8 | uint64(r.buf[r.r+1])
		r.r += 2
		return n, false, nil
	case 3:
		r.r++
		return uint64(b & 0x3f), true, nil
	}
	switch b {
	case 0x80:
		if err := r.fill(5); err != nil {
			return 0, false, err
		}
		n = uint64(binary.BigEndian.Uint32(r.buf[r.r+1:]))
		r.r += 5
		return n, false, nil
	case 0x81:
		if err := r.fill(9); err != nil {
			return 0, false, err
		}
		n = binary.BigEndian.Uint64(r.buf[r.r+1:])
		r.r += 9
		return n, false, nil
	}
	return 0, false, corruptf("invalid length byte 0x%02x at offset %d", b, r.offset(r.r))
}

// readLength reads a plain length (no special encoding allowed).
func (r *Reader) readLength() (uint64, error) {
	n, special, err := r.readLen()
	if err == nil && special {
		err = corruptf("string encoding where a length was expected at offset %d", r.offset(r.r-1))
	}
	return n, err
}

// readCount reads a length used as an element count and bounds it to what
// int can hold.
func (r *Reader) readCount() (int, error) {
	n, err := r.readLength()
	if err != nil {
		return 0, err
	}
	if n > math.MaxInt32*1024 {
		return 0, corruptf("count %d at offset %d larger than any input", n, r.offset(r.r))
	}
	return int(n), nil
}

// skipString walks over one RDB string without decoding it.
func (r *Reader) skipString() error {
	n, special, err := r.readLen()
	if err != nil {
		return err
	}
	if special {
		switch n {
		case encInt8:
			n = 1
		case encInt16:
			n = 2
		case encInt32:
			n = 4
		case encLZF:
			clen, err := r.readLength()
			if err != nil {
				return err
			}
			if _, err := r.readLength(); err != nil {
				return err
			}
			n = clen
		default:
			return corruptf("unknown string encoding %d at offset %d", n, r.offset(r.r-1))
		}
	}
	return r.skip(n)
}

// readString reads one RDB string. Plain strings alias the buffer; encoded
// ones are decoded into scratch (reusing its capacity) and the updated
// scratch is returned too.
func (r *Reader) readString(scratch []byte) (s, newScratch []byte, err error) {
	start := r.Offset()
	n, special, err := r.readLen()
	if err != nil {
		return nil, scratch, err
	}
	if !special {
		if err := r.skip(n); err != nil {
			return nil, scratch, err
		}
		return r.buf[r.r-int(n) : r.r], scratch, nil
	}
	switch n {
	case encInt8, encInt16, encInt32:
		b, err := r.readN(1 << n)
		if err != nil {
			return nil, scratch, err
		}
		scratch = strconv.AppendInt(scratch[:0], intEncoded(b), 10)
		return scratch, scratch, nil
	case encLZF:
		clen, err := r.readLength()
		if err != nil {
			return nil, scratch, err
		}
		ulen, err := r.readLength()
		if err != nil {
			return nil, scratch, err
		}
		if err := r.skip(clen); err != nil {
			return nil, scratch, err
		}
		comp := r.buf[r.r-int(clen) : r.r]
		if ulen > maxLZFExpansion*clen+maxLZFExpansion {
			return nil, scratch, corruptf("LZF string at offset %d: length %d cannot come from %d compressed bytes", start, ulen, clen)
		}
		scratch, err = lzfDecompress(scratch, comp, int(ulen))
		if err != nil {
			return nil, scratch, fmt.Errorf("LZF string at offset %d: %w", start, err)
		}
		return scratch, scratch, nil
	}
	return nil, scratch, corruptf("unknown string encoding %d at offset %d", n, start)
}

// intEncoded returns the integer of an int8/16/32 string encoding (1, 2 or
// 4 little-endian bytes).
func intEncoded(b []byte) int64 {
	switch len(b) {
	case 1:
		return int64(int8(b[0]))
	case 2:
		return int64(int16(binary.LittleEndian.Uint16(b)))
	}
	return int64(int32(binary.LittleEndian.Uint32(b)))
}

// maxLZFExpansion bounds how many output bytes one compressed byte can
// yield: a 3-byte back reference produces at most 264 bytes.
const maxLZFExpansion = 88
