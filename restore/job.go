package restore

import (
	"bytes"
	"errors"
	"fmt"
	"hash/maphash"
	"math/bits"
	"strconv"
	"strings"
	"time"

	"github.com/rdbferry/rdbferry/internal/keyslot"
	"github.com/rdbferry/rdbferry/internal/resp"
	"github.com/rdbferry/rdbferry/rdb"
)

// job is one key's commands: a RESTORE, or the command path's sequence.
// Its commands are built once and kept until the key is acknowledged, so a
// retry, a redirection or a reconnection can send them again; a job is
// always sent, and retried, as a whole (the command path starts by deleting
// its temporary key, so a rerun converges).
type job struct {
	db   int
	key  []byte
	slot int
	hash uint32

	cmd  []byte // the RESP commands, back to back
	ends []int  // end offset of each command in cmd
	size int64

	viaCommands   bool
	memberExpires int // KeyDB member expirations sent after the value
	renameIdx     int // command path: index of the RENAME/RENAMENX reply, or -1
	conv          convCounts
	pendingLost   int

	// Per attempt.
	askAddr  string // send to this node with ASKING (an ASK redirection)
	asking   bool   // this attempt prefixes each command with ASKING
	replies  int    // replies received
	firstErr *resp.ServerError
	errIdx   int
	renamed  int64 // the RENAMENX reply

	attempts int // retries for retryable replies
	redirs   int // MOVED/ASK redirections
	sent     int // times written to a connection
	node     string
}

// convCounts is what succeed counts of a key's rdb.Conversion. The job
// keeps only these, not the Conversion: its Raw points into the rdb.Reader's
// buffer, which the next key overwrites.
type convCounts struct {
	reencoded, streamMetaDropped, metaDropped             bool
	fieldTTLsDropped, memberExpStripped, memberExpConvert int
}

// selectJob is a SELECT the sender put before a job.
var selectJob = &job{renameIdx: -1}

var hashSeed = maphash.MakeSeed()

// expected returns how many replies the current attempt needs.
func (j *job) expected() int {
	if j.asking {
		return 2 * len(j.ends)
	}
	return len(j.ends)
}

// prepare turns a key into a job, or returns nil when there is nothing to
// send. Errors are per-key failures.
func (w *Writer) prepare(k *rdb.Key, db int) (*job, error) {
	c, err := rdb.Convert(k, w.info.Target, w.opts.Convert, nil)
	if err != nil {
		return nil, err
	}
	j := &job{db: db, key: clone(k.Key), renameIdx: -1, conv: convCounts{
		reencoded: c.Reencoded, streamMetaDropped: c.StreamMetaDropped, metaDropped: c.MetaDropped,
		fieldTTLsDropped: c.FieldTTLsDropped, memberExpStripped: c.MemberExpiresStripped, memberExpConvert: c.MemberExpiresConverted,
	}}
	j.slot = keyslot.Slot(k.Key)
	j.hash = uint32(maphash.Bytes(hashSeed, k.Key))
	payloadLen := int64(len(c.Meta)) + int64(rdb.DumpPayloadLen(c.Raw))
	if len(c.Meta) > 0 {
		payloadLen++
	}
	if w.opts.CommandPath == CommandPathAlways || payloadLen > w.info.ProtoMaxBulkLen {
		if err := w.buildCommands(j, k, c); err != nil {
			return nil, err
		}
	} else {
		w.buildRestore(j, k, c)
	}
	w.addMemberExpires(j, k, c)
	j.size = int64(len(j.cmd))
	return j, nil
}

// addMemberExpires sends KeyDB member expirations to a KeyDB target (the
// only one rdb.Convert leaves them for) after the key's value, with
// PEXPIREMEMBERAT. Only when the key is replaced: otherwise a refused
// RESTORE would leave them to apply to the key the target already had, so
// they are counted as stripped instead.
func (w *Writer) addMemberExpires(j *job, k *rdb.Key, c rdb.Conversion) {
	if len(c.MemberExpires) == 0 {
		return
	}
	if w.opts.Existing != ExistingReplace {
		j.conv.memberExpStripped += len(c.MemberExpires)
		return
	}
	var num [20]byte
	for _, m := range c.MemberExpires {
		j.cmd = resp.AppendCommand(j.cmd, []byte("PEXPIREMEMBERAT"), k.Key, m.Member, strconv.AppendInt(num[:0], m.ExpireAt, 10))
		j.ends = append(j.ends, len(j.cmd))
	}
	j.memberExpires = len(c.MemberExpires)
}

// serverAtLeast reports whether the target's release is at least major.minor.
func (w *Writer) serverAtLeast(major, minor int) bool {
	if w.info.Flavor == rdb.FlavorValkey {
		return true // every Valkey release has what Redis 7.2 has
	}
	ma, mi, ok := w.targetRelease()
	if !ok {
		return false
	}
	return ma > major || ma == major && mi >= minor
}

// targetRelease returns the major and minor numbers of the target's release,
// parsed once (serverAtLeast runs for every key).
func (w *Writer) targetRelease() (major, minor int, ok bool) {
	w.releaseOnce.Do(func() {
		parts := strings.SplitN(w.info.Version, ".", 3)
		if len(parts) < 2 {
			return
		}
		w.relMajor, _ = strconv.Atoi(parts[0])
		w.relMinor, _ = strconv.Atoi(parts[1])
		w.relOK = true
	})
	return w.relMajor, w.relMinor, w.relOK
}

// The fixed arguments of RESTORE, shared rather than converted per key.
var (
	argRestore  = []byte("RESTORE")
	argReplace  = []byte("REPLACE")
	argAbsTTL   = []byte("ABSTTL")
	argIdleTime = []byte("IDLETIME")
	argFreq     = []byte("FREQ")
)

// buildRestore builds RESTORE key ttl payload [REPLACE] [ABSTTL] [IDLETIME s|FREQ f].
func (w *Writer) buildRestore(j *job, k *rdb.Key, c rdb.Conversion) {
	modern := w.serverAtLeast(5, 0) // ABSTTL, IDLETIME, FREQ
	replace := w.opts.Existing == ExistingReplace
	if replace && !w.serverAtLeast(3, 0) {
		// Redis 2.6/2.8 have no REPLACE: delete first.
		j.addCommand(resp.AppendCommand(nil, []byte("DEL"), k.Key))
		replace = false
	}
	var ttl int64
	if k.ExpireAt != 0 {
		if modern {
			ttl = k.ExpireAt
		} else if ttl = k.ExpireAt - w.now().UnixMilli(); ttl < 1 {
			ttl = 1
		}
	}
	nargs := 4
	var optsBuf [3][]byte
	opts := optsBuf[:0]
	var lruArg []byte // IDLETIME or FREQ, followed by lruValue
	var lruValue int64
	if replace {
		opts = append(opts, argReplace)
	}
	if k.ExpireAt != 0 && modern {
		opts = append(opts, argAbsTTL)
	}
	if w.opts.KeepLRU && modern {
		if k.Idle >= 0 {
			lruArg, lruValue = argIdleTime, k.Idle
		} else if k.Freq >= 0 {
			lruArg, lruValue = argFreq, int64(k.Freq)
		}
	}
	nargs += len(opts)
	if lruArg != nil {
		nargs += 2
	}
	version := w.info.Target.Version
	var meta []byte
	if len(c.Meta) > 0 {
		meta = append([]byte{0xF3}, c.Meta...)
	}
	footer := rdb.DumpFooterWithMeta(meta, c.Type, c.Raw, version)
	plen := len(meta) + 1 + len(c.Raw) + len(footer)
	// The whole command, so that the payload is copied once: the array
	// header, RESTORE, the key's and the payload's headers and the TTL
	// take at most 80 bytes, each option its length plus 8.
	size := len(k.Key) + plen + 80
	for _, o := range opts {
		size += len(o) + 8
	}
	if lruArg != nil {
		size += len(lruArg) + 8 + 28
	}
	b := w.buffer(size)
	b = appendHeader(b, '*', int64(nargs))
	b = appendBulk(b, argRestore)
	b = appendBulk(b, k.Key)
	var num [20]byte
	b = appendBulk(b, strconv.AppendInt(num[:0], ttl, 10))
	b = appendHeader(b, '$', int64(plen))
	b = append(b, meta...)
	b = append(b, c.Type.Byte())
	b = append(b, c.Raw...)
	b = append(b, footer[:]...)
	b = append(b, '\r', '\n')
	for _, o := range opts {
		b = appendBulk(b, o)
	}
	if lruArg != nil {
		b = appendBulk(b, lruArg)
		b = appendBulk(b, strconv.AppendInt(num[:0], lruValue, 10))
	}
	j.addCommand(b)
}

// buildCommands builds the command path: the value rebuilt with plain
// commands under a temporary key renamed over the real one.
func (w *Writer) buildCommands(j *job, k *rdb.Key, c rdb.Conversion) error {
	v, err := rdb.DecodeValue(c.Type, c.Raw, w.info.Target.Version)
	if err != nil {
		return err
	}
	if s, ok := v.(*rdb.Stream); ok {
		j.pendingLost = unrestorablePending(s)
	}
	o := commandOptions{
		MaxBatchArgs:  w.opts.BatchArgs,
		MaxBatchBytes: w.opts.BatchBytes,
		MaxBulk:       w.info.ProtoMaxBulkLen,
		Replace:       w.opts.Existing == ExistingReplace,
		FieldTTLs:     w.info.Target.HasFieldTTLs() && w.info.Flavor == rdb.FlavorRedis,
		StreamV7:      w.serverAtLeast(7, 0),
	}
	tmp, ok := tempKey(k.Key)
	if !ok {
		tmp = nil
	}
	var last []byte
	err = valueCommands(k.Key, tmp, v, k.ExpireAt, o, func(args [][]byte) error {
		j.cmd = resp.AppendCommand(j.cmd, args...)
		j.ends = append(j.ends, len(j.cmd))
		last = args[0]
		return nil
	})
	if err != nil {
		return err
	}
	j.viaCommands = true
	if tmp != nil && !o.Replace && strings.EqualFold(string(last), "RENAMENX") {
		j.renameIdx = len(j.ends) - 1
		// If RENAMENX refuses (the key exists), drop the temporary key.
		j.addCommand(resp.AppendCommand(nil, []byte("DEL"), tmp))
	}
	return nil
}

func (j *job) addCommand(cmd []byte) {
	if j.cmd == nil {
		j.cmd = cmd // the usual single command: no copy
	} else {
		j.cmd = append(j.cmd, cmd...)
	}
	j.ends = append(j.ends, len(j.cmd))
}

// command returns the i-th command of the job.
func (j *job) command(i int) []byte {
	start := 0
	if i > 0 {
		start = j.ends[i-1]
	}
	return j.cmd[start:j.ends[i]]
}

// reset prepares the job for another attempt.
func (j *job) reset() {
	j.replies, j.firstErr, j.errIdx, j.renamed, j.asking = 0, nil, 0, 0, false
}

// onReply takes one reply of the current attempt and reports whether the
// attempt is complete.
func (j *job) onReply(x resp.Reply) bool {
	i := j.replies
	j.replies++
	if j.asking {
		if i%2 == 0 {
			return false // ASKING's +OK
		}
		i /= 2
	}
	if e := serverError(x); e != nil {
		if j.firstErr == nil {
			j.firstErr, j.errIdx = e, i
		}
	} else if i == j.renameIdx && x.Kind == resp.Int {
		j.renamed = x.Int
	}
	return j.replies == j.expected()
}

// retryable reports server errors worth retrying after a pause.
func retryable(code string) bool {
	switch code {
	case "LOADING", "BUSY", "TRYAGAIN", "CLUSTERDOWN", "OOM", "MASTERDOWN":
		return true
	}
	return false
}

// finish decides the outcome of a job whose attempt is complete.
func (w *Writer) finish(j *job) {
	if j == selectJob {
		return
	}
	e := j.firstErr
	if e == nil {
		if j.renameIdx >= 0 && j.renamed == 0 {
			w.existing(j, "RENAMENX: the key exists")
			return
		}
		w.succeed(j)
		return
	}
	switch code := e.Code(); {
	case code == "BUSYKEY":
		if j.sent > 1 && j.attempts == 0 && j.redirs == 0 {
			// Sent again after a reconnection: the first send may have
			// landed. RESTORE of the same bytes is what it wrote.
			w.succeed(j)
			return
		}
		w.existing(j, e.Msg)
	case code == "MOVED" || code == "ASK":
		var slot int
		var addr string
		var ok bool
		if code == "MOVED" {
			slot, addr, ok = e.Moved()
		} else {
			slot, addr, ok = e.Ask()
		}
		if !ok || j.redirs >= 16 {
			w.fail(j, Failure{DB: j.db, Key: j.key, Node: j.node, Reply: e.Msg, Err: fmt.Errorf("redirection: %w", e)})
			return
		}
		j.redirs++
		w.stats.retries.Add(1)
		j.askAddr = ""
		if code == "ASK" {
			j.askAddr = addr
		} else {
			w.mu.Lock()
			if slot >= 0 && slot < keyslot.NumSlots {
				w.slots[slot] = w.nodeLocked(addr)
			}
			w.mu.Unlock()
			go w.refreshSlots()
		}
		j.reset()
		w.route(j)
	case retryable(code) && j.attempts < w.opts.MaxRetries:
		j.attempts++
		w.stats.retries.Add(1)
		j.reset()
		delay := w.opts.RetryBackoff << (j.attempts - 1)
		if delay > 2*time.Second || delay <= 0 {
			delay = 2 * time.Second
		}
		w.retryLater(j, delay)
	default:
		var err error = e
		if retryable(code) {
			err = fmt.Errorf("%w (after %d attempts)", e, j.attempts+1)
		}
		if len(j.ends) > 1 { // the command path: say which command failed
			err = fmt.Errorf("command %d of %d (%s): %w", j.errIdx+1, len(j.ends), commandName(j.command(j.errIdx)), err)
		}
		w.fail(j, Failure{DB: j.db, Key: j.key, Node: j.node, Reply: e.Msg, Err: err})
	}
}

// commandName returns the name of a RESP command: "*N\r\n$L\r\nNAME\r\n…".
func commandName(cmd []byte) string {
	for skip := 2; skip > 0; skip-- { // the array header, the name's length
		i := bytes.IndexByte(cmd, '\n')
		if i < 0 {
			return "?"
		}
		cmd = cmd[i+1:]
	}
	if i := bytes.IndexByte(cmd, '\r'); i >= 0 {
		return string(cmd[:i])
	}
	return "?"
}

// existing handles a key the target already has.
func (w *Writer) existing(j *job, reply string) {
	if w.opts.Existing == ExistingSkip {
		w.stats.skippedExisting.Add(1)
		w.release(j)
		return
	}
	w.fail(j, Failure{DB: j.db, Key: j.key, Node: j.node, Reply: reply, Err: errors.New("the target already has the key: " + reply)})
}

func (w *Writer) succeed(j *job) {
	s := &w.stats
	s.written.Add(1)
	if j.conv.reencoded {
		s.converted.Add(1)
	}
	if j.viaCommands {
		s.viaCommands.Add(1)
	}
	s.fieldTTLs.Add(int64(j.conv.fieldTTLsDropped))
	s.mxStripped.Add(int64(j.conv.memberExpStripped))
	s.mxConverted.Add(int64(j.conv.memberExpConvert))
	if j.conv.streamMetaDropped {
		s.streamMeta.Add(1)
	}
	if j.conv.metaDropped {
		s.metaDropped.Add(1)
	}
	s.pendingLost.Add(int64(j.pendingLost))
	s.mxWritten.Add(int64(j.memberExpires))
	w.release(j)
	w.recycle(j)
}

// Command buffers of up to maxRecycled bytes are reused for later keys,
// in power-of-two size classes (Writer.bufs[c] holds buffers of capacity
// 1<<c), so that a buffer is at most twice the command it carries.
const (
	minRecycledShift = 6
	maxRecycledShift = 16
	maxRecycled      = 1 << maxRecycledShift
)

// buffer returns an empty buffer of capacity at least n for a command.
func (w *Writer) buffer(n int) []byte {
	if n > maxRecycled {
		return make([]byte, 0, n)
	}
	c := max(bits.Len(uint(n-1)), minRecycledShift)
	if b, ok := w.bufs[c].Get().(*[]byte); ok {
		return (*b)[:0]
	}
	return make([]byte, 0, 1<<c)
}

// recycle keeps the command buffer of an acknowledged job for later keys.
// Only an acknowledged job's: the server answered its last command, so it
// had every byte of the buffer and no sender still reads it.
func (w *Writer) recycle(j *job) {
	c := bits.Len(uint(cap(j.cmd))) - 1
	if len(j.ends) != 1 || c < minRecycledShift || c > maxRecycledShift || cap(j.cmd) != 1<<c {
		return
	}
	b := j.cmd[:0]
	j.cmd = nil
	w.bufs[c].Put(&b)
}

func appendHeader(dst []byte, c byte, n int64) []byte {
	dst = append(dst, c)
	dst = strconv.AppendInt(dst, n, 10)
	return append(dst, '\r', '\n')
}

func appendBulk(dst, p []byte) []byte {
	dst = appendHeader(dst, '$', int64(len(p)))
	dst = append(dst, p...)
	return append(dst, '\r', '\n')
}
