// Package rdb reads and writes Redis RDB snapshots: the files written by
// SAVE and BGSAVE, and the DUMP payloads RESTORE takes, of Redis (RDB
// versions 1–13, Redis 2.2 to 8.6), Valkey (its own versions from 80, written
// with the "VALKEY" magic) and KeyDB (RDB 9 with member expirations, MVCC
// timestamps and cron jobs).
//
// # Reading
//
// A Reader streams a snapshot from any io.Reader. Next returns one record at
// a time — *Key, *Aux, *SelectDB, *ResizeDB, *SlotInfo, *SlotImport,
// *Function, *ModuleAux — and io.EOF once the end marker has been read and
// the trailing CRC-64 verified. Reading does not decode values: a *Key
// carries its value's bytes exactly as stored (Key.Raw), and Key.Value
// decodes them on demand into String, List, Set, ZSet, Hash, *Stream,
// *Module or *Cron. Memory use is bounded by the largest record plus a
// buffer, whatever the size of the snapshot. A Decoder decodes values into
// memory it reuses from key to key, for programs that look at each value
// once: it leaves the garbage collector almost nothing to do.
//
// Buffers are owned by the Reader, as with bufio.Scanner: the *Key returned
// by Next, its Key, Raw, Meta and MemberExpires, and values decoded from it
// are valid only until the next call to Next (and a Decoder's values only
// until its next Decode). Key.Clone makes a copy that stays valid.
//
// KeyDB writes member expirations (EXPIREMEMBER) as aux fields after a key;
// the Reader attaches them to the key (Key.MemberExpires) instead of
// returning them as records. Redis 8.6 key metadata is kept raw in Key.Meta.
//
// # Errors
//
// Malformed input never panics, never hangs and never makes the Reader
// allocate more than the input backs. Errors are *FormatError values naming
// the byte offset and, inside a key, the key; truncated input wraps
// io.ErrUnexpectedEOF, a checksum mismatch ErrChecksum, and a version, type
// or opcode this package does not know ErrUnsupported.
//
// # Writing and converting
//
// A Writer writes an RDB file of a chosen version, record by record, and
// refuses a value the version cannot hold rather than dropping it. Convert
// prepares a key for a Target — a server flavor and the newest RDB version it
// reads (TargetFor maps a release such as "7.0.15" to one): raw bytes pass
// through when the target reads their encoding, and are otherwise re-encoded
// into the newest encoding it reads, as that server would have written them.
// What a target cannot hold (hash field TTLs before Redis 7.4, KeyDB member
// expirations, stream metadata of newer layouts, key metadata) is dropped
// and counted in the Conversion, or fails the key, by policy.
//
// # DUMP payloads
//
// AppendDumpPayload frames a value as RESTORE's argument — the type byte,
// the value, the RDB version (two bytes, little-endian) and a CRC-64 over
// them; DumpFooter computes the footer without copying the value; and
// ParseDumpPayload verifies and splits a payload. RESTORE refuses payloads
// of versions newer than the server's, so payloads for a target are framed
// with its version.
package rdb
