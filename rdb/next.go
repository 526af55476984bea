package rdb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
)

// Next returns the next record. The returned record, and any byte slices in
// it, are valid only until the next call to Next. At the end of the input
// Next returns io.EOF; any other error is a *FormatError or an error of the
// underlying reader, wrapped with the offset where it happened.
func (r *Reader) Next() (Record, error) {
	if r.err != nil {
		return nil, r.err
	}
	rec, err := r.next()
	if err != nil {
		r.err = err
		return nil, err
	}
	return rec, nil
}

// fail wraps err with the offset (and key) where it happened, unless it is
// already a *FormatError.
func fail(off int64, key []byte, err error) error {
	var fe *FormatError
	if errors.As(err, &fe) {
		return err
	}
	if key != nil {
		key = append([]byte(nil), key...)
	}
	return &FormatError{Offset: off, Key: key, Err: err}
}

func (r *Reader) readHeader() error {
	if err := r.fill(9); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return fail(0, nil, fmt.Errorf("not an RDB file: %d bytes, shorter than a header: %w", r.w, err))
		}
		return fail(0, nil, fmt.Errorf("reading header: %w", err))
	}
	b := r.buf[:9]
	digits := func(d []byte) (int, bool) {
		v := 0
		for _, c := range d {
			if c < '0' || c > '9' {
				return 0, false
			}
			v = v*10 + int(c-'0')
		}
		return v, true
	}
	switch {
	case string(b[:5]) == "REDIS":
		v, ok := digits(b[5:9])
		if !ok || v < 1 {
			return fail(5, nil, corruptf("bad RDB version %q", b[5:9]))
		}
		if v > MaxRedisVersion {
			return fail(5, nil, unsupportedf("RDB version %d (newest known: %d)", v, MaxRedisVersion))
		}
		r.version = v
	case string(b[:6]) == "VALKEY":
		v, ok := digits(b[6:9])
		if !ok {
			return fail(6, nil, corruptf("bad Valkey RDB version %q", b[6:9]))
		}
		if v < ValkeyMinVersion {
			return fail(6, nil, corruptf("Valkey magic with RDB version %d (Valkey's own versions start at %d)", v, ValkeyMinVersion))
		}
		if v > MaxValkeyVersion {
			return fail(6, nil, unsupportedf("Valkey RDB version %d (newest known: %d)", v, MaxValkeyVersion))
		}
		r.version, r.flavor = v, FlavorValkey
	default:
		return fail(0, nil, corruptf("not an RDB file: header %q", b))
	}
	r.r = 9
	r.header = true
	return nil
}

func (r *Reader) next() (Record, error) {
	if !r.header {
		if err := r.readHeader(); err != nil {
			return nil, err
		}
	}
	// Prefix opcodes (expire, idle, freq, KeyDB's mvcc aux) belong to the
	// key that follows: the record starts at the first of them.
	r.keep = r.r
	start := r.Offset()
	k := &r.key
	k.ExpireAt, k.Idle, k.Freq = 0, -1, -1
	metaRel, metaLen := -1, 0
	prefix := false
	for {
		opOff := r.Offset()
		op, err := r.readByte()
		if err != nil {
			return nil, fail(opOff, nil, err)
		}
		if prefix && !isKeyPrefix(op) && op >= opKeyMeta && (op != opKeyMeta || r.flavor == FlavorValkey) {
			return nil, fail(opOff, nil, corruptf("opcode 0x%02x between a key's expire/idle/freq and its type byte", op))
		}
		switch op {
		case opExpireTimeMs:
			v, err := r.readUint64LE()
			if err != nil {
				return nil, fail(opOff, nil, err)
			}
			k.ExpireAt = expireMs(int64(v))
			prefix = true
		case opExpireTime:
			b, err := r.readN(4)
			if err != nil {
				return nil, fail(opOff, nil, err)
			}
			// Read as unsigned: Redis 2.x stored dates after 2038 wrapped
			// (and would drop such keys as long expired on load).
			k.ExpireAt = expireMs(int64(binary.LittleEndian.Uint32(b)) * 1000)
			prefix = true
		case opIdle:
			v, err := r.readLength()
			if err != nil {
				return nil, fail(opOff, nil, err)
			}
			if v > math.MaxInt64 {
				return nil, fail(opOff, nil, corruptf("idle time %d out of range", v))
			}
			k.Idle = int64(v)
			prefix = true
		case opFreq:
			b, err := r.readByte()
			if err != nil {
				return nil, fail(opOff, nil, err)
			}
			k.Freq = int(b)
			prefix = true
		case opAux:
			rec, err := r.readAux(opOff)
			if err != nil {
				return nil, err
			}
			if rec != nil {
				if prefix {
					return nil, fail(opOff, nil, corruptf("aux field %q between a key's expire/idle/freq and its type byte", rec.Key))
				}
				return rec, nil
			}
			// KeyDB's mvcc-tstamp: part of the next key's record. A
			// dangling subexpire field: skipped (counted in Stats).
			if r.pendingMVCC != 0 {
				prefix = true
			} else if !prefix {
				r.keep = r.r
				start = r.Offset()
			}
		case opSelectDB:
			db, err := r.readLength()
			if err != nil {
				return nil, fail(opOff, nil, err)
			}
			if db > math.MaxInt32 {
				return nil, fail(opOff, nil, corruptf("database number %d out of range", db))
			}
			r.db = int(db)
			r.selectDB = SelectDB{recordBase{start}, r.db}
			return &r.selectDB, nil
		case opResizeDB, opSlotInfo:
			return r.readSizes(op, opOff)
		case opFunction2, opFunctionPreGA:
			return r.readFunction(op, opOff)
		case opModuleAux:
			return r.readModuleAux(opOff)
		case opKeyMeta:
			if r.version >= ValkeyMinVersion {
				return r.readSlotImport(opOff)
			}
			if metaRel >= 0 {
				return nil, fail(opOff, nil, corruptf("second key metadata block before one key"))
			}
			metaRel = r.r - r.keep
			if err := r.skipKeyMeta(); err != nil {
				return nil, fail(opOff, nil, fmt.Errorf("key metadata: %w", err))
			}
			metaLen = r.r - r.keep - metaRel
			prefix = true
		case opEOF:
			return nil, r.readEOF(opOff)
		default:
			if op >= opValkeyUpdate {
				return nil, fail(opOff, nil, unsupportedf("opcode 0x%02x in RDB version %d", op, r.version))
			}
			if metaRel >= 0 && r.r-r.keep != metaRel+metaLen+1 {
				return nil, fail(opOff, nil, corruptf("key metadata not directly before the type byte"))
			}
			rec, err := r.readKey(start, opOff, op)
			if err == nil && metaRel >= 0 {
				k.Meta = r.buf[r.keep+metaRel : r.keep+metaRel+metaLen]
			}
			return rec, err
		}
	}
}

// expireMs keeps an expire of 0 (the epoch, long past) distinct from "none".
func expireMs(ms int64) int64 {
	if ms == 0 {
		return 1
	}
	return ms
}

func isKeyPrefix(op byte) bool {
	switch op {
	case opExpireTimeMs, opExpireTime, opIdle, opFreq, opAux:
		return true
	}
	return false
}

// KeyDB's key-scoped aux fields.
const (
	auxKeyDBMVCC          = "mvcc-tstamp"
	auxKeyDBSubexpireKey  = "keydb-subexpire-key"
	auxKeyDBSubexpireWhen = "keydb-subexpire-when"
)

// readAux reads an aux field. It returns nil for KeyDB's key-scoped fields:
// mvcc-tstamp is attached to the next key, subexpire pairs that do not
// follow a key are counted and skipped.
func (r *Reader) readAux(opOff int64) (*Aux, error) {
	name, scratch, err := r.readString(r.strBuf)
	r.strBuf = scratch
	if err != nil {
		return nil, fail(opOff, nil, fmt.Errorf("aux field name: %w", err))
	}
	key := string(name)
	val, scratch, err := r.readString(r.strBuf)
	r.strBuf = scratch
	if err != nil {
		return nil, fail(opOff, nil, fmt.Errorf("aux field %q: %w", key, err))
	}
	switch {
	case key == auxKeyDBMVCC:
		v, perr := strconv.ParseUint(string(val), 10, 64)
		if perr != nil {
			return nil, fail(opOff, nil, corruptf("aux field %q: bad value %q", key, val))
		}
		r.flavor = FlavorKeyDB
		r.pendingMVCC = v
		return nil, nil
	case key == auxKeyDBSubexpireKey || key == auxKeyDBSubexpireWhen:
		r.flavor = FlavorKeyDB
		r.stats.DanglingMemberExpires++
		return nil, nil
	case key == "valkey-ver":
		r.flavor = FlavorValkey
	case key == "repl-masters" || len(key) > 6 && key[:6] == "keydb-":
		r.flavor = FlavorKeyDB
	}
	r.aux = Aux{recordBase{opOff}, key, string(val)}
	return &r.aux, nil
}

func (r *Reader) readSizes(op byte, opOff int64) (Record, error) {
	var v [3]uint64
	n := 2
	if op == opSlotInfo {
		n = 3
	}
	for i := 0; i < n; i++ {
		x, err := r.readLength()
		if err != nil {
			return nil, fail(opOff, nil, err)
		}
		v[i] = x
	}
	if op == opResizeDB {
		r.resizeDB = ResizeDB{recordBase{opOff}, v[0], v[1]}
		return &r.resizeDB, nil
	}
	if v[0] > 16383 {
		return nil, fail(opOff, nil, corruptf("slot info: slot %d out of range", v[0]))
	}
	r.slotInfo = SlotInfo{recordBase{opOff}, int(v[0]), v[1], v[2]}
	return &r.slotInfo, nil
}

func (r *Reader) readFunction(op byte, opOff int64) (Record, error) {
	f := Function{recordBase: recordBase{opOff}, PreGA: op == opFunctionPreGA}
	str := func(what string) (string, error) {
		s, scratch, err := r.readString(r.strBuf)
		r.strBuf = scratch
		if err != nil {
			return "", fail(opOff, nil, fmt.Errorf("function %s: %w", what, err))
		}
		return string(s), nil
	}
	var err error
	if f.PreGA {
		if f.Name, err = str("name"); err != nil {
			return nil, err
		}
		if f.Engine, err = str("engine"); err != nil {
			return nil, err
		}
		hasDesc, err := r.readLength()
		if err != nil {
			return nil, fail(opOff, nil, err)
		}
		if hasDesc != 0 {
			if f.Description, err = str("description"); err != nil {
				return nil, err
			}
		}
	}
	if f.Code, err = str("code"); err != nil {
		return nil, err
	}
	r.function = f
	return &r.function, nil
}

// Module opcodes inside module values and module aux data.
const (
	moduleOpEOF    = 0
	moduleOpSInt   = 1
	moduleOpUInt   = 2
	moduleOpFloat  = 3
	moduleOpDouble = 4
	moduleOpString = 5
)

// skipModuleBody walks opcode-tagged module values up to the EOF marker.
func (r *Reader) skipModuleBody() error {
	for {
		op, err := r.readLength()
		if err != nil {
			return err
		}
		switch op {
		case moduleOpEOF:
			return nil
		case moduleOpSInt, moduleOpUInt:
			_, err = r.readLength()
		case moduleOpFloat:
			err = r.skip(4)
		case moduleOpDouble:
			err = r.skip(8)
		case moduleOpString:
			err = r.skipString()
		default:
			return corruptf("unknown module value opcode %d at offset %d", op, r.Offset()-1)
		}
		if err != nil {
			return err
		}
	}
}

func (r *Reader) readModuleAux(opOff int64) (Record, error) {
	var v [3]uint64
	for i := range v {
		x, err := r.readLength()
		if err != nil {
			return nil, fail(opOff, nil, fmt.Errorf("module aux: %w", err))
		}
		v[i] = x
	}
	if v[1] != moduleOpUInt {
		return nil, fail(opOff, nil, corruptf("module aux: when opcode %d, want %d", v[1], moduleOpUInt))
	}
	body := r.r - r.keep
	if err := r.skipModuleBody(); err != nil {
		name, _ := ModuleName(v[0])
		return nil, fail(opOff, nil, fmt.Errorf("module aux of module %s: %w", name, err))
	}
	r.moduleAux = ModuleAux{recordBase{opOff}, v[0], v[2], r.buf[r.keep+body : r.r]}
	return &r.moduleAux, nil
}

// skipKeyMeta walks Redis RDB 13 key metadata: a class count, then per
// class a 4-byte class spec and a module-encoded value ending in EOF.
func (r *Reader) skipKeyMeta() error {
	n, err := r.readCount()
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		if err := r.skip(4); err != nil {
			return err
		}
		if err := r.skipModuleBody(); err != nil {
			return fmt.Errorf("class %d: %w", i, err)
		}
	}
	return nil
}

// readSlotImport reads Valkey's slot import record: a job name and slot
// ranges.
func (r *Reader) readSlotImport(opOff int64) (Record, error) {
	name, scratch, err := r.readString(r.strBuf)
	r.strBuf = scratch
	if err != nil {
		return nil, fail(opOff, nil, fmt.Errorf("slot import job name: %w", err))
	}
	rec := &SlotImport{recordBase: recordBase{opOff}, JobName: string(name)}
	n, err := r.readCount()
	if err != nil {
		return nil, fail(opOff, nil, fmt.Errorf("slot import: %w", err))
	}
	for i := 0; i < n; i++ {
		var rng [2]int
		for j := range rng {
			v, err := r.readLength()
			if err != nil {
				return nil, fail(opOff, nil, fmt.Errorf("slot import: %w", err))
			}
			if v > 16383 {
				return nil, fail(opOff, nil, corruptf("slot import: slot %d out of range", v))
			}
			rng[j] = int(v)
		}
		rec.Ranges = append(rec.Ranges, rng)
	}
	return rec, nil
}

func (r *Reader) readEOF(opOff int64) error {
	r.updateCRC(r.r)
	if r.version >= checksumMinVersion {
		b, err := r.readN(8)
		if err != nil {
			return fail(opOff, nil, fmt.Errorf("reading checksum: %w", err))
		}
		if want := binary.LittleEndian.Uint64(b); want != 0 && want != r.crc {
			return fail(opOff, nil, fmt.Errorf("%w: file says %016x, contents give %016x", ErrChecksum, want, r.crc))
		}
	}
	return io.EOF
}

// readKey reads a key record whose type byte has just been read.
func (r *Reader) readKey(start, typeOff int64, typeByte byte) (Record, error) {
	k := &r.key
	k.recordBase = recordBase{start}
	k.DB = r.db
	k.Type = typeFromByte(typeByte, r.version)
	k.Version = r.version
	k.MVCC, r.pendingMVCC = r.pendingMVCC, 0
	k.MemberExpires = k.MemberExpires[:0]
	k.Key, k.Raw, k.Meta = nil, nil, nil

	// Positions are kept relative to the start of the record (r.keep),
	// which stays put while the buffer moves; slices are made at the end.
	n, special, err := r.readLen()
	if err != nil {
		return nil, fail(typeOff, nil, fmt.Errorf("key name: %w", err))
	}
	var keyRel int // plain key: buf[keep+keyRel:][:n]
	if special {
		r.r-- // let readString see the length byte again
		var key []byte
		key, r.keyBuf, err = r.readString(r.keyBuf)
		if err != nil {
			return nil, fail(typeOff, nil, fmt.Errorf("key name: %w", err))
		}
		k.Key = key
	} else {
		if err := r.skip(n); err != nil {
			return nil, fail(typeOff, nil, fmt.Errorf("key name of %d bytes: %w", n, err))
		}
		keyRel = r.r - int(n) - r.keep
	}
	keyName := func() []byte {
		if special {
			return k.Key
		}
		return r.buf[r.keep+keyRel : r.keep+keyRel+int(n)]
	}
	valOff := r.Offset()
	valRel := r.r - r.keep
	if err := r.skipValue(k.Type); err != nil {
		return nil, fail(start, keyName(), fmt.Errorf("%v value at offset %d: %w", k.Type, valOff, err))
	}
	valEnd := r.r - r.keep
	if err := r.readMemberExpires(k); err != nil {
		return nil, fail(start, keyName(), err)
	}
	k.Key = keyName()
	k.Raw = r.buf[r.keep+valRel : r.keep+valEnd]
	k.rawOffset = valOff
	return k, nil
}

// readMemberExpires consumes the KeyDB subexpire aux pairs that follow a
// key's value and attaches them to k.
func (r *Reader) readMemberExpires(k *Key) error {
	type span struct{ off, n int }
	r.memberBuf = r.memberBuf[:0]
	var spans []span
	for {
		if r.w-r.r < 1 {
			if err := r.fill(1); err != nil {
				if errors.Is(err, io.ErrUnexpectedEOF) {
					break // end of input: the EOF record reports it
				}
				return err
			}
		}
		if r.buf[r.r] != opAux {
			break
		}
		save := r.r - r.keep
		pairOff := r.Offset()
		r.r++
		name, scratch, err := r.readString(r.strBuf)
		r.strBuf = scratch
		if err != nil {
			return fmt.Errorf("aux field after the value at offset %d: %w", pairOff, err)
		}
		if string(name) != auxKeyDBSubexpireKey {
			if string(name) == auxKeyDBSubexpireWhen {
				// A "when" without its "key": KeyDB skips it.
				if err := r.skipString(); err != nil {
					return fmt.Errorf("member expire at offset %d: %w", pairOff, err)
				}
				r.stats.DanglingMemberExpires++
				continue
			}
			r.r = r.keep + save // an ordinary aux field: the next record
			break
		}
		member, scratch, err := r.readString(r.strBuf)
		r.strBuf = scratch
		if err != nil {
			return fmt.Errorf("member expire at offset %d: member: %w", pairOff, err)
		}
		sp := span{len(r.memberBuf), len(member)}
		r.memberBuf = append(r.memberBuf, member...)
		r.flavor = FlavorKeyDB
		// The "when" field must follow.
		whenOff := r.Offset()
		op, err := r.readByte()
		if err != nil {
			return fmt.Errorf("member expire at offset %d: %w", pairOff, err)
		}
		if op != opAux {
			r.r--
			r.stats.DanglingMemberExpires++
			continue
		}
		name, scratch, err = r.readString(r.strBuf)
		r.strBuf = scratch
		if err != nil {
			return fmt.Errorf("member expire at offset %d: %w", whenOff, err)
		}
		if string(name) != auxKeyDBSubexpireWhen {
			r.r = int(whenOff - r.base) // not ours: leave it
			r.stats.DanglingMemberExpires++
			continue
		}
		when, scratch, err := r.readString(r.strBuf)
		r.strBuf = scratch
		if err != nil {
			return fmt.Errorf("member expire at offset %d: when: %w", whenOff, err)
		}
		ms, perr := strconv.ParseInt(string(when), 10, 64)
		if perr != nil {
			return fmt.Errorf("member expire at offset %d: bad time %q", whenOff, when)
		}
		spans = append(spans, span{sp.off, sp.n})
		k.MemberExpires = append(k.MemberExpires, MemberExpire{ExpireAt: ms})
	}
	for i, sp := range spans {
		k.MemberExpires[i].Member = r.memberBuf[sp.off : sp.off+sp.n : sp.off+sp.n]
	}
	return nil
}
