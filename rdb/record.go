package rdb

// Record is one record of an RDB file, as returned by Reader.Next: *Key,
// *Aux, *SelectDB, *ResizeDB, *SlotInfo, *SlotImport, *Function or
// *ModuleAux.
type Record interface {
	// Offset returns the byte offset in the input where the record starts.
	Offset() int64
	isRecord()
}

type recordBase struct{ offset int64 }

func (b *recordBase) Offset() int64 { return b.offset }
func (*recordBase) isRecord()       {}

// Aux is a file-level auxiliary field (opcode 0xFA), such as "redis-ver" or
// "ctime". KeyDB's key-scoped aux fields ("mvcc-tstamp",
// "keydb-subexpire-key"/"-when") are not returned as Aux records: they are
// attached to their Key.
type Aux struct {
	recordBase
	Key   string
	Value string
}

// SelectDB starts the keys of a database (opcode 0xFE).
type SelectDB struct {
	recordBase
	DB int
}

// ResizeDB is the size hint that follows SelectDB (opcode 0xFB, RDB 7+).
// Both numbers are hints: KeyDB counts member-only expires in Expires.
type ResizeDB struct {
	recordBase
	Keys    uint64
	Expires uint64
}

// SlotInfo precedes the keys of a cluster slot in files written by Redis 7.4+
// in cluster mode (opcode 0xF4).
type SlotInfo struct {
	recordBase
	Slot    int
	Keys    uint64
	Expires uint64
}

// Function is a function library (opcode 0xF5, Redis 7.0+). Code is the
// library source including its "#!lua name=…" line. Libraries saved by
// Redis 7.0 release candidates (opcode 0xF6) have PreGA set and carry Name,
// Engine and Description; servers since 7.2 refuse them.
type Function struct {
	recordBase
	Code        string
	PreGA       bool
	Name        string
	Engine      string
	Description string
}

// ModuleAux is auxiliary data saved by a module (opcode 0xF7). Raw holds the
// module's opaque body (the opcode-tagged values up to and including the
// end marker), valid until the next call to Next.
type ModuleAux struct {
	recordBase
	ModuleID uint64
	When     uint64 // 1: saved before the keyspace, 2: after
	Raw      []byte
}

// ModuleName returns the module's 9-character type name and encoding version.
func (m *ModuleAux) ModuleName() (string, int) { return ModuleName(m.ModuleID) }

// SlotImport is a slot import in progress on a Valkey 9 cluster node
// (opcode 0xF3 in files with the VALKEY magic).
type SlotImport struct {
	recordBase
	JobName string
	Ranges  [][2]int // first and last slot of each range
}

// MemberExpire is the expiration of one member of a set, hash or sorted set,
// set by KeyDB's EXPIREMEMBER family of commands.
type MemberExpire struct {
	Member   []byte
	ExpireAt int64 // unix time in milliseconds
}

// Key is one key and its value.
//
// The Reader reuses the Key it returns, and Key, Raw and the members of
// MemberExpires point into the Reader's buffer: all are valid only until the
// next call to Next. Use Clone to keep a key longer.
type Key struct {
	recordBase

	// DB is the database the key belongs to (from the last SelectDB).
	DB int
	// Key is the key name.
	Key []byte
	// Type is the value's type and encoding.
	Type Type
	// ExpireAt is the absolute expiration in unix milliseconds, or 0 when
	// the key does not expire. Expirations stored in seconds (RDB 1–2) are
	// converted, and read as unsigned: Redis 2.x wrapped dates after 2038.
	ExpireAt int64
	// Idle is the LRU idle time in seconds, or -1 when the file has none.
	Idle int64
	// Freq is the LFU counter, or -1 when the file has none.
	Freq int
	// Raw is the serialized value exactly as in the file (without the type
	// byte): what a DUMP payload of this key holds before its footer.
	Raw []byte
	// MemberExpires holds KeyDB member expirations that followed the key,
	// in file order. They may name members the value no longer holds.
	MemberExpires []MemberExpire
	// MVCC is KeyDB's MVCC timestamp (aux "mvcc-tstamp"), or 0.
	MVCC uint64
	// Meta holds the key metadata of Redis RDB 13 (opcode 0xF3) as stored:
	// the class count and each class's 4-byte spec and module-encoded value.
	// It is nil when the key has none.
	Meta []byte
	// Version is the RDB version of the file the key was read from; it tells
	// how Raw is encoded.
	Version int

	rawOffset int64 // input offset of Raw
}

// Clone returns a deep copy of k that stays valid after the next Next.
func (k *Key) Clone() *Key {
	c := *k
	c.Key = append([]byte(nil), k.Key...)
	c.Raw = append([]byte(nil), k.Raw...)
	if k.Meta != nil {
		c.Meta = append([]byte(nil), k.Meta...)
	}
	if k.MemberExpires != nil {
		c.MemberExpires = make([]MemberExpire, len(k.MemberExpires))
		for i, m := range k.MemberExpires {
			c.MemberExpires[i] = MemberExpire{Member: append([]byte(nil), m.Member...), ExpireAt: m.ExpireAt}
		}
	}
	return &c
}
