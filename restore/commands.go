package restore

// The command path: rebuilding a value with plain commands (RPUSH, SADD,
// ZADD, HSET, XADD, …) where RESTORE cannot be used — no payload the target
// can read, a payload above the target's proto-max-bulk-len, or on request.
//
// The value is written into a temporary key in the key's hash slot, given
// its expiration, then renamed over the real key, so that readers do not see
// a value while it is being built, and a retry after an interruption starts
// from scratch (the first command deletes a leftover temporary key) and
// converges. The rename is pipelined behind the batches: when a batch
// fails, the rename still moves the partial value into place until a retry
// replaces it (see the package doc).

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"

	"github.com/rdbferry/rdbferry/internal/keyslot"
	"github.com/rdbferry/rdbferry/rdb"
)

// commandOptions bound and shape the commands of the command path.
type commandOptions struct {
	MaxBatchArgs  int   // most elements/pairs per command (e.g. 512)
	MaxBatchBytes int   // most payload bytes per command (e.g. 1 MiB); one element larger than this still goes alone
	MaxBulk       int64 // the target's proto-max-bulk-len: an argument larger than this cannot be sent
	Replace       bool  // RENAME over an existing key (else RENAMENX, and the caller treats 0 as "existing, skipped")
	FieldTTLs     bool  // the target has HPEXPIREAT (Redis 7.4+)
	StreamV7      bool  // the target has XSETID ENTRIESADDED/MAXDELETEDID and XGROUP CREATE … ENTRIESREAD (Redis 7.0+)
}

// Defaults for zero (or negative) fields of commandOptions.
const (
	defaultMaxBatchArgs  = 512
	defaultMaxBatchBytes = 1 << 20
	defaultMaxBulk       = 512 << 20 // Redis's default proto-max-bulk-len
)

func (o commandOptions) withDefaults() commandOptions {
	if o.MaxBatchArgs <= 0 {
		o.MaxBatchArgs = defaultMaxBatchArgs
	}
	if o.MaxBatchBytes <= 0 {
		o.MaxBatchBytes = defaultMaxBatchBytes
	}
	if o.MaxBulk <= 0 {
		o.MaxBulk = defaultMaxBulk
	}
	return o
}

// Errors of the command path. valueCommands wraps them with the key's name
// (and the type or size at fault); test with errors.Is.
var (
	// errNoCommandPath: the value's type (module values, KeyDB cron jobs)
	// cannot be rebuilt with commands.
	errNoCommandPath = errors.New("no command path for this type")
	// errArgTooLarge: an element, field, value or name is longer than the
	// target's proto-max-bulk-len, so no command can carry it; or a string
	// is, which the target refuses to build even by APPEND.
	errArgTooLarge = errors.New("larger than the target's proto-max-bulk-len")
	// errFieldTTLs: a hash has fields with TTLs and the target has no
	// HPEXPIREAT; the caller drops the field TTLs beforehand (and counts
	// them) or fails the key.
	errFieldTTLs = errors.New("hash field TTLs need HPEXPIREAT (Redis 7.4+) on the target")
	// errEmptyValue: a list, set, sorted set or hash without elements, which
	// Redis cannot hold (it deletes a key whose last element goes).
	errEmptyValue = errors.New("empty aggregate value")
	// errBadCommandValue: the value cannot be rebuilt as it is: a NaN score,
	// a stream entry without fields or out of id order, a negative
	// expiration.
	errBadCommandValue = errors.New("value cannot be rebuilt with commands")
	// errNoTempKey: valueCommands was given no temporary key and Replace is
	// off; RENAMENX's "only if absent" cannot be had without one.
	errNoTempKey = errors.New("no temporary key: writing the key directly needs Replace")
)

// Suffixes of temporary keys: one per way tempKey builds the name, all of the
// same length and differing in their last byte, so that the name tells how it
// was built and two keys never share a temporary name. The NUL makes a
// collision with a real key unlikely.
const (
	tmpSuffixTagged  = "\x00rdbferry-tmp-t" // key has a hash tag: key + suffix
	tmpSuffixWrapped = "\x00rdbferry-tmp-w" // no braces in key: "{" + key + "}" + suffix
	tmpSuffixSlotTag = "\x00rdbferry-tmp-s" // otherwise: "{" + keyslot.Tag(slot) + "}" + key + suffix
)

// tempKey returns the name of the temporary key that the command path builds
// a value under before renaming it over key. The name is in key's cluster
// slot (RENAME needs both names in one slot), distinct for distinct keys, and
// ends in "\x00rdbferry-tmp-" and a letter, which no sane key does:
//
//   - a key with a hash tag ("{user1}:cart") keeps it: key + suffix;
//   - a key without any brace ("cart:1") becomes its own tag:
//     "{cart:1}" + suffix, which shows the key plainly in the name;
//   - any other key (the empty key, or one with braces but no non-empty
//     tag, such as "a}b", "{}x" or "x{y") gets the fixed short tag of its
//     slot, from keyslot.Tag:
//     "{" + tag + "}" + key + suffix.
//
// The three forms end in different suffixes, so no two keys map to one name.
// ok is false only when no such name exists; with keyslot.Tag covering every
// slot that does not happen, but callers handle it (valueCommands with a nil
// tmp writes the key directly).
func tempKey(key []byte) (tmp []byte, ok bool) {
	slot := keyslot.Slot(key)
	var out []byte
	switch {
	case hasHashTag(key):
		out = make([]byte, 0, len(key)+len(tmpSuffixTagged))
		out = append(out, key...)
		out = append(out, tmpSuffixTagged...)
	case bytes.IndexByte(key, '{') < 0 && bytes.IndexByte(key, '}') < 0 && len(key) > 0:
		out = make([]byte, 0, len(key)+2+len(tmpSuffixWrapped))
		out = append(out, '{')
		out = append(out, key...)
		out = append(out, '}')
		out = append(out, tmpSuffixWrapped...)
	default:
		tag := keyslot.Tag(slot)
		out = make([]byte, 0, len(tag)+2+len(key)+len(tmpSuffixSlotTag))
		out = append(out, '{')
		out = append(out, tag...)
		out = append(out, '}')
		out = append(out, key...)
		out = append(out, tmpSuffixSlotTag...)
	}
	if keyslot.Slot(out) != slot {
		return nil, false // cannot happen; kept as the safety net the caller relies on
	}
	return out, true
}

// hasHashTag reports whether key has a non-empty hash tag.
func hasHashTag(key []byte) bool {
	i := bytes.IndexByte(key, '{')
	if i < 0 {
		return false
	}
	j := bytes.IndexByte(key[i+1:], '}')
	return j > 0
}

// valueCommands emits the commands that rebuild value v under tmp, set the key's absolute expiration
// (expireAt unix ms, 0 = none) and move tmp over key. The first command deletes tmp (a leftover of an
// interrupted run). Arguments alias v's memory; emit must use them before returning.
// The last emitted command is the RENAME/RENAMENX; the caller learns "skipped existing" from its reply.
//
// The commands, in order:
//
//	DEL tmp
//	String: SET tmp chunk, then APPEND tmp chunk … (chunks of at most MaxBatchBytes)
//	List:   RPUSH tmp e …        Set: SADD tmp m …
//	ZSet:   ZADD tmp score m …   (integral scores as integers, others in the shortest
//	        text that parses back to the same float64, ±inf as "+inf"/"-inf")
//	Hash:   HSET tmp f v …, then with FieldTTLs
//	        HPEXPIREAT tmp ms FIELDS n f … (fields grouped by equal expiration)
//	Stream: XADD tmp id f v … (one per entry; an empty stream is created by
//	        XGROUP CREATE tmp <placeholder> 0 MKSTREAM + XGROUP DESTROY),
//	        XSETID tmp last-id [ENTRIESADDED n MAXDELETEDID id],
//	        per group XGROUP CREATE tmp g last-delivered [ENTRIESREAD n],
//	        XGROUP CREATECONSUMER tmp g c per consumer, and the pending entries:
//	        XCLAIM tmp g c 0 id … TIME delivery-ms RETRYCOUNT n FORCE JUSTID
//	PEXPIREAT tmp expireAt   (when expireAt > 0; RENAME carries the TTL over)
//	RENAME tmp key  (Replace)   or   RENAMENX tmp key
//
// List, set, sorted-set and hash commands carry at most MaxBatchArgs elements
// (pairs for ZADD/HSET) and at most MaxBatchBytes bytes of elements, except
// that an element larger than MaxBatchBytes goes alone.
//
// Everything that makes the value impossible to write (a type without a
// command path, an argument above MaxBulk, field TTLs without FieldTTLs, a
// NaN score, an empty aggregate, a negative expireAt) is found before the first
// command is emitted: an error then means nothing was emitted. Later errors
// are emit's own, returned as they are.
//
// What the caller must know:
//
//   - RENAMENX answering 0 means the key exists and was left untouched; tmp
//     then still exists, fully built: the caller deletes it (DEL tmp).
//   - An expiration in the past (expireAt, or every hash field's) makes the
//     target delete tmp before the rename, which then fails with "ERR no such
//     key": the value had expired (and with Replace the old key is still
//     there). Callers filter expired keys beforehand.
//   - Stream state that commands cannot rebuild is not carried over: pending
//     entries whose stream entry was deleted (XCLAIM … FORCE creates a pending
//     entry only for an entry present in the stream) or that no consumer owns
//     — count them with unrestorablePending —, the consumers' seen and active
//     times (they become the time of the write), delivery times later than
//     the target's clock (clamped to now by XCLAIM), and the idempotent-
//     producer (IDMP) state of Redis 8.6 streams.
//
// With a nil tmp (tempKey found no name) the key itself is written after DEL
// key, without a rename: this needs Replace (else errNoTempKey) and is not
// atomic — a reader may see the key half built, and an interrupted run leaves
// it so until the retry (which starts with DEL key again).
func valueCommands(key, tmp []byte, v rdb.Value, expireAt int64, o commandOptions, emit func(args [][]byte) error) error {
	o = o.withDefaults()
	if tmp == nil && !o.Replace {
		return fmt.Errorf("key %s: %w", rdb.QuoteKey(key), errNoTempKey)
	}
	if err := checkCommandPath(key, tmp, v, expireAt, o); err != nil {
		return fmt.Errorf("key %s: %w", rdb.QuoteKey(key), err)
	}
	b := &cmdBuilder{o: o, emit: emit, dst: tmp}
	if tmp == nil {
		b.dst = key
	}
	if err := b.cmd(cmdDEL, b.dst); err != nil {
		return err
	}
	var err error
	switch v := v.(type) {
	case rdb.String:
		err = b.writeString(v)
	case rdb.List:
		err = b.writeElements(cmdRPUSH, v)
	case rdb.Set:
		err = b.writeElements(cmdSADD, v)
	case rdb.ZSet:
		err = b.writeZSet(v)
	case rdb.Hash:
		err = b.writeHash(v)
	case *rdb.Stream:
		err = b.writeStream(v)
	}
	if err != nil {
		return err
	}
	if expireAt > 0 {
		b.hnum.reset()
		if err := b.cmd(cmdPEXPIREAT, b.dst, b.hnum.int(expireAt)); err != nil {
			return err
		}
	}
	if tmp == nil {
		return nil
	}
	if o.Replace {
		return b.cmd(cmdRENAME, tmp, key)
	}
	return b.cmd(cmdRENAMENX, tmp, key)
}

// checkCommandPath finds what makes v impossible to write with commands.
func checkCommandPath(key, tmp []byte, v rdb.Value, expireAt int64, o commandOptions) error {
	arg := func(what string, b []byte) error {
		if int64(len(b)) > o.MaxBulk {
			return fmt.Errorf("%s of %d bytes: %w (%d)", what, len(b), errArgTooLarge, o.MaxBulk)
		}
		return nil
	}
	if err := arg("key", key); err != nil {
		return err
	}
	if err := arg("temporary key", tmp); err != nil {
		return err
	}
	if expireAt < 0 {
		return fmt.Errorf("expiration %d: %w", expireAt, errBadCommandValue)
	}
	switch v := v.(type) {
	case rdb.String:
		// APPEND refuses to grow a string beyond proto-max-bulk-len.
		return arg("string", v)
	case rdb.List:
		return checkElements(rdb.KindList, v, arg)
	case rdb.Set:
		return checkElements(rdb.KindSet, v, arg)
	case rdb.ZSet:
		if len(v) == 0 {
			return fmt.Errorf("%v: %w", rdb.KindZSet, errEmptyValue)
		}
		for i, m := range v {
			if err := arg(fmt.Sprintf("sorted set member %d", i), m.Member); err != nil {
				return err
			}
			if math.IsNaN(m.Score) {
				return fmt.Errorf("sorted set member %d has a NaN score: %w", i, errBadCommandValue)
			}
		}
	case rdb.Hash:
		if len(v) == 0 {
			return fmt.Errorf("%v: %w", rdb.KindHash, errEmptyValue)
		}
		for i, f := range v {
			if err := arg(fmt.Sprintf("hash field %d", i), f.Field); err != nil {
				return err
			}
			if err := arg(fmt.Sprintf("hash value %d", i), f.Value); err != nil {
				return err
			}
			if f.ExpireAt < 0 {
				return fmt.Errorf("hash field %d: expiration %d: %w", i, f.ExpireAt, errBadCommandValue)
			}
			if f.ExpireAt > 0 && !o.FieldTTLs {
				return fmt.Errorf("hash field %d: %w", i, errFieldTTLs)
			}
		}
	case *rdb.Stream:
		return checkStream(v, arg)
	case *rdb.Module:
		name, ver := v.Name()
		return fmt.Errorf("module value %s (encoding version %d): %w", name, ver, errNoCommandPath)
	case *rdb.Cron:
		return fmt.Errorf("KeyDB cron job: %w", errNoCommandPath)
	case nil:
		return fmt.Errorf("no value: %w", errBadCommandValue)
	default:
		return fmt.Errorf("%v value (%T): %w", v.Kind(), v, errNoCommandPath)
	}
	return nil
}

func checkElements(kind rdb.Kind, items [][]byte, arg func(string, []byte) error) error {
	if len(items) == 0 {
		return fmt.Errorf("%v: %w", kind, errEmptyValue)
	}
	for i, e := range items {
		if err := arg(fmt.Sprintf("%v element %d", kind, i), e); err != nil {
			return err
		}
	}
	return nil
}

func checkStream(s *rdb.Stream, arg func(string, []byte) error) error {
	var prev rdb.StreamID
	for i, e := range s.Entries {
		if !streamIDLess(prev, e.ID) {
			return fmt.Errorf("stream entry %d: id %v not above %v: %w", i, e.ID, prev, errBadCommandValue)
		}
		prev = e.ID
		if len(e.Fields) == 0 || len(e.Fields)%2 != 0 {
			return fmt.Errorf("stream entry %v: %d fields and values: %w", e.ID, len(e.Fields), errBadCommandValue)
		}
		for _, f := range e.Fields {
			if err := arg("stream entry "+e.ID.String()+" field or value", f); err != nil {
				return err
			}
		}
	}
	if streamIDLess(s.LastID, prev) {
		return fmt.Errorf("stream last id %v below its last entry %v: %w", s.LastID, prev, errBadCommandValue)
	}
	for _, g := range s.Groups {
		if err := arg("stream group name", g.Name); err != nil {
			return err
		}
		for _, c := range g.Consumers {
			if err := arg("stream consumer name", c.Name); err != nil {
				return err
			}
		}
	}
	return nil
}

func streamIDLess(a, b rdb.StreamID) bool {
	return a.Ms < b.Ms || a.Ms == b.Ms && a.Seq < b.Seq
}

// unrestorablePending returns how many pending entries of s's consumer
// groups the command path cannot recreate, and therefore drops: those whose
// stream entry is gone (XDEL, XTRIM; XCLAIM … FORCE creates a pending entry
// only for an entry present in the stream) and those no consumer owns. The
// caller counts them as lost. RESTORE keeps them all.
func unrestorablePending(s *rdb.Stream) int {
	n := 0
	for _, g := range s.Groups {
		for _, p := range g.Pending {
			if !pendingRestorable(s, p) {
				n++
			}
		}
	}
	return n
}

func pendingRestorable(s *rdb.Stream, p rdb.StreamPending) bool {
	return p.Consumer != nil && streamHasEntry(s, p.ID)
}

// streamHasEntry reports whether id is a live entry of s (entries ascend).
func streamHasEntry(s *rdb.Stream, id rdb.StreamID) bool {
	i := sort.Search(len(s.Entries), func(i int) bool { return !streamIDLess(s.Entries[i].ID, id) })
	return i < len(s.Entries) && s.Entries[i].ID == id
}

// Command names and fixed arguments, shared by every command emitted.
var (
	cmdDEL              = []byte("DEL")
	cmdSET              = []byte("SET")
	cmdAPPEND           = []byte("APPEND")
	cmdRPUSH            = []byte("RPUSH")
	cmdSADD             = []byte("SADD")
	cmdZADD             = []byte("ZADD")
	cmdHSET             = []byte("HSET")
	cmdHPEXPIREAT       = []byte("HPEXPIREAT")
	cmdFIELDS           = []byte("FIELDS")
	cmdXADD             = []byte("XADD")
	cmdXSETID           = []byte("XSETID")
	cmdENTRIESADDED     = []byte("ENTRIESADDED")
	cmdMAXDELETEDID     = []byte("MAXDELETEDID")
	cmdXGROUP           = []byte("XGROUP")
	cmdCREATE           = []byte("CREATE")
	cmdDESTROY          = []byte("DESTROY")
	cmdCREATECONSUMER   = []byte("CREATECONSUMER")
	cmdMKSTREAM         = []byte("MKSTREAM")
	cmdENTRIESREAD      = []byte("ENTRIESREAD")
	cmdXCLAIM           = []byte("XCLAIM")
	cmdTIME             = []byte("TIME")
	cmdRETRYCOUNT       = []byte("RETRYCOUNT")
	cmdFORCE            = []byte("FORCE")
	cmdJUSTID           = []byte("JUSTID")
	cmdPEXPIREAT        = []byte("PEXPIREAT")
	cmdRENAME           = []byte("RENAME")
	cmdRENAMENX         = []byte("RENAMENX")
	cmdZero             = []byte("0")
	cmdPosInf           = []byte("+inf")
	cmdNegInf           = []byte("-inf")
	cmdPlaceholderGroup = []byte("rdbferry-tmp-group")
)

// cmdBuilder assembles the commands of one value and hands them to emit.
//
// Batched commands are head + [count] + items + tail; a batch is flushed when
// the next item would pass MaxBatchArgs items or MaxBatchBytes bytes, unless
// the batch is empty (so an oversized item goes alone).
type cmdBuilder struct {
	o    commandOptions
	emit func([][]byte) error
	dst  []byte // the key written: tmp, or the key itself on the direct path

	args [][]byte // the command being emitted

	head  [][]byte // of the current batched command
	count bool     // put the number of items after head (HPEXPIREAT … FIELDS n)
	tail  [][]byte
	items [][]byte
	n     int // items in the batch (an item may be several arguments)
	size  int // their bytes

	hnum    numArena // numbers of single commands, heads and tails; reset by their writer
	inum    numArena // numbers of the batch's items; reset by flush
	scratch []byte   // an item's number, formatted before room may flush
}

// numArena holds numbers formatted as command arguments. Each number is a
// capacity-capped slice of the arena, so neither a later append (which may
// move the arena, leaving earlier numbers in the old array, intact) nor the
// receiver of the argument can overwrite it. reset reuses the memory: only
// once the commands using the numbers have been emitted.
type numArena []byte

func (a *numArena) reset() { *a = (*a)[:0] }

func (a *numArena) took(start int) []byte { return (*a)[start:len(*a):len(*a)] }

func (a *numArena) int(v int64) []byte {
	start := len(*a)
	*a = strconv.AppendInt(*a, v, 10)
	return a.took(start)
}

func (a *numArena) uint(v uint64) []byte {
	start := len(*a)
	*a = strconv.AppendUint(*a, v, 10)
	return a.took(start)
}

func (a *numArena) id(id rdb.StreamID) []byte {
	start := len(*a)
	*a = appendStreamID(*a, id)
	return a.took(start)
}

func (a *numArena) copy(b []byte) []byte {
	start := len(*a)
	*a = append(*a, b...)
	return a.took(start)
}

// cmd emits one command made of args.
func (b *cmdBuilder) cmd(args ...[]byte) error {
	b.args = append(b.args[:0], args...)
	return b.emit(b.args)
}

// begin starts a batched command.
func (b *cmdBuilder) begin(count bool, head [][]byte, tail [][]byte) {
	b.head = append(b.head[:0], head...)
	b.tail = append(b.tail[:0], tail...)
	b.count = count
	b.items = b.items[:0]
	b.inum.reset()
	b.n, b.size = 0, 0
}

// item adds one item (an element, a pair, …) of size bytes to the batch.
func (b *cmdBuilder) item(size int, parts ...[]byte) error {
	if err := b.room(size); err != nil {
		return err
	}
	b.add(size, parts...)
	return nil
}

// numItem adds an item made of b.scratch (a number, copied into the batch's
// arena once room has flushed, which resets it) and then rest.
func (b *cmdBuilder) numItem(rest []byte) error {
	size := len(b.scratch) + len(rest)
	if err := b.room(size); err != nil {
		return err
	}
	num := b.inum.copy(b.scratch)
	if rest == nil {
		b.add(size, num)
	} else {
		b.add(size, num, rest)
	}
	return nil
}

// room flushes the batch if an item of size bytes does not fit in it.
func (b *cmdBuilder) room(size int) error {
	if b.n > 0 && (b.n >= b.o.MaxBatchArgs || b.size+size > b.o.MaxBatchBytes) {
		return b.flush()
	}
	return nil
}

func (b *cmdBuilder) add(size int, parts ...[]byte) {
	b.items = append(b.items, parts...)
	b.n++
	b.size += size
}

// flush emits the batch, if it has items.
func (b *cmdBuilder) flush() error {
	if b.n == 0 {
		return nil
	}
	b.args = append(b.args[:0], b.head...)
	if b.count {
		b.args = append(b.args, b.inum.int(int64(b.n)))
	}
	b.args = append(b.args, b.items...)
	b.args = append(b.args, b.tail...)
	err := b.emit(b.args)
	b.items = b.items[:0]
	b.inum.reset()
	b.n, b.size = 0, 0
	return err
}

func (b *cmdBuilder) writeString(s rdb.String) error {
	chunk := b.o.MaxBatchBytes
	if int64(chunk) > b.o.MaxBulk {
		chunk = int(b.o.MaxBulk)
	}
	first := len(s)
	if first > chunk {
		first = chunk
	}
	if err := b.cmd(cmdSET, b.dst, s[:first]); err != nil {
		return err
	}
	for off := first; off < len(s); off += chunk {
		end := off + chunk
		if end > len(s) {
			end = len(s)
		}
		if err := b.cmd(cmdAPPEND, b.dst, s[off:end]); err != nil {
			return err
		}
	}
	return nil
}

func (b *cmdBuilder) writeElements(name []byte, elems [][]byte) error {
	b.begin(false, [][]byte{name, b.dst}, nil)
	for _, e := range elems {
		if err := b.item(len(e), e); err != nil {
			return err
		}
	}
	return b.flush()
}

// appendScore formats a sorted-set score as ZADD reads it back exactly:
// integral values up to 2^53 as integers, ±inf as "+inf"/"-inf", anything
// else (-0 included) as the shortest round-tripping %g text.
func appendScore(dst []byte, f float64) []byte {
	switch {
	case math.IsInf(f, 1):
		return append(dst, cmdPosInf...)
	case math.IsInf(f, -1):
		return append(dst, cmdNegInf...)
	case f == math.Trunc(f) && math.Abs(f) <= 1<<53 && !(f == 0 && math.Signbit(f)):
		return strconv.AppendInt(dst, int64(f), 10)
	}
	return strconv.AppendFloat(dst, f, 'g', -1, 64)
}

func (b *cmdBuilder) writeZSet(z rdb.ZSet) error {
	b.begin(false, [][]byte{cmdZADD, b.dst}, nil)
	for _, m := range z {
		b.scratch = appendScore(b.scratch[:0], m.Score)
		if err := b.numItem(m.Member); err != nil {
			return err
		}
	}
	return b.flush()
}

func (b *cmdBuilder) writeHash(h rdb.Hash) error {
	b.begin(false, [][]byte{cmdHSET, b.dst}, nil)
	var withTTL []int
	for i, f := range h {
		if err := b.item(len(f.Field)+len(f.Value), f.Field, f.Value); err != nil {
			return err
		}
		if f.ExpireAt > 0 {
			withTTL = append(withTTL, i)
		}
	}
	if err := b.flush(); err != nil {
		return err
	}
	if len(withTTL) == 0 {
		return nil // checkCommandPath made sure FieldTTLs is set otherwise
	}
	sort.SliceStable(withTTL, func(i, j int) bool { return h[withTTL[i]].ExpireAt < h[withTTL[j]].ExpireAt })
	for i := 0; i < len(withTTL); {
		ms := h[withTTL[i]].ExpireAt
		b.hnum.reset()
		b.begin(true, [][]byte{cmdHPEXPIREAT, b.dst, b.hnum.int(ms), cmdFIELDS}, nil)
		for ; i < len(withTTL) && h[withTTL[i]].ExpireAt == ms; i++ {
			f := h[withTTL[i]].Field
			if err := b.item(len(f), f); err != nil {
				return err
			}
		}
		if err := b.flush(); err != nil {
			return err
		}
	}
	return nil
}

func appendStreamID(dst []byte, id rdb.StreamID) []byte {
	dst = strconv.AppendUint(dst, id.Ms, 10)
	dst = append(dst, '-')
	return strconv.AppendUint(dst, id.Seq, 10)
}

// streamV7Known reports whether s carries the counters of Redis 7.0 streams
// (entries added, max deleted id): a stream decoded from an older encoding
// has them zero, which contradicts its entries. Such a stream is rebuilt as
// Redis 7 loads an old RDB: entries added = the entries written, no max
// deleted id.
func streamV7Known(s *rdb.Stream) bool {
	return s.EntriesAdded >= uint64(len(s.Entries))
}

// groupsV7Known reports whether the groups' EntriesRead are meaningful (0 in
// older encodings, where no counter says the stream is a 7.0 one when it is
// empty and nothing was ever deleted, so then ENTRIESREAD is left out).
func groupsV7Known(s *rdb.Stream) bool {
	return streamV7Known(s) && (s.EntriesAdded > 0 || s.MaxDeletedID != rdb.StreamID{} || s.FirstID != rdb.StreamID{})
}

func (b *cmdBuilder) writeStream(s *rdb.Stream) error {
	for _, e := range s.Entries {
		b.hnum.reset()
		b.args = append(b.args[:0], cmdXADD, b.dst, b.hnum.id(e.ID))
		b.args = append(b.args, e.Fields...)
		if err := b.emit(b.args); err != nil {
			return err
		}
	}
	if len(s.Entries) == 0 {
		// XADD cannot make an empty stream (nor use id 0-0); a consumer group
		// created with MKSTREAM can, and leaves nothing behind once destroyed.
		if err := b.cmd(cmdXGROUP, cmdCREATE, b.dst, cmdPlaceholderGroup, cmdZero, cmdMKSTREAM); err != nil {
			return err
		}
		if err := b.cmd(cmdXGROUP, cmdDESTROY, b.dst, cmdPlaceholderGroup); err != nil {
			return err
		}
	}
	b.hnum.reset()
	b.args = append(b.args[:0], cmdXSETID, b.dst, b.hnum.id(s.LastID))
	if b.o.StreamV7 && streamV7Known(s) {
		b.args = append(b.args, cmdENTRIESADDED, b.hnum.uint(s.EntriesAdded), cmdMAXDELETEDID, b.hnum.id(s.MaxDeletedID))
	}
	if err := b.emit(b.args); err != nil {
		return err
	}
	withRead := b.o.StreamV7 && groupsV7Known(s)
	for gi := range s.Groups {
		g := &s.Groups[gi]
		b.hnum.reset()
		b.args = append(b.args[:0], cmdXGROUP, cmdCREATE, b.dst, g.Name, b.hnum.id(g.LastID))
		if withRead && g.EntriesRead >= 0 {
			b.args = append(b.args, cmdENTRIESREAD, b.hnum.int(g.EntriesRead))
		}
		if err := b.emit(b.args); err != nil {
			return err
		}
		for _, c := range g.Consumers {
			if err := b.cmd(cmdXGROUP, cmdCREATECONSUMER, b.dst, g.Name, c.Name); err != nil {
				return err
			}
		}
		if err := b.writePending(s, g); err != nil {
			return err
		}
	}
	return nil
}

// writePending recreates g's pending entries with XCLAIM … FORCE JUSTID,
// one command per run of entries with the same consumer, delivery time and
// delivery count (at most MaxBatchArgs ids each).
func (b *cmdBuilder) writePending(s *rdb.Stream, g *rdb.StreamGroup) error {
	var cur *rdb.StreamPending // the run's first entry
	for i := range g.Pending {
		p := &g.Pending[i]
		if !pendingRestorable(s, *p) {
			continue
		}
		if cur == nil || !bytes.Equal(cur.Consumer, p.Consumer) || cur.DeliveryTime != p.DeliveryTime || cur.DeliveryCount != p.DeliveryCount {
			if err := b.flush(); err != nil {
				return err
			}
			cur = p
			count := p.DeliveryCount
			if count > math.MaxInt64 {
				count = math.MaxInt64
			}
			b.hnum.reset()
			b.begin(false,
				[][]byte{cmdXCLAIM, b.dst, g.Name, p.Consumer, cmdZero},
				[][]byte{cmdTIME, b.hnum.int(p.DeliveryTime), cmdRETRYCOUNT, b.hnum.uint(count), cmdFORCE, cmdJUSTID})
		}
		b.scratch = appendStreamID(b.scratch[:0], p.ID)
		if err := b.numItem(nil); err != nil {
			return err
		}
	}
	return b.flush()
}
