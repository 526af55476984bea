package rdb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"unsafe"
)

// Value is a decoded value: String, List, Set, ZSet, Hash, *Stream, *Module
// or *Cron. Byte slices in a value may share memory with the Raw bytes it was
// decoded from.
type Value interface {
	// Kind returns the value's data type.
	Kind() Kind
}

// String is a string value.
type String []byte

// List is a list value, head first.
type List [][]byte

// Set is a set value, in the order the file stores its members.
type Set [][]byte

// ZSet is a sorted set, in the order the file stores its members (score
// order for every encoding Redis writes, but not guaranteed for hashtable-
// based ones).
type ZSet []ZMember

// ZMember is one member of a sorted set.
type ZMember struct {
	Member []byte
	Score  float64
}

// Hash is a hash value, in the order the file stores its fields.
type Hash []HashField

// HashField is one field of a hash. ExpireAt is the field's expiration in
// unix milliseconds (hash field TTLs of Redis 7.4+ and Valkey 9), or 0.
type HashField struct {
	Field    []byte
	Value    []byte
	ExpireAt int64
}

// Module is a module value, kept opaque: its module id and the serialized
// body that follows the id.
type Module struct {
	ID  uint64
	Raw []byte
}

// Name returns the module's 9-character type name and encoding version.
func (m *Module) Name() (string, int) { return ModuleName(m.ID) }

// Cron is a KeyDB KEYDB.CRON job.
type Cron struct {
	Script     []byte
	StartMs    int64 // first run, unix ms
	IntervalMs int64
	Keys       [][]byte
	Args       [][]byte
}

// Kind implements Value.
func (String) Kind() Kind { return KindString }

// Kind implements Value.
func (List) Kind() Kind { return KindList }

// Kind implements Value.
func (Set) Kind() Kind { return KindSet }

// Kind implements Value.
func (ZSet) Kind() Kind { return KindZSet }

// Kind implements Value.
func (Hash) Kind() Kind { return KindHash }

// Kind implements Value.
func (*Module) Kind() Kind { return KindModule }

// Kind implements Value.
func (*Cron) Kind() Kind { return KindCron }

// Value decodes the key's value. The result shares memory with k.Raw, so it
// is valid as long as k.Raw is (until the next Next, unless k was cloned).
// Every call returns new memory; a Decoder reuses it from key to key.
func (k *Key) Value() (Value, error) {
	var d Reader
	return d.decodeKey(k)
}

// A Decoder decodes values into memory that it reuses from one value to the
// next: the slices of lists, sets, sorted sets and hashes and the text of
// integer-encoded elements. A program that looks at each value once and
// moves on (a filter, a converter, a dump) decodes with no garbage to
// collect after the first few keys; Key.Value allocates that memory anew for
// every key. The zero Decoder is ready to use. A Decoder is not safe for
// concurrent use.
//
// A Decoder keeps the memory of the largest value it decoded, up to a few
// MiB per kind of slice; larger values get memory of their own.
type Decoder struct {
	r   Reader
	mem decodeMemory
}

// decodeMemory is what a Decoder hands from one value to the next.
type decodeMemory struct {
	strs  [][]byte
	zset  []ZMember
	hash  []HashField
	arena []byte
}

// maxKeptDecodeMemory bounds the bytes a Decoder keeps per slice.
const maxKeptDecodeMemory = 4 << 20

// Decode decodes k's value as k.Value does, into d's memory. The result
// shares memory with k.Raw and with d: it is valid until the next call of
// Decode or DecodeValue on d, and no longer than k.Raw is.
func (d *Decoder) Decode(k *Key) (Value, error) {
	d.r = Reader{reuse: &d.mem, streamItems: d.r.streamItems}
	v, err := d.r.decodeKey(k)
	d.keep(v)
	return v, err
}

// DecodeValue decodes a serialized value as the package function
// DecodeValue does, into d's memory. The result shares memory with raw and
// with d: it is valid until the next call of Decode or DecodeValue on d.
func (d *Decoder) DecodeValue(t Type, raw []byte, version int) (Value, error) {
	d.r = Reader{reuse: &d.mem, streamItems: d.r.streamItems}
	v, err := d.r.decodeBytes(t, raw, version)
	d.keep(v)
	return v, err
}

// keep takes back the memory of the value just decoded for the next one.
func (d *Decoder) keep(v Value) {
	m := &d.mem
	switch v := v.(type) {
	case List:
		m.keepStrings(v)
	case Set:
		m.keepStrings(v)
	case ZSet:
		if cap(v) > cap(m.zset) && cap(v)*int(unsafe.Sizeof(ZMember{})) <= maxKeptDecodeMemory {
			m.zset = v[:0]
		}
	case Hash:
		if cap(v) > cap(m.hash) && cap(v)*int(unsafe.Sizeof(HashField{})) <= maxKeptDecodeMemory {
			m.hash = v[:0]
		}
	}
	if a := d.r.arena; cap(a) > cap(m.arena) && cap(a) <= maxKeptDecodeMemory {
		m.arena = a[:0]
	}
	// Let go of the input (for a key, the Reader's buffer) and of a large
	// stream's scratch.
	d.r.buf, d.r.arena = nil, nil
	if cap(d.r.streamItems)*int(unsafe.Sizeof(packedEntry{})) > maxKeptDecodeMemory {
		d.r.streamItems = nil
	}
}

func (m *decodeMemory) keepStrings(v [][]byte) {
	if cap(v) > cap(m.strs) && cap(v)*int(unsafe.Sizeof([]byte(nil))) <= maxKeptDecodeMemory {
		m.strs = v[:0]
	}
}

// The allocation of a decoded value's slices: from the Decoder's memory
// when there is one and it is large enough (each slice is handed out once
// per value), else new.

func (r *Reader) newStrings(n int) [][]byte {
	if m := r.reuse; m != nil && m.strs != nil && cap(m.strs) >= n {
		s := m.strs
		m.strs = nil
		return s[:0]
	}
	return make([][]byte, 0, n)
}

func (r *Reader) newZSet(n int) ZSet {
	if m := r.reuse; m != nil && m.zset != nil && cap(m.zset) >= n {
		z := m.zset
		m.zset = nil
		return z[:0]
	}
	return make(ZSet, 0, n)
}

func (r *Reader) newHash(n int) Hash {
	if m := r.reuse; m != nil && m.hash != nil && cap(m.hash) >= n {
		h := m.hash
		m.hash = nil
		return h[:0]
	}
	return make(Hash, 0, n)
}

// newArena starts a chunk of the integer arena with room for size bytes.
func (r *Reader) newArena(size int) {
	if m := r.reuse; m != nil && m.arena != nil && cap(m.arena) >= size {
		r.arena = m.arena[:0]
		m.arena = nil
		return
	}
	r.arena = make([]byte, 0, size)
}

// decodeKey decodes k's value with r, a Reader of no input, and places
// errors in the input k came from.
func (r *Reader) decodeKey(k *Key) (Value, error) {
	v, err := r.decodeBytes(k.Type, k.Raw, k.Version)
	if err != nil {
		var fe *FormatError
		if errors.As(err, &fe) {
			fe.Offset += k.valueOffset()
			fe.Key = append([]byte(nil), k.Key...)
			return nil, fe
		}
		return nil, &FormatError{Offset: k.Offset(), Key: append([]byte(nil), k.Key...), Err: err}
	}
	return v, nil
}

// valueOffset returns the input offset of Raw's first byte, as far as it is
// known (the record's offset, when Raw has been detached from the input).
func (k *Key) valueOffset() int64 { return k.rawOffset }

// DecodeValue decodes a serialized value of type t, as found in an RDB file
// of the given version or in a DUMP payload. Errors are *FormatError with
// offsets relative to the start of raw.
func DecodeValue(t Type, raw []byte, version int) (Value, error) {
	var d Reader
	return d.decodeBytes(t, raw, version)
}

// decodeBytes decodes raw with r, a Reader of no input (zero but for the
// memory a Decoder lends it).
func (r *Reader) decodeBytes(t Type, raw []byte, version int) (Value, error) {
	r.buf, r.w, r.eof, r.version, r.header = raw, len(raw), true, version, true
	v, err := r.decodeValue(t)
	if err == nil && r.r != len(raw) {
		err = corruptf("%d trailing bytes after the value", len(raw)-r.r)
	}
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			err = fmt.Errorf("value truncated at byte %d of %d: %w", r.r, len(raw), err)
		}
		return nil, &FormatError{Offset: int64(r.r), Err: fmt.Errorf("%v value: %w", t, err)}
	}
	return v, nil
}

// newBytesReader returns a Reader whose input is exactly b: the primitives
// (lengths, strings, LZF) are shared between streaming and decoding.
func newBytesReader(b []byte, version int) *Reader {
	return &Reader{buf: b, w: len(b), eof: true, version: version, header: true}
}

// remaining bounds preallocation by what the input can back.
func (r *Reader) remaining() int { return r.w - r.r }

func capHint(n, limit int) int {
	if n > limit {
		return limit
	}
	return n
}

// str reads one string for a decoded value; encoded strings get their own
// memory, plain ones alias the input.
func (r *Reader) str() ([]byte, error) {
	if r.r < r.w {
		if b := r.buf[r.r]; b >= 0xC0|encInt8 && b <= 0xC0|encInt32 {
			// An integer-encoded string: format it into the arena.
			w := 1 << (b & 0x3f)
			if err := r.fill(1 + w); err != nil {
				return nil, err
			}
			p := r.buf[r.r+1 : r.r+1+w]
			r.r += 1 + w
			return r.formatInt(intEncoded(p)), nil
		}
	}
	s, _, err := r.readString(nil)
	return s, err
}

func (r *Reader) strs(n int) ([][]byte, error) {
	out := r.newStrings(capHint(n, r.remaining()))
	for i := 0; i < n; i++ {
		s, err := r.str()
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

func (r *Reader) decodeValue(t Type) (Value, error) {
	switch t {
	case TypeString:
		s, err := r.str()
		return String(s), err
	case TypeList, TypeSet:
		n, err := r.readCount()
		if err != nil {
			return nil, err
		}
		items, err := r.strs(n)
		if t == TypeList {
			return List(items), err
		}
		return Set(items), err
	case TypeZSet, TypeZSet2:
		return r.decodeZSet(t)
	case TypeHash:
		n, err := r.readCount()
		if err != nil {
			return nil, err
		}
		h := r.newHash(capHint(n, r.remaining()/2))
		for i := 0; i < n; i++ {
			f, err := r.str()
			if err != nil {
				return nil, err
			}
			v, err := r.str()
			if err != nil {
				return nil, err
			}
			h = append(h, HashField{Field: f, Value: v})
		}
		return h, nil
	case TypeListZiplist, TypeListQuicklist, TypeListQuicklist2:
		return r.decodeList(t)
	case TypeSetIntset, TypeSetListpack:
		return r.decodePackedSet(t)
	case TypeZSetZiplist, TypeZSetListpack:
		blob, err := r.str()
		if err != nil {
			return nil, err
		}
		return r.zsetFromPacked(blob, t)
	case TypeHashZipmap, TypeHashZiplist, TypeHashListpack, TypeHashListpackEx, TypeHashListpackExPreGA:
		return r.decodePackedHash(t)
	case TypeHashMetadata, TypeHashMetadataPreGA, TypeValkeyHash2:
		return r.decodeHashWithTTLs(t)
	case TypeStreamListpacks, TypeStreamListpacks2, TypeStreamListpacks3, TypeStreamListpacks4:
		return r.decodeStream(t)
	case TypeModule2:
		id, err := r.readLength()
		if err != nil {
			return nil, err
		}
		start := r.r
		if err := r.skipModuleBody(); err != nil {
			return nil, err
		}
		return &Module{ID: id, Raw: r.buf[start:r.r]}, nil
	case TypeKeyDBCron:
		return r.decodeCron()
	}
	if err := r.skipValue(t); err != nil {
		return nil, err
	}
	return nil, unsupportedf("decoding %v values", t)
}

// --- lists ---

func (r *Reader) decodeList(t Type) (Value, error) {
	var l List
	add := func(_ int, e packedEntry) error {
		l = append(l, r.entryBytes(e))
		return nil
	}
	if t == TypeListZiplist {
		blob, err := r.str()
		if err != nil {
			return nil, err
		}
		l = r.newStrings(r.packedLenHint(blob, t))
		if _, err := ziplistEach(blob, add); err != nil {
			return nil, err
		}
		return l, nil
	}
	nodes, err := r.readCount()
	if err != nil {
		return nil, err
	}
	for i := 0; i < nodes; i++ {
		container := uint64(quicklistNodePacked)
		if t == TypeListQuicklist2 {
			if container, err = r.readLength(); err != nil {
				return nil, err
			}
		}
		blob, err := r.str()
		if err != nil {
			return nil, err
		}
		if h := r.packedLenHint(blob, t); container != quicklistNodePlain && cap(l)-len(l) < h {
			// Room for the rest of the nodes if they are like this one, as
			// far as the input left can back them (nodes is read from it).
			want := h + r.remaining()
			if rest := nodes - i; rest <= want/h {
				want = h * rest
			}
			l = append(r.newStrings(len(l)+want), l...)
		}
		switch {
		case t == TypeListQuicklist:
			_, err = ziplistEach(blob, add)
		case container == quicklistNodePlain:
			l = append(l, blob)
		case container == quicklistNodePacked:
			_, err = listpackEach(blob, add)
		default:
			err = corruptf("quicklist node %d: unknown container type %d", i, container)
		}
		if err != nil {
			return nil, fmt.Errorf("quicklist node %d: %w", i, err)
		}
	}
	return l, nil
}

// entryBytes returns a ziplist or listpack entry as a string: strings alias
// the blob, integers are formatted into the value's arena.
func (r *Reader) entryBytes(e packedEntry) []byte {
	if e.IsInt {
		return r.formatInt(e.Int)
	}
	return e.Str
}

// formatInt formats v into the arena shared by the strings of the value
// being decoded: one allocation per chunk instead of one per integer.
// Chunks are never reallocated, so earlier strings stay valid.
func (r *Reader) formatInt(v int64) []byte {
	if cap(r.arena)-len(r.arena) < 20 {
		size := 2 * cap(r.arena)
		if size < 64 {
			size = 64
		}
		if r.arenaHint > 0 && size > r.arenaHint {
			size = r.arenaHint // the blob's integers need no more
		}
		if size > 64<<10 {
			size = 64 << 10
		}
		if size < 20 {
			size = 20
		}
		r.newArena(size)
	}
	start := len(r.arena)
	r.arena = strconv.AppendInt(r.arena, v, 10)
	return r.arena[start:len(r.arena):len(r.arena)]
}

// packedLenHint returns the entry count a ziplist, listpack or intset
// header announces, bounded by what the blob can hold, for preallocation.
// It also sizes the arena for the blob's integers: their decimal form takes
// at most three times their encoded size.
func (r *Reader) packedLenHint(blob []byte, t Type) int {
	r.arenaHint = 3*len(blob) + 20
	n := 0
	switch t {
	case TypeListZiplist, TypeListQuicklist, TypeZSetZiplist, TypeHashZiplist:
		if len(blob) >= 10 {
			n = int(binary.LittleEndian.Uint16(blob[8:]))
		}
	case TypeSetIntset:
		if len(blob) >= 8 {
			n = int(binary.LittleEndian.Uint32(blob[4:]))
		}
	default: // listpacks
		if len(blob) >= 6 {
			n = int(binary.LittleEndian.Uint16(blob[4:]))
		}
	}
	if n > len(blob)/2 {
		n = len(blob) / 2
	}
	return n
}

// --- sets ---

func (r *Reader) decodePackedSet(t Type) (Value, error) {
	blob, err := r.str()
	if err != nil {
		return nil, err
	}
	s := Set(r.newStrings(r.packedLenHint(blob, t)))
	if t == TypeSetIntset {
		// Every member is an integer: one chunk for all of them.
		r.newArena(capHint(r.arenaHint, 64<<10))
		_, err = intsetEach(blob, func(_ int, v int64) error {
			s = append(s, r.formatInt(v))
			return nil
		})
		if errors.Is(err, errPackedEmpty) {
			err = nil // an empty container: servers skip such keys on load
		}
	} else {
		_, err = listpackEach(blob, func(_ int, e packedEntry) error {
			s = append(s, r.entryBytes(e))
			return nil
		})
	}
	return s, err
}

// --- sorted sets ---

func (r *Reader) decodeZSet(t Type) (Value, error) {
	n, err := r.readCount()
	if err != nil {
		return nil, err
	}
	z := r.newZSet(capHint(n, r.remaining()/2))
	for i := 0; i < n; i++ {
		m, err := r.str()
		if err != nil {
			return nil, err
		}
		var score float64
		if t == TypeZSet2 {
			b, err := r.readN(8)
			if err != nil {
				return nil, err
			}
			score = math.Float64frombits(binary.LittleEndian.Uint64(b))
		} else if score, err = r.readTextScore(); err != nil {
			return nil, fmt.Errorf("member %d: %w", i, err)
		}
		z = append(z, ZMember{Member: m, Score: score})
	}
	return z, nil
}

// readTextScore reads a score of the original ZSET type.
func (r *Reader) readTextScore() (float64, error) {
	b, err := r.readByte()
	if err != nil {
		return 0, err
	}
	switch b {
	case 253:
		return math.NaN(), nil
	case 254:
		return math.Inf(1), nil
	case 255:
		return math.Inf(-1), nil
	}
	txt, err := r.readN(int(b))
	if err != nil {
		return 0, err
	}
	return parseScore(txt)
}

// parseScore parses a score stored as text (as strtod would).
func parseScore(b []byte) (float64, error) {
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && ne.Err == strconv.ErrRange {
			return f, nil // ±Inf or 0, as strtod gives
		}
		return 0, corruptf("bad score %q", b)
	}
	return f, nil
}

func (r *Reader) zsetFromPacked(blob []byte, t Type) (ZSet, error) {
	z := r.newZSet(r.packedLenHint(blob, t) / 2)
	add := func(i int, e packedEntry) error {
		if i%2 == 0 {
			z = append(z, ZMember{Member: r.entryBytes(e)})
			return nil
		}
		score := float64(e.Int)
		if !e.IsInt {
			var err error
			if score, err = parseScore(e.Str); err != nil {
				return fmt.Errorf("entry %d: %w", i, err)
			}
		}
		z[len(z)-1].Score = score
		return nil
	}
	// Direct calls, not through a func variable: add then stays on the
	// stack (no allocation per value).
	var n int
	var err error
	if t == TypeZSetListpack {
		n, err = listpackEach(blob, add)
	} else {
		n, err = ziplistEach(blob, add)
	}
	if err == nil && n%2 != 0 {
		err = corruptf("sorted set with an odd number of entries (%d)", n)
	}
	return z, err
}

// --- hashes ---

func (r *Reader) decodePackedHash(t Type) (Value, error) {
	var minExpire uint64
	if t == TypeHashListpackEx {
		var err error
		if minExpire, err = r.readUint64LE(); err != nil {
			return nil, err
		}
	}
	_ = minExpire // a hint only; every field carries its own expiry
	blob, err := r.str()
	if err != nil {
		return nil, err
	}
	h := r.newHash(r.packedLenHint(blob, t) / 2)
	switch t {
	case TypeHashZipmap:
		_, err = zipmapEach(blob, func(f, v []byte) error {
			h = append(h, HashField{Field: f, Value: v})
			return nil
		})
		if errors.Is(err, errPackedEmpty) {
			err = nil // an empty container: servers skip such keys on load
		}
		return h, err
	case TypeHashZiplist, TypeHashListpack:
		add := func(i int, e packedEntry) error {
			if i%2 == 0 {
				h = append(h, HashField{Field: r.entryBytes(e)})
			} else {
				h[len(h)-1].Value = r.entryBytes(e)
			}
			return nil
		}
		var n int
		if t == TypeHashZiplist {
			n, err = ziplistEach(blob, add)
		} else {
			n, err = listpackEach(blob, add)
		}
		if err == nil && n%2 != 0 {
			err = corruptf("hash with an odd number of entries (%d)", n)
		}
		return h, err
	}
	// Listpack of (field, value, expire-ms) triples; 0 means no TTL.
	var n int
	n, err = listpackEach(blob, func(i int, e packedEntry) error {
		switch i % 3 {
		case 0:
			h = append(h, HashField{Field: r.entryBytes(e)})
		case 1:
			h[len(h)-1].Value = r.entryBytes(e)
		case 2:
			if !e.IsInt || e.Int < 0 {
				return corruptf("entry %d: bad field expiration %q", i, e.AppendTo(nil))
			}
			h[len(h)-1].ExpireAt = e.Int
		}
		return nil
	})
	if err == nil && n%3 != 0 {
		err = corruptf("hash with field TTLs: %d entries, not a multiple of 3", n)
	}
	return h, err
}

func (r *Reader) decodeHashWithTTLs(t Type) (Value, error) {
	var minExpire uint64
	if t == TypeHashMetadata {
		var err error
		if minExpire, err = r.readUint64LE(); err != nil {
			return nil, err
		}
	}
	n, err := r.readCount()
	if err != nil {
		return nil, err
	}
	h := r.newHash(capHint(n, r.remaining()/3))
	for i := 0; i < n; i++ {
		var f HashField
		var ttl uint64
		if t != TypeValkeyHash2 {
			if ttl, err = r.readLength(); err != nil {
				return nil, err
			}
		}
		if f.Field, err = r.str(); err != nil {
			return nil, err
		}
		if f.Value, err = r.str(); err != nil {
			return nil, err
		}
		switch t {
		case TypeValkeyHash2:
			v, err := r.readUint64LE()
			if err != nil {
				return nil, err
			}
			if e := int64(v); e != -1 {
				if e < 0 {
					return nil, corruptf("field %d: bad expiration %d", i, e)
				}
				f.ExpireAt = expireMs(e)
			}
		case TypeHashMetadata:
			if ttl != 0 {
				f.ExpireAt = int64(ttl + minExpire - 1)
			}
		default:
			f.ExpireAt = int64(ttl)
		}
		h = append(h, f)
	}
	return h, nil
}

// --- KeyDB cron ---

func (r *Reader) decodeCron() (Value, error) {
	c := &Cron{}
	var err error
	if c.Script, err = r.str(); err != nil {
		return nil, err
	}
	b, err := r.readN(16)
	if err != nil {
		return nil, err
	}
	c.StartMs = int64(binary.LittleEndian.Uint64(b))
	c.IntervalMs = int64(binary.LittleEndian.Uint64(b[8:]))
	for _, dst := range []*[][]byte{&c.Keys, &c.Args} {
		n, err := r.readCount()
		if err != nil {
			return nil, err
		}
		if *dst, err = r.strs(n); err != nil {
			return nil, err
		}
	}
	return c, nil
}
