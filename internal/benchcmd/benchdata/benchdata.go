// Package benchdata generates and caches the RDB file that the parse
// benchmarks (rdb/bench_test.go and the parsebench command) measure.
//
// The file is written with github.com/hdt3213/rdb's encoder from a seeded
// math/rand source: a mixed dataset of every type (strings and integers,
// large strings, lists as ziplist and quicklist, sets as intset and
// hashtable, sorted sets as ziplist and skiplist, hashes as ziplist and
// hashtable, streams with consumer groups), about 30 % of keys with a TTL in
// the far future, spread over databases 0 and 1. The dataset is determined by
// size and seed; the byte layout is not quite (the encoder ranges over Go
// maps for hash fields and stream message fields), but the file size is.
//
// Files are cached in os.TempDir() as rdbferry-bench-<size>-s<seed>-g<gen>.rdb
// with a .json sidecar holding the size, the SHA-256 and the key counts. A
// cached file is reused only when its size and hash match the sidecar, and
// every file, new or reused, is verified by reading it to io.EOF (trailing
// CRC-64 included) with rdb.Reader and decoding every value.
package benchdata

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hdt3213/rdb/core"
	"github.com/hdt3213/rdb/model"

	"github.com/rdbferry/rdbferry/rdb"
)

// GenVersion names the generator's dataset recipe. Change it whenever the
// recipe changes, so that cached files of the old recipe are not reused.
const GenVersion = 2

// Kinds of generated keys, in the order of Info.Counts.
const (
	KStringSmall = iota // 10-100 byte string
	KStringInt          // integer-encoded string
	KStringLarge        // 10-100 KB string
	KListSmall          // ziplist
	KListLarge          // quicklist of ziplists
	KSetInt             // intset
	KSetIntLarge        // intset, thousands of members
	KSetSmall           // hashtable set of strings
	KSetLarge           // hashtable set, thousands of members
	KZSetSmall          // ziplist sorted set
	KZSetLarge          // skiplist sorted set (ZSET2, binary scores)
	KHashSmall          // ziplist hash
	KHashLarge          // hashtable hash
	KStream             // stream (type 21) with consumer groups
	numKinds
)

// KindNames names the kinds for reports.
var KindNames = [numKinds]string{
	"string 10-100B", "string int", "string 10-100KB",
	"list ziplist", "list quicklist",
	"set intset", "set intset large", "set small", "set large",
	"zset ziplist", "zset skiplist",
	"hash ziplist", "hash table",
	"stream+groups",
}

// weights of the kinds, out of their sum.
var weights = [numKinds]int{
	KStringSmall: 3800,
	KStringInt:   1000,
	KStringLarge: 15,
	KListSmall:   800,
	KListLarge:   15,
	KSetInt:      500,
	KSetIntLarge: 10,
	KSetSmall:    500,
	KSetLarge:    10,
	KZSetSmall:   800,
	KZSetLarge:   15,
	KHashSmall:   1200,
	KHashLarge:   15,
	KStream:      5,
}

// TTLFraction is the share of keys written with an expire.
const TTLFraction = 0.30

// Info describes a generated file (the sidecar's content).
type Info struct {
	Path       string           `json:"-"`
	TargetSize int64            `json:"target_size"`
	Seed       int64            `json:"seed"`
	GenVersion int              `json:"gen_version"`
	FileSize   int64            `json:"file_size"`
	SHA256     string           `json:"sha256"`
	Keys       int64            `json:"keys"`
	TTLKeys    int64            `json:"ttl_keys"`
	Counts     [numKinds]int64  `json:"counts"`
	DBKeys     map[string]int64 `json:"db_keys"`
	GenSeconds float64          `json:"gen_seconds"`
	// Set by Open, not stored.
	Generated  bool          `json:"-"` // false: reused from the cache
	VerifyTime time.Duration `json:"-"`
}

// Path returns the cache path for a file of the given target size and seed.
func Path(size, seed int64) string {
	return filepath.Join(os.TempDir(), fmt.Sprintf("rdbferry-bench-%s-s%d-g%d.rdb", FormatSize(size), seed, GenVersion))
}

// Open returns a verified file of (at least) size bytes generated from seed,
// from the cache when a matching one is there, generating it otherwise. logf,
// when not nil, is told what happens.
func Open(size, seed int64, logf func(format string, args ...any)) (*Info, error) {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	path := Path(size, seed)
	if info, err := readSidecar(path); err == nil {
		if st, err := os.Stat(path); err == nil && st.Size() == info.FileSize &&
			info.TargetSize == size && info.Seed == seed && info.GenVersion == GenVersion {
			t0 := time.Now()
			v, err := Verify(path)
			if err == nil && v.SHA256 == info.SHA256 && v.Keys == info.Keys {
				info.VerifyTime = time.Since(t0)
				logf("reusing %s (%s, sha256 %s…, verified in %.1fs)", path, Human(info.FileSize), info.SHA256[:12], info.VerifyTime.Seconds())
				return info, nil
			}
			if err != nil {
				logf("cached %s does not verify (%v): regenerating", path, err)
			} else {
				logf("cached %s does not match its sidecar (sha256 %s…, %d keys): regenerating", path, v.SHA256[:12], v.Keys)
			}
		}
	}
	logf("generating %s (%s, seed %d)…", path, FormatSize(size), seed)
	info, err := generateFile(path, size, seed)
	if err != nil {
		return nil, err
	}
	logf("generated %d keys, %s in %.1fs (%.0f MB/s)", info.Keys, Human(info.FileSize), info.GenSeconds, float64(info.FileSize)/1e6/info.GenSeconds)
	t0 := time.Now()
	v, err := Verify(path)
	if err != nil {
		os.Remove(path + ".json")
		return nil, fmt.Errorf("generated file %s does not parse with rdb.Reader: %w", path, err)
	}
	if v.SHA256 != info.SHA256 || v.Keys != info.Keys || v.TTLKeys != info.TTLKeys {
		os.Remove(path + ".json")
		return nil, fmt.Errorf("generated file %s: rdb.Reader saw %d keys (%d with TTL, sha256 %s), the generator wrote %d (%d, %s)",
			path, v.Keys, v.TTLKeys, v.SHA256, info.Keys, info.TTLKeys, info.SHA256)
	}
	info.VerifyTime = time.Since(t0)
	logf("verified with rdb.Reader (every record to io.EOF, CRC-64 checked, every value decoded) in %.1fs", info.VerifyTime.Seconds())
	info.Generated = true
	return info, nil
}

func readSidecar(path string) (*Info, error) {
	b, err := os.ReadFile(path + ".json")
	if err != nil {
		return nil, err
	}
	info := &Info{}
	if err := json.Unmarshal(b, info); err != nil {
		return nil, err
	}
	info.Path = path
	return info, nil
}

func generateFile(path string, size, seed int64) (*Info, error) {
	t0 := time.Now()
	tmp := fmt.Sprintf("%s.tmp-%d", path, os.Getpid())
	f, err := os.Create(tmp)
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp) // after a successful rename: a no-op
	h := sha256.New()
	cw := &countWriter{w: io.MultiWriter(f, h)}
	bw := bufio.NewWriterSize(cw, 1<<20)
	info, err := Generate(bw, size, seed, func() int64 { return cw.n + int64(bw.Buffered()) })
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("generating %s: %w", path, err)
	}
	info.Path = path
	info.FileSize = cw.n
	info.SHA256 = hex.EncodeToString(h.Sum(nil))
	info.GenSeconds = time.Since(t0).Seconds()
	meta, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, err
	}
	if err := os.WriteFile(path+".json", meta, 0o644); err != nil {
		return nil, err
	}
	return info, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// Generate writes the dataset to w until written() reports at least size
// bytes, then ends the file. It fills in the counts of the returned Info.
func Generate(w io.Writer, size, seed int64, written func() int64) (*Info, error) {
	g := &gen{rng: rand.New(rand.NewSource(seed))}
	for _, wt := range weights {
		g.wsum += wt
	}
	info := &Info{TargetSize: size, Seed: seed, GenVersion: GenVersion, DBKeys: map[string]int64{}}
	cw := &crcWriter{w: w}
	g.raw = cw
	enc := core.NewEncoder(cw)
	if err := enc.WriteHeader(); err != nil {
		return nil, err
	}
	for _, kv := range [][2]string{
		{"redis-ver", "7.2.4"}, {"redis-bits", "64"}, {"ctime", "1700000000"},
		{"used-mem", strconv.FormatInt(size*2, 10)}, {"aof-base", "0"},
	} {
		if err := enc.WriteAux(kv[0], kv[1]); err != nil {
			return nil, err
		}
	}
	// Databases 0 (90 % of the bytes) and 1. The counts are hints.
	estKeys := uint64(size / 1400)
	db, inDB := 0, 0
	if err := enc.WriteDBHeader(0, estKeys*9/10, estKeys*9/10*3/10); err != nil {
		return nil, err
	}
	for written() < size {
		if db == 0 && written() >= size/10*9 {
			db, inDB = 1, 0
			if err := enc.WriteDBHeader(1, estKeys/10, estKeys/10*3/10); err != nil {
				return nil, err
			}
		}
		kind := g.kind()
		if kind == KStream && inDB == 0 {
			// Streams bypass the encoder's state machine (see
			// writeStream), which wants an object after a DB header.
			kind = KStringSmall
		}
		inDB++
		var opts []interface{}
		if g.rng.Float64() < TTLFraction {
			// 2100-01-01 plus up to ~115 days: far future, never expired.
			opts = append(opts, core.WithTTL(uint64(4102444800000+g.rng.Int63n(1e10))))
			info.TTLKeys++
		}
		if err := g.writeKey(enc, kind, info.Keys, opts); err != nil {
			return nil, fmt.Errorf("key %d (%s): %w", info.Keys, KindNames[kind], err)
		}
		info.Keys++
		info.Counts[kind]++
		info.DBKeys[strconv.Itoa(db)]++
	}
	cw.ending = true
	if err := enc.WriteEnd(); err != nil {
		return nil, err
	}
	if cw.ending {
		return nil, errors.New("the encoder did not write its checksum as expected")
	}
	return info, nil
}

// crcWriter computes the file's CRC-64 itself, over what the encoder writes
// and what the generator writes past it (streams: see writeStream), and
// replaces the encoder's checksum with it.
type crcWriter struct {
	w      io.Writer
	crc    uint64
	ending bool // WriteEnd is running: 0xFF, then the 8-byte checksum
	sawEOF bool
}

func (c *crcWriter) Write(p []byte) (int, error) {
	if c.ending {
		switch {
		case !c.sawEOF && len(p) == 1 && p[0] == 0xFF:
			c.sawEOF = true
		case c.sawEOF && len(p) == 8:
			var sum [8]byte
			binary.LittleEndian.PutUint64(sum[:], c.crc)
			c.ending = false
			if _, err := c.w.Write(sum[:]); err != nil {
				return 0, err
			}
			return len(p), nil
		default:
			return 0, fmt.Errorf("unexpected write of %d bytes while ending the file", len(p))
		}
	}
	c.crc = rdb.CRC64(c.crc, p)
	return c.w.Write(p)
}

type gen struct {
	rng  *rand.Rand
	wsum int
	raw  io.Writer // the file, past the encoder (CRC still counted)
	sbuf bytes.Buffer
}

func (g *gen) kind() int {
	x := g.rng.Intn(g.wsum)
	for k, wt := range weights {
		if x < wt {
			return k
		}
		x -= wt
	}
	return KStringSmall
}

// between returns a number in [lo, hi].
func (g *gen) between(lo, hi int) int { return lo + g.rng.Intn(hi-lo+1) }

const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"

// text appends n random characters (never all digits: a letter first).
func (g *gen) text(dst []byte, n int) []byte {
	if n <= 0 {
		return dst
	}
	dst = append(dst, alphabet[g.rng.Intn(52)])
	for i := 1; i < n; {
		x := g.rng.Uint64()
		for j := 0; j < 10 && i < n; j++ {
			dst = append(dst, alphabet[x&63])
			x >>= 6
			i++
		}
	}
	return dst
}

func (g *gen) str(prefix string, lo, hi int) []byte {
	b := append(make([]byte, 0, len(prefix)+hi), prefix...)
	return g.text(b, g.between(lo, hi))
}

var keyPrefix = [numKinds]string{
	"user:session", "counter", "blob", "queue", "log", "tags:id", "ids", "tags", "members",
	"rank", "leaderboard", "user:profile", "catalog", "events",
}

func (g *gen) writeKey(enc *core.Encoder, kind int, seq int64, opts []interface{}) error {
	key := keyPrefix[kind] + ":" + strconv.FormatInt(seq, 10) + ":" + string(g.text(nil, g.between(0, 12)))
	switch kind {
	case KStringSmall:
		return enc.WriteStringObject(key, g.str("", 10, 100), opts...)
	case KStringInt:
		return enc.WriteStringObject(key, strconv.AppendInt(nil, int64(g.rng.Int31()>>uint(g.rng.Intn(31))), 10), opts...)
	case KStringLarge:
		return enc.WriteStringObject(key, g.str("", 10_000, 100_000), opts...)
	case KListSmall, KListLarge:
		n, lo, hi := g.between(5, 60), 4, 48
		if kind == KListLarge {
			n, lo, hi = g.between(600, 4000), 8, 120
		}
		items := make([][]byte, n)
		for i := range items {
			if g.rng.Intn(8) == 0 {
				items[i] = strconv.AppendInt(nil, g.rng.Int63n(1e12), 10)
			} else {
				items[i] = g.str("", lo, hi)
			}
		}
		return enc.WriteListObject(key, items, opts...)
	case KSetInt, KSetIntLarge:
		n := g.between(5, 300)
		if kind == KSetIntLarge {
			n = g.between(1000, 8000)
		}
		step := int64(1 + g.rng.Intn(1<<uint(g.rng.Intn(30))))
		v := g.rng.Int63n(1 << 20)
		items := make([][]byte, n)
		for i := range items {
			items[i] = strconv.AppendInt(nil, v, 10)
			v += step
		}
		return enc.WriteSetObject(key, items, opts...)
	case KSetSmall, KSetLarge:
		n := g.between(3, 60)
		if kind == KSetLarge {
			n = g.between(600, 3000)
		}
		items := make([][]byte, n)
		for i := range items {
			items[i] = g.str("m"+strconv.Itoa(i)+":", 4, 32)
		}
		return enc.WriteSetObject(key, items, opts...)
	case KZSetSmall, KZSetLarge:
		n, hi := g.between(3, 100), 40
		if kind == KZSetLarge {
			n, hi = g.between(600, 4000), 48
		}
		entries := make([]*model.ZSetEntry, n)
		for i := range entries {
			score := float64(g.rng.Intn(1_000_000))
			if g.rng.Intn(2) == 0 {
				score = g.rng.Float64() * 1000
			}
			entries[i] = &model.ZSetEntry{Member: string(g.str("z"+strconv.Itoa(i)+":", 4, hi)), Score: score}
		}
		return enc.WriteZSetObject(key, entries, opts...)
	case KHashSmall, KHashLarge:
		n, hi := g.between(3, 60), 60
		if kind == KHashLarge {
			n, hi = g.between(600, 3000), 200
		}
		h := make(map[string][]byte, n)
		for i := 0; i < n; i++ {
			var v []byte
			if g.rng.Intn(4) == 0 {
				v = strconv.AppendInt(nil, g.rng.Int63n(1e9), 10)
			} else {
				v = g.str("", 1, hi)
			}
			h["f"+strconv.Itoa(i)+string(g.text([]byte{':'}, g.between(0, 8)))] = v
		}
		return enc.WriteHashMapObject(key, h, opts...)
	case KStream:
		return g.writeStream(key, g.stream(), opts)
	}
	return fmt.Errorf("unknown kind %d", kind)
}

// streamNodeEntries is the number of messages per stream node: each node's
// listpack then stays under about 4 KB, like Redis's stream-node-max-bytes
// (and hdt3213's encoder builds listpacks in time quadratic in their size).
const streamNodeEntries = 50

// stream builds a type-21 stream of 200-3000 messages in nodes of
// streamNodeEntries, with two consumer groups holding pending entries.
//
// Every node's master entry has no fields (so every message carries its
// own field names): hdt3213/rdb v1.3.2's encoder writes the master entry's
// terminator as the field count instead of 0, which Redis's deep
// sanitization (and rdb.Reader) rejects, unless the master has no fields.
// Every id has sequence 0 and a distinct millisecond: that encoder writes
// negative deltas between 0 and -127 as one byte (0xFF for -1, the
// listpack end marker) instead of a 13-bit integer.
func (g *gen) stream() *model.StreamObject {
	n := g.between(200, 3000)
	baseMs := uint64(1_700_000_000_000 + g.rng.Int63n(1e10))
	ids := make([]*model.StreamId, n)
	ms := baseMs
	for i := range ids {
		ms += 1 + uint64(g.rng.Intn(3))
		ids[i] = &model.StreamId{Ms: ms} // sequence 0: see above
	}
	s := &model.StreamObject{
		Version:           3,
		Length:            uint64(n),
		LastId:            ids[n-1],
		FirstId:           ids[0],
		MaxDeletedId:      &model.StreamId{},
		AddedEntriesCount: uint64(n),
	}
	for start := 0; start < n; start += streamNodeEntries {
		end := start + streamNodeEntries
		if end > n {
			end = n
		}
		node := &model.StreamEntry{FirstMsgId: ids[start], Fields: []string{}}
		for i := start; i < end; i++ {
			node.Msgs = append(node.Msgs, &model.StreamMessage{Id: ids[i], Fields: map[string]string{
				"sensor": string(g.str("s", 3, 8)),
				"value":  string(g.str("v", 1, 12)),
				"unit":   []string{"c", "kpa", "pct", "lux"}[g.rng.Intn(4)],
			}})
		}
		s.Entries = append(s.Entries, node)
	}
	for gi := 0; gi < 2; gi++ {
		last := g.between(n/2, n-1)
		grp := &model.StreamGroup{Name: "group-" + strconv.Itoa(gi), LastId: ids[last], EntriesRead: uint64(last + 1)}
		consumers := make([]*model.StreamConsumer, 3)
		for c := range consumers {
			consumers[c] = &model.StreamConsumer{
				Name:       "consumer-" + strconv.Itoa(c),
				SeenTime:   baseMs + uint64(g.rng.Intn(1e6)),
				ActiveTime: baseMs + uint64(g.rng.Intn(1e6)),
			}
		}
		for i := last - g.between(0, 60); i <= last; i++ {
			if i < 0 {
				continue
			}
			grp.Pending = append(grp.Pending, &model.StreamNAck{Id: ids[i], DeliveryTime: baseMs + uint64(i), DeliveryCount: uint64(1 + g.rng.Intn(3))})
			c := consumers[g.rng.Intn(len(consumers))]
			c.Pending = append(c.Pending, ids[i])
		}
		grp.Consumers = consumers
		s.Groups = append(s.Groups, grp)
	}
	return s
}

// writeStream writes a stream record encoded by hdt3213/rdb v1.3.2's
// WriteStreamObject, repaired: that encoder ends its stream listpacks
// without the 0xFF end marker (and counts total-bytes without it), which
// Redis and rdb.Reader reject. The record is encoded by a scratch encoder,
// each node's listpack gets its end marker, and the record is written to
// the file past the main encoder (whose state machine still allows the next
// object: the key before is an object or a DB header followed by one).
func (g *gen) writeStream(key string, s *model.StreamObject, opts []interface{}) error {
	g.sbuf.Reset()
	enc := core.NewEncoder(&g.sbuf)
	if err := enc.WriteHeader(); err != nil {
		return err
	}
	if err := enc.WriteDBHeader(0, 1, 0); err != nil {
		return err
	}
	mark := g.sbuf.Len()
	if err := enc.WriteStreamObject(key, s, opts...); err != nil {
		return err
	}
	rec := g.sbuf.Bytes()[mark:]
	p := 0
	var out []byte
	if rec[p] == 0xFC { // expire in ms
		p += 9
	}
	p++ // type byte
	// key, node count
	_, p, err := rdbString(rec, p)
	if err != nil {
		return fmt.Errorf("stream key: %w", err)
	}
	nodes, p, err := rdbLength(rec, p)
	if err != nil {
		return err
	}
	out = append(out, rec[:p]...)
	for i := uint64(0); i < nodes; i++ {
		start := p
		if _, p, err = rdbString(rec, p); err != nil { // master id
			return fmt.Errorf("stream node %d: %w", i, err)
		}
		out = append(out, rec[start:p]...)
		var lp []byte
		if lp, p, err = rdbString(rec, p); err != nil {
			return fmt.Errorf("stream node %d: %w", i, err)
		}
		if len(lp) < 6 || int(binary.LittleEndian.Uint32(lp)) != len(lp) || lp[len(lp)-1] == 0xFF {
			return fmt.Errorf("stream node %d: listpack not as expected from hdt3213/rdb v1.3.2 (%d bytes, header says %d)", i, len(lp), binary.LittleEndian.Uint32(lp))
		}
		fixed := append(append(make([]byte, 0, len(lp)+1), lp...), 0xFF)
		binary.LittleEndian.PutUint32(fixed, uint32(len(fixed)))
		out = appendRDBString(out, fixed)
	}
	out = append(out, rec[p:]...)
	_, err = g.raw.Write(out)
	return err
}

// rdbLength reads a plain RDB length at b[p:].
func rdbLength(b []byte, p int) (uint64, int, error) {
	if p >= len(b) {
		return 0, p, io.ErrUnexpectedEOF
	}
	switch c := b[p]; {
	case c>>6 == 0:
		return uint64(c & 0x3f), p + 1, nil
	case c>>6 == 1 && p+2 <= len(b):
		return uint64(c&0x3f)<<8 | uint64(b[p+1]), p + 2, nil
	case c == 0x80 && p+5 <= len(b):
		return uint64(binary.BigEndian.Uint32(b[p+1:])), p + 5, nil
	case c == 0x81 && p+9 <= len(b):
		return binary.BigEndian.Uint64(b[p+1:]), p + 9, nil
	}
	return 0, p, fmt.Errorf("length byte 0x%02x not a plain length", b[p])
}

// rdbString reads a plain (not integer- or LZF-encoded) RDB string.
func rdbString(b []byte, p int) ([]byte, int, error) {
	n, p, err := rdbLength(b, p)
	if err != nil {
		return nil, p, err
	}
	if uint64(len(b)-p) < n {
		return nil, p, io.ErrUnexpectedEOF
	}
	return b[p : p+int(n)], p + int(n), nil
}

func appendRDBString(dst, s []byte) []byte {
	switch n := len(s); {
	case n < 1<<6:
		dst = append(dst, byte(n))
	case n < 1<<14:
		dst = append(dst, byte(n>>8)|0x40, byte(n))
	default:
		dst = append(dst, 0x80)
		dst = binary.BigEndian.AppendUint32(dst, uint32(n))
	}
	return append(dst, s...)
}

// Verified is what Verify saw.
type Verified struct {
	Keys, TTLKeys int64
	Kinds         map[rdb.Kind]int64
	SHA256        string
}

// Verify reads the file to io.EOF with rdb.Reader (which checks the trailing
// CRC-64), decodes every value and hashes the bytes.
func Verify(path string) (*Verified, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	r := rdb.NewReader(io.TeeReader(f, h))
	v := &Verified{Kinds: map[rdb.Kind]int64{}}
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		k, ok := rec.(*rdb.Key)
		if !ok {
			continue
		}
		val, err := k.Value()
		if err != nil {
			return nil, err
		}
		if val.Kind() != k.Type.Kind() {
			return nil, fmt.Errorf("key %q: decoded a %v from a %v", k.Key, val.Kind(), k.Type)
		}
		v.Keys++
		v.Kinds[val.Kind()]++
		if k.ExpireAt != 0 {
			v.TTLKeys++
		}
	}
	if _, err := io.Copy(h, f); err != nil { // nothing should be left
		return nil, err
	}
	v.SHA256 = hex.EncodeToString(h.Sum(nil))
	return v, nil
}

// ParseSize parses sizes like "256MB", "16MiB", "1GB", "1048576". K, M and G
// are binary (1024-based) with or without the "i", as Redis reads "256mb".
func ParseSize(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range []struct {
		suf string
		m   int64
	}{{"GIB", 1 << 30}, {"MIB", 1 << 20}, {"KIB", 1 << 10}, {"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(t, u.suf) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suf)), u.m
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n <= 0 {
		return 0, errors.New("bad size " + strconv.Quote(s) + ": want e.g. 256MB")
	}
	return n * mult, nil
}

// Human formats a byte count for people: "268.5 MB (256.1 MiB)".
func Human(n int64) string {
	return fmt.Sprintf("%.1f MB (%.1f MiB)", float64(n)/1e6, float64(n)/(1<<20))
}

// FormatSize formats a byte count as ParseSize reads it, exactly when it
// can ("256MB"), else in bytes.
func FormatSize(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return strconv.FormatInt(n>>30, 10) + "GB"
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + "MB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + "KB"
	}
	return strconv.FormatInt(n, 10) + "B"
}
