package rdb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"sync"
)

// ErrNotRepresentable is wrapped by Convert's error when the target cannot
// hold the value at all (a stream for a server older than 5.0, a KeyDB cron
// job for a server other than KeyDB), or when a policy says to fail.
var ErrNotRepresentable = errors.New("rdb: value not representable on the target")

// MemberExpirePolicy says what Convert does with KeyDB member expirations
// (Key.MemberExpires) for a target that is not KeyDB.
type MemberExpirePolicy uint8

// Member expiration policies.
const (
	// MemberExpiresAuto converts hash members' expirations to hash field
	// TTLs where the target has them (Redis 7.4+, Valkey 9+) and strips
	// the rest. It is the default.
	MemberExpiresAuto MemberExpirePolicy = iota
	// MemberExpiresStrip drops every member expiration, keeping the members.
	MemberExpiresStrip
	// MemberExpiresConvert converts hash members' expirations to field TTLs
	// and fails keys whose target has no field TTLs; set and sorted-set
	// member expirations, which no other server can hold, are stripped.
	MemberExpiresConvert
	// MemberExpiresFail fails every key that has member expirations.
	MemberExpiresFail
)

// ParseMemberExpirePolicy parses "auto", "strip", "convert" or "fail".
func ParseMemberExpirePolicy(s string) (MemberExpirePolicy, error) {
	for i, name := range memberExpirePolicyNames {
		if s == name {
			return MemberExpirePolicy(i), nil
		}
	}
	return 0, fmt.Errorf("rdb: unknown member expire policy %q (want auto, strip, convert or fail)", s)
}

var memberExpirePolicyNames = [...]string{"auto", "strip", "convert", "fail"}

func (p MemberExpirePolicy) String() string {
	if int(p) < len(memberExpirePolicyNames) {
		return memberExpirePolicyNames[p]
	}
	return "MemberExpirePolicy(" + fmt.Sprint(uint8(p)) + ")"
}

// ConvertOptions tune Convert.
type ConvertOptions struct {
	// MemberExpires is the policy for KeyDB member expirations.
	MemberExpires MemberExpirePolicy
	// FailOnFieldTTLs fails keys whose hash field TTLs the target cannot
	// hold, instead of dropping the TTLs (and counting them).
	FailOnFieldTTLs bool
	// NoCompression stores re-encoded strings without LZF.
	NoCompression bool
}

// Conversion is the result of Convert: the value as the target reads it and
// what had to be left behind.
type Conversion struct {
	// Type and Raw are the value to write. Raw is the key's own Raw when the
	// value needed no re-encoding (Reencoded false).
	Type      Type
	Raw       []byte
	Reencoded bool
	// MemberExpires holds the member expirations still to be written (for
	// KeyDB targets); nil otherwise.
	MemberExpires []MemberExpire
	// Meta is the key metadata to keep (Redis RDB 13 targets), or nil.
	Meta []byte

	// What was dropped or converted, and why.
	FieldTTLsDropped       int  // hash field TTLs the target cannot hold
	MemberExpiresStripped  int  // KeyDB member expirations dropped (including orphans)
	MemberExpiresConverted int  // KeyDB hash member expirations turned into field TTLs
	StreamMetaDropped      bool // stream data the target's encoding lacks (first/max-deleted id, entries-added/read, consumer active time, IDMP)
	MetaDropped            bool // RDB 13 key metadata the target cannot hold

	From Type   // the key's type before conversion
	For  Target // the target converted for
}

// Reason says why the value was passed through or re-encoded.
func (c Conversion) Reason() string {
	if !c.Reencoded {
		return c.For.String() + " reads " + c.From.String() + " as it is"
	}
	return c.From.String() + " re-encoded as " + c.Type.String() + " for " + c.For.String()
}

// Convert prepares a key's value for a target: the raw bytes pass through
// when the target reads their encoding; otherwise the value is decoded and
// re-encoded into the newest encoding the target reads, as that server
// would have written it. KeyDB member expirations are handled per
// opts.MemberExpires. buf, if not nil, is reused for the re-encoded bytes.
//
// Errors wrap ErrNotRepresentable when the target cannot hold the value.
func Convert(k *Key, t Target, opts ConvertOptions, buf []byte) (Conversion, error) {
	c := Conversion{Type: k.Type, Raw: k.Raw, From: k.Type, For: t}
	if k.Meta != nil {
		if t.Flavor == FlavorRedis && t.Version >= 13 {
			c.Meta = k.Meta
		} else {
			c.MetaDropped = true
		}
	}
	if k.Type == TypeKeyDBCron && t.Flavor != FlavorKeyDB {
		return c, notRepresentable(k, "KeyDB cron jobs exist only on KeyDB")
	}

	// KeyDB member expirations.
	hashTTLs := map[string]int64(nil)
	if len(k.MemberExpires) > 0 {
		switch {
		case t.Flavor == FlavorKeyDB:
			c.MemberExpires = k.MemberExpires
		case opts.MemberExpires == MemberExpiresFail:
			return c, notRepresentable(k, fmt.Sprintf("%d KeyDB member expirations (policy fail)", len(k.MemberExpires)))
		case opts.MemberExpires == MemberExpiresStrip || k.Type.Kind() != KindHash:
			c.MemberExpiresStripped = len(k.MemberExpires)
		case !t.HasFieldTTLs():
			if opts.MemberExpires == MemberExpiresConvert {
				return c, notRepresentable(k, fmt.Sprintf("%d KeyDB member expirations and %v has no hash field TTLs (policy convert)", len(k.MemberExpires), t))
			}
			c.MemberExpiresStripped = len(k.MemberExpires)
		default:
			hashTTLs = make(map[string]int64, len(k.MemberExpires))
			for _, m := range k.MemberExpires {
				hashTTLs[string(m.Member)] = m.ExpireAt
			}
		}
	}

	if hashTTLs == nil && t.CanRead(k.Type) {
		return c, nil
	}

	// The decoded value lives only until it is re-encoded: decode it into
	// a pooled Decoder's memory.
	d := decoders.Get().(*Decoder)
	defer decoders.Put(d)
	v, err := d.Decode(k)
	if err != nil {
		return c, err
	}
	c.Reencoded = true
	e := encoder{buf: buf[:0], compress: !opts.NoCompression}
	// Ziplists of Redis before 2.6 (RDB 2–5) know only 16/32/64-bit integers.
	e.zl.legacyInts = t.Version < 6
	switch v := v.(type) {
	case Hash:
		if hashTTLs != nil {
			v = applyMemberExpires(v, hashTTLs, &c)
		}
		err = e.hash(k, v, t, opts, &c)
	case List:
		err = e.list(v, t, &c)
	case Set:
		err = e.set(v, t, &c)
	case ZSet:
		err = e.zset(v, t, &c)
	case *Stream:
		err = e.stream(k, v, t, &c)
	default:
		err = notRepresentable(k, fmt.Sprintf("%v values cannot be re-encoded for %v", k.Type, t))
	}
	if err != nil {
		return c, err
	}
	c.Raw = e.buf
	return c, nil
}

// decoders holds the Decoders Convert decodes with.
var decoders = sync.Pool{New: func() any { return new(Decoder) }}

func notRepresentable(k *Key, why string) error {
	return &FormatError{Offset: k.Offset(), Key: append([]byte(nil), k.Key...), Err: fmt.Errorf("%w: %s", ErrNotRepresentable, why)}
}

// applyMemberExpires gives hash fields the expirations KeyDB kept for them.
// Expirations of fields the hash does not hold (orphans, or binary members
// KeyDB cut at NUL) are counted as stripped.
func applyMemberExpires(h Hash, ttls map[string]int64, c *Conversion) Hash {
	out := make(Hash, len(h))
	copy(out, h)
	used := 0
	for i := range out {
		if ms, ok := ttls[string(out[i].Field)]; ok {
			out[i].ExpireAt = ms
			used++
		}
	}
	c.MemberExpiresConverted = used
	c.MemberExpiresStripped = len(ttls) - used
	return out
}

// encoder re-encodes decoded values.
type encoder struct {
	buf      []byte
	compress bool
	zl       ziplistBuilder
	lp       listpackBuilder
}

func (e *encoder) str(s []byte) { e.buf = appendString(e.buf, s, e.compress) }
func (e *encoder) len(n int)    { e.buf = appendLen(e.buf, uint64(n)) }

// Limits Redis uses when it chooses compact encodings (its defaults).
const (
	maxZiplistEntries   = 128 // zset-max-ziplist-entries; hash uses 512 since 7.0 but 128 before
	maxZiplistValue     = 64
	maxIntsetEntries    = 512
	maxListZiplistBytes = 8 << 10 // list-max-ziplist-size -2
)

func (e *encoder) list(l List, t Target, c *Conversion) error {
	switch {
	case t.Version >= 7:
		// Quicklist of ziplists of at most 8 KB each.
		c.Type = TypeListQuicklist
		var nodes [][]byte
		e.zl.Reset()
		for _, item := range l {
			if e.zl.Len() > 0 && len(e.zl.Bytes())+len(item)+11 > maxListZiplistBytes {
				nodes = append(nodes, append([]byte(nil), e.zl.Bytes()...))
				e.zl.Reset()
			}
			e.zl.AppendString(item)
		}
		if e.zl.Len() > 0 {
			nodes = append(nodes, e.zl.Bytes())
		}
		e.len(len(nodes))
		for _, n := range nodes {
			e.str(n)
		}
	case t.Version >= 2 && len(l) <= 512 && longest(l) <= maxZiplistValue:
		c.Type = TypeListZiplist
		e.zl.Reset()
		for _, item := range l {
			e.zl.AppendString(item)
		}
		e.str(e.zl.Bytes())
	default:
		c.Type = TypeList
		e.len(len(l))
		for _, item := range l {
			e.str(item)
		}
	}
	return nil
}

func longest(items [][]byte) int {
	m := 0
	for _, it := range items {
		if len(it) > m {
			m = len(it)
		}
	}
	return m
}

func (e *encoder) set(s Set, t Target, c *Conversion) error {
	if t.Version >= 2 && len(s) > 0 && len(s) <= maxIntsetEntries { // Redis refuses an empty intset
		ints := make([]int64, 0, len(s))
		for _, m := range s {
			v, ok := packedStringInt(m)
			if !ok {
				ints = nil
				break
			}
			ints = append(ints, v)
		}
		if ints != nil {
			c.Type = TypeSetIntset
			e.str(intsetEncode(nil, ints))
			return nil
		}
	}
	c.Type = TypeSet
	e.len(len(s))
	for _, m := range s {
		e.str(m)
	}
	return nil
}

func (e *encoder) zset(z ZSet, t Target, c *Conversion) error {
	switch {
	case t.Version >= 2 && len(z) <= maxZiplistEntries && zsetMaxMember(z) <= maxZiplistValue:
		c.Type = TypeZSetZiplist
		sorted := sortedZSet(z)
		e.zl.Reset()
		var num []byte
		for _, m := range sorted {
			e.zl.AppendString(m.Member)
			num = appendScoreText(num[:0], m.Score)
			e.zl.AppendString(num)
		}
		e.str(e.zl.Bytes())
	case t.Version >= 8:
		c.Type = TypeZSet2
		e.len(len(z))
		sorted := sortedZSet(z)
		for i := len(sorted) - 1; i >= 0; i-- { // Redis saves from the tail
			e.str(sorted[i].Member)
			e.buf = appendFloat64LE(e.buf, sorted[i].Score)
		}
	default:
		c.Type = TypeZSet
		e.len(len(z))
		sorted := sortedZSet(z)
		for i := len(sorted) - 1; i >= 0; i-- {
			e.str(sorted[i].Member)
			e.buf = appendTextScore(e.buf, sorted[i].Score)
		}
	}
	return nil
}

// hashMaxLen returns the length of the longest field or value.
func hashMaxLen(h Hash) int {
	m := 0
	for _, f := range h {
		m = max(m, len(f.Field), len(f.Value))
	}
	return m
}

func zsetMaxMember(z ZSet) int {
	m := 0
	for _, x := range z {
		if len(x.Member) > m {
			m = len(x.Member)
		}
	}
	return m
}

// sortedZSet returns z in rank order (score, then member).
func sortedZSet(z ZSet) ZSet {
	s := make(ZSet, len(z))
	copy(s, z)
	sort.SliceStable(s, func(i, j int) bool {
		if s[i].Score != s[j].Score {
			return s[i].Score < s[j].Score
		}
		return string(s[i].Member) < string(s[j].Member)
	})
	return s
}

func (e *encoder) hash(k *Key, h Hash, t Target, opts ConvertOptions, c *Conversion) error {
	ttls := 0
	for _, f := range h {
		if f.ExpireAt != 0 {
			ttls++
		}
	}
	compact := k.Type != TypeHash && k.Type != TypeHashMetadata && k.Type != TypeHashMetadataPreGA && k.Type != TypeValkeyHash2
	if ttls > 0 && !t.HasFieldTTLs() {
		if opts.FailOnFieldTTLs {
			return notRepresentable(k, fmt.Sprintf("%d hash field TTLs and %v has none", ttls, t))
		}
		c.FieldTTLsDropped = ttls
		ttls = 0
	}
	switch {
	case ttls > 0 && t.Flavor == FlavorValkey:
		c.Type = TypeValkeyHash2
		e.len(len(h))
		for _, f := range h {
			e.str(f.Field)
			e.str(f.Value)
			ms := int64(-1)
			if f.ExpireAt != 0 {
				ms = f.ExpireAt
			}
			e.buf = appendUint64LE(e.buf, uint64(ms))
		}
	case ttls > 0 && compact && len(h) <= 512:
		// Fields with a TTL first, by TTL; then the others with 0.
		c.Type = TypeHashListpackEx
		sorted := make(Hash, len(h))
		copy(sorted, h)
		sort.SliceStable(sorted, func(i, j int) bool {
			a, b := sorted[i].ExpireAt, sorted[j].ExpireAt
			return a != 0 && (b == 0 || a < b)
		})
		e.buf = appendUint64LE(e.buf, uint64(sorted[0].ExpireAt))
		e.lp.Reset()
		for _, f := range sorted {
			e.lp.AppendString(f.Field)
			e.lp.AppendString(f.Value)
			e.lp.AppendInt(f.ExpireAt)
		}
		e.str(e.lp.Bytes())
	case ttls > 0:
		c.Type = TypeHashMetadata
		minExpire := int64(0)
		for _, f := range h {
			if f.ExpireAt != 0 && (minExpire == 0 || f.ExpireAt < minExpire) {
				minExpire = f.ExpireAt
			}
		}
		e.buf = appendUint64LE(e.buf, uint64(minExpire))
		e.len(len(h))
		for _, f := range h {
			ttl := uint64(0)
			if f.ExpireAt != 0 {
				ttl = uint64(f.ExpireAt-minExpire) + 1
			}
			e.buf = appendLen(e.buf, ttl)
			e.str(f.Field)
			e.str(f.Value)
		}
	case compact && t.Version >= 10:
		c.Type = TypeHashListpack
		e.lp.Reset()
		for _, f := range h {
			e.lp.AppendString(f.Field)
			e.lp.AppendString(f.Value)
		}
		e.str(e.lp.Bytes())
	case compact && t.Version >= 2 && t.Version < 4 && len(h) <= 512 && hashMaxLen(h) <= maxZiplistValue:
		// Redis 2.4 keeps small hashes as zipmaps.
		c.Type = TypeHashZipmap
		e.str(zipmapEncode(nil, h))
	case compact && t.Version >= 4:
		c.Type = TypeHashZiplist
		e.zl.Reset()
		for _, f := range h {
			e.zl.AppendString(f.Field)
			e.zl.AppendString(f.Value)
		}
		e.str(e.zl.Bytes())
	default:
		c.Type = TypeHash
		e.len(len(h))
		for _, f := range h {
			e.str(f.Field)
			e.str(f.Value)
		}
	}
	return nil
}

func (e *encoder) stream(k *Key, s *Stream, t Target, c *Conversion) error {
	switch {
	case t.CanRead(TypeStreamListpacks3):
		c.Type = TypeStreamListpacks3
	case t.CanRead(TypeStreamListpacks2):
		c.Type = TypeStreamListpacks2
	case t.CanRead(TypeStreamListpacks):
		c.Type = TypeStreamListpacks
	default:
		return notRepresentable(k, fmt.Sprintf("streams need RDB 9 (Redis 5.0); %v has none", t))
	}
	c.StreamMetaDropped = true
	// The listpack nodes are the same in every stream type: copy them.
	d := newBytesReader(k.Raw, k.Version)
	if err := d.skipStrings(2); err != nil {
		return err
	}
	e.buf = append(e.buf, k.Raw[:d.r]...)
	id := func(x StreamID) {
		e.buf = appendLen(appendLen(e.buf, x.Ms), x.Seq)
	}
	e.buf = appendLen(e.buf, s.Length)
	id(s.LastID)
	if c.Type >= TypeStreamListpacks2 {
		id(s.FirstID)
		id(s.MaxDeletedID)
		e.buf = appendLen(e.buf, s.EntriesAdded)
	}
	rawID := func(x StreamID) {
		e.buf = binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(e.buf, x.Ms), x.Seq)
	}
	e.len(len(s.Groups))
	for _, g := range s.Groups {
		e.str(g.Name)
		id(g.LastID)
		if c.Type >= TypeStreamListpacks2 {
			e.buf = appendLen(e.buf, uint64(g.EntriesRead))
		}
		e.len(len(g.Pending))
		for _, p := range g.Pending {
			rawID(p.ID)
			e.buf = appendUint64LE(e.buf, uint64(p.DeliveryTime))
			e.buf = appendLen(e.buf, p.DeliveryCount)
		}
		e.len(len(g.Consumers))
		for _, cons := range g.Consumers {
			e.str(cons.Name)
			e.buf = appendUint64LE(e.buf, uint64(cons.SeenTime))
			if c.Type >= TypeStreamListpacks3 {
				e.buf = appendUint64LE(e.buf, uint64(cons.ActiveTime))
			}
			e.len(len(cons.Pending))
			for _, p := range cons.Pending {
				rawID(p)
			}
		}
	}
	return nil
}

func appendUint64LE(dst []byte, v uint64) []byte { return binary.LittleEndian.AppendUint64(dst, v) }

func appendFloat64LE(dst []byte, f float64) []byte { return appendUint64LE(dst, math.Float64bits(f)) }

// appendScoreText appends a score as Redis's d2string prints it for a
// ziplist sorted set: integers plainly, other values as %.17g.
func appendScoreText(dst []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, "nan"...)
	case math.IsInf(f, 1):
		return append(dst, "inf"...)
	case math.IsInf(f, -1):
		return append(dst, "-inf"...)
	case f == math.Trunc(f) && f > -(1<<52) && f < 1<<52:
		return strconv.AppendInt(dst, int64(f), 10)
	}
	return strconv.AppendFloat(dst, f, 'g', 17, 64)
}

// appendTextScore appends a score of the original ZSET type, as
// rdbSaveDoubleValue writes it: 253 nan, 254 +inf, 255 -inf, else a 1-byte
// length and the text.
func appendTextScore(dst []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, 253)
	case math.IsInf(f, 1):
		return append(dst, 254)
	case math.IsInf(f, -1):
		return append(dst, 255)
	}
	n := len(dst)
	dst = appendScoreText(append(dst, 0), f)
	dst[n] = byte(len(dst) - n - 1)
	return dst
}
