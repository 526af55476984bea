package rdb

import "strconv"

// Type is the object type of a key's value as stored in an RDB file: the
// type byte that precedes the key, which also names the value's encoding.
//
// Redis and Valkey gave the bytes 22 and above different meanings once their
// formats parted (Redis RDB 12, Valkey RDB 80). Types that exist only in
// Valkey's numbering have constants of their own above 0xFF (TypeValkeyHash2);
// Byte returns the byte written for them.
type Type uint16

// Object types. The comment names the RDB version that introduced each.
const (
	TypeString              Type = 0  // RDB 1: a string
	TypeList                Type = 1  // RDB 1: linked list of strings
	TypeSet                 Type = 2  // RDB 1: hashtable set
	TypeZSet                Type = 3  // RDB 1: sorted set, scores as text
	TypeHash                Type = 4  // RDB 1: hashtable hash
	TypeZSet2               Type = 5  // RDB 8: sorted set, binary double scores
	TypeModulePreGA         Type = 6  // RDB 8: module value of Redis 4.0 RCs (refused by servers)
	TypeModule2             Type = 7  // RDB 8: module value
	TypeHashZipmap          Type = 9  // RDB 2: zipmap hash
	TypeListZiplist         Type = 10 // RDB 2: ziplist list
	TypeSetIntset           Type = 11 // RDB 2: intset
	TypeZSetZiplist         Type = 12 // RDB 2: ziplist sorted set
	TypeHashZiplist         Type = 13 // RDB 4: ziplist hash
	TypeListQuicklist       Type = 14 // RDB 7: quicklist of ziplists
	TypeStreamListpacks     Type = 15 // RDB 9: stream
	TypeHashListpack        Type = 16 // RDB 10: listpack hash
	TypeZSetListpack        Type = 17 // RDB 10: listpack sorted set
	TypeListQuicklist2      Type = 18 // RDB 10: quicklist of listpacks and plain nodes
	TypeStreamListpacks2    Type = 19 // RDB 10: stream with first/max-deleted id, entries-added
	TypeSetListpack         Type = 20 // RDB 11: listpack set
	TypeStreamListpacks3    Type = 21 // RDB 11: stream with consumer active-time
	TypeHashMetadataPreGA   Type = 22 // RDB 12 (Redis 7.4 RCs): hash with field TTLs
	TypeHashListpackExPreGA Type = 23 // RDB 12 (Redis 7.4 RCs): listpack hash with field TTLs
	TypeHashMetadata        Type = 24 // RDB 12: hashtable hash with field TTLs
	TypeHashListpackEx      Type = 25 // RDB 12: listpack hash with field TTLs
	TypeStreamListpacks4    Type = 26 // RDB 13: stream with IDMP data
	TypeKeyDBCron           Type = 64 // KeyDB: KEYDB.CRON job

	// TypeValkeyHash2 is Valkey's hash with field expiration (byte 22 in
	// files of RDB version 80 and above).
	TypeValkeyHash2 Type = valkeyType | 22
)

// valkeyType marks a Type from Valkey's own numbering (RDB 80+).
const valkeyType Type = 0x100

// Byte returns the type byte written in a file or DUMP payload.
func (t Type) Byte() byte { return byte(t) }

// typeFromByte maps a type byte read from a file of the given version to a Type.
func typeFromByte(b byte, version int) Type {
	if version >= ValkeyMinVersion && b >= 22 && b <= 23 {
		return valkeyType | Type(b)
	}
	return Type(b)
}

// Kind is the Redis data type a value holds, whatever its encoding.
type Kind uint8

// Kinds of values.
const (
	KindUnknown Kind = iota
	KindString
	KindList
	KindSet
	KindZSet
	KindHash
	KindStream
	KindModule
	KindCron // KeyDB's KEYDB.CRON
)

var kindNames = [...]string{"unknown", "string", "list", "set", "zset", "hash", "stream", "module", "cron"}

// String returns the name Redis' TYPE command uses ("string", "list", …),
// "cron" for KeyDB cron jobs and "unknown" otherwise.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// Kind returns the data type held by values of type t.
func (t Type) Kind() Kind {
	switch t {
	case TypeString:
		return KindString
	case TypeList, TypeListZiplist, TypeListQuicklist, TypeListQuicklist2:
		return KindList
	case TypeSet, TypeSetIntset, TypeSetListpack:
		return KindSet
	case TypeZSet, TypeZSet2, TypeZSetZiplist, TypeZSetListpack:
		return KindZSet
	case TypeHash, TypeHashZipmap, TypeHashZiplist, TypeHashListpack,
		TypeHashMetadataPreGA, TypeHashListpackExPreGA, TypeHashMetadata, TypeHashListpackEx,
		TypeValkeyHash2:
		return KindHash
	case TypeStreamListpacks, TypeStreamListpacks2, TypeStreamListpacks3, TypeStreamListpacks4:
		return KindStream
	case TypeModulePreGA, TypeModule2:
		return KindModule
	case TypeKeyDBCron:
		return KindCron
	}
	return KindUnknown
}

var typeNames = map[Type]string{
	TypeString: "string", TypeList: "list", TypeSet: "set", TypeZSet: "zset", TypeHash: "hash",
	TypeZSet2: "zset2", TypeModulePreGA: "module-pre-ga", TypeModule2: "module2",
	TypeHashZipmap: "hash-zipmap", TypeListZiplist: "list-ziplist", TypeSetIntset: "set-intset",
	TypeZSetZiplist: "zset-ziplist", TypeHashZiplist: "hash-ziplist", TypeListQuicklist: "list-quicklist",
	TypeStreamListpacks: "stream-listpacks", TypeHashListpack: "hash-listpack",
	TypeZSetListpack: "zset-listpack", TypeListQuicklist2: "list-quicklist2",
	TypeStreamListpacks2: "stream-listpacks2", TypeSetListpack: "set-listpack",
	TypeStreamListpacks3: "stream-listpacks3", TypeHashMetadataPreGA: "hash-metadata-pre-ga",
	TypeHashListpackExPreGA: "hash-listpack-ex-pre-ga", TypeHashMetadata: "hash-metadata",
	TypeHashListpackEx: "hash-listpack-ex", TypeStreamListpacks4: "stream-listpacks4",
	TypeKeyDBCron: "keydb-cron", TypeValkeyHash2: "valkey-hash2",
}

// String returns the encoding's name, e.g. "hash-listpack", or "type(N)".
func (t Type) String() string {
	if n, ok := typeNames[t]; ok {
		return n
	}
	return "type(" + strconv.Itoa(int(t)) + ")"
}

// MinVersion returns the first RDB version that can hold values of type t
// (for Valkey's types, the first Valkey version number), or 0 if t is unknown.
func (t Type) MinVersion() int {
	switch t {
	case TypeString, TypeList, TypeSet, TypeZSet, TypeHash:
		return 1
	case TypeHashZipmap, TypeListZiplist, TypeSetIntset, TypeZSetZiplist:
		return 2
	case TypeHashZiplist:
		return 4
	case TypeListQuicklist:
		return 7
	case TypeZSet2, TypeModulePreGA, TypeModule2:
		return 8
	case TypeStreamListpacks, TypeKeyDBCron:
		return 9
	case TypeHashListpack, TypeZSetListpack, TypeListQuicklist2, TypeStreamListpacks2:
		return 10
	case TypeSetListpack, TypeStreamListpacks3:
		return 11
	case TypeHashMetadataPreGA, TypeHashListpackExPreGA, TypeHashMetadata, TypeHashListpackEx:
		return 12
	case TypeStreamListpacks4:
		return 13
	case TypeValkeyHash2:
		return 80
	}
	return 0
}

// Opcodes: bytes in a record position that are not an object type.
const (
	opValkeyUpdate  = 0xF2 // Valkey RDB 81: inline replication command (forkless save)
	opKeyMeta       = 0xF3 // Redis RDB 13: key metadata; Valkey RDB 80: slot import
	opSlotInfo      = 0xF4 // Redis RDB 12: slot info (cluster mode)
	opFunction2     = 0xF5 // RDB 10: function library
	opFunctionPreGA = 0xF6 // RDB 10 (7.0 RCs): function
	opModuleAux     = 0xF7 // RDB 9: module auxiliary data
	opIdle          = 0xF8 // RDB 9: LRU idle time
	opFreq          = 0xF9 // RDB 9: LFU frequency
	opAux           = 0xFA // RDB 7: aux field
	opResizeDB      = 0xFB // RDB 7: hash table sizes
	opExpireTimeMs  = 0xFC // RDB 3: expire time in ms
	opExpireTime    = 0xFD // RDB 1: expire time in seconds
	opSelectDB      = 0xFE // RDB 1: select db
	opEOF           = 0xFF // RDB 1: end of file
)

// Versions.
const (
	// MaxRedisVersion is the newest Redis RDB version the Reader understands.
	MaxRedisVersion = 13
	// ValkeyMinVersion is the first version of Valkey's own numbering
	// (Valkey 9.0, written with the "VALKEY" magic).
	ValkeyMinVersion = 80
	// MaxValkeyVersion is the newest Valkey RDB version the Reader understands.
	MaxValkeyVersion = 80
	// checksumMinVersion is the first version with a CRC-64 after EOF.
	checksumMinVersion = 5
)

// Flavor is the server family that wrote a snapshot.
type Flavor uint8

// Flavors.
const (
	FlavorRedis Flavor = iota
	FlavorValkey
	FlavorKeyDB
)

func (f Flavor) String() string {
	switch f {
	case FlavorValkey:
		return "valkey"
	case FlavorKeyDB:
		return "keydb"
	}
	return "redis"
}

// Stream listpack node container types of LIST_QUICKLIST_2.
const (
	quicklistNodePlain  = 1
	quicklistNodePacked = 2
)

// Module ids: the name is 9 characters of 64 symbols (6 bits each), followed
// by a 10-bit encoding version.
const moduleIDCharset = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// ModuleName returns the 9-character module type name encoded in a module id
// and its 10-bit encoding version.
func ModuleName(id uint64) (name string, encVersion int) {
	var b [9]byte
	for i := 8; i >= 0; i-- {
		b[i] = moduleIDCharset[(id>>(10+6*(8-i)))&63]
	}
	return string(b[:]), int(id & 1023)
}
