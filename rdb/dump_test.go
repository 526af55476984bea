package rdb

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/rdbferry/rdbferry/internal/redistest"
)

func TestCRC64KnownAnswer(t *testing.T) {
	if got := CRC64(0, []byte("123456789")); got != 0xe9c6d914c4b8d9ca {
		t.Fatalf("CRC64(123456789) = %x, want e9c6d914c4b8d9ca", got)
	}
	// Chunked updates equal one update, whatever the split.
	data := bytes.Repeat([]byte("rdbferry crc check "), 100)
	whole := CRC64(0, data)
	for split := 0; split < 40; split++ {
		if got := CRC64(CRC64(0, data[:split]), data[split:]); got != whole {
			t.Fatalf("split at %d: %x, want %x", split, got, whole)
		}
	}
}

// TestCRC64MatchesBitwise compares the table-driven CRC64 with the
// definition, one bit at a time, for every length up to 300 and every
// alignment of the 16- and 8-byte steps.
func TestCRC64MatchesBitwise(t *testing.T) {
	bitwise := func(crc uint64, p []byte) uint64 {
		for _, b := range p {
			crc ^= uint64(b)
			for i := 0; i < 8; i++ {
				if crc&1 == 1 {
					crc = crc>>1 ^ crcPoly
				} else {
					crc >>= 1
				}
			}
		}
		return crc
	}
	data := make([]byte, 300)
	for i := range data {
		data[i] = byte(i*131 + i>>3)
	}
	for n := 0; n <= len(data); n++ {
		for _, start := range []uint64{0, 0xdeadbeefcafef00d} {
			if got, want := CRC64(start, data[:n]), bitwise(start, data[:n]); got != want {
				t.Fatalf("length %d from %x: %x, want %x", n, start, got, want)
			}
		}
	}
}

// TestCRC64FoldingMatchesTables compares CRC64 (which folds long inputs
// with carry-less multiplication where the CPU has it) with the tables
// alone, for lengths around every folding boundary, unaligned starts and
// any initial value.
func TestCRC64FoldingMatchesTables(t *testing.T) {
	data := make([]byte, 5000)
	x := uint64(88172645463325252)
	for i := range data {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		data[i] = byte(x)
	}
	for n := 0; n <= 1100; n++ {
		for _, start := range []int{0, 1, 7, 13} {
			p := data[start : start+n]
			for _, crc := range []uint64{0, x, ^uint64(0)} {
				if got, want := CRC64(crc, p), crc64Tables(crc, p); got != want {
					t.Fatalf("length %d at offset %d from %x: %x, want %x", n, start, crc, got, want)
				}
			}
		}
	}
	if got, want := CRC64(7, data), crc64Tables(7, data); got != want {
		t.Fatalf("%d bytes: %x, want %x", len(data), got, want)
	}
}

// keyIndex maps db/key to the keys of an RDB file.
func keyIndex(t testing.TB, path string) map[string]*Key {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	recs, _ := readAll(t, data)
	idx := map[string]*Key{}
	for _, k := range keysOf(recs) {
		idx[strconv.Itoa(k.DB)+"/"+string(k.Key)] = k
	}
	return idx
}

// TestDumpPayloadsOfRealServers checks framing and unframing against DUMP
// replies captured from Redis 7.0, 7.4, 8.0 and Valkey 8.0, for every key of
// the dataset their RDB files hold.
func TestDumpPayloadsOfRealServers(t *testing.T) {
	dir := corpusDir(t)
	for _, server := range []string{"redis-7.0.15-debian", "redis-7.4.1", "redis-8.0-m01", "valkey-8.0.1"} {
		t.Run(server, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(dir, "dump-payloads", server+".json"))
			if err != nil {
				t.Skip(err)
			}
			var doc struct {
				Keys []struct {
					DB         json.Number `json:"db"`
					KeyHex     string      `json:"key_hex"`
					TypeID     json.Number `json:"type_id"`
					RDBVersion json.Number `json:"rdb_version"`
					PayloadHex string      `json:"payload_hex"`
				} `json:"keys"`
			}
			if err := json.Unmarshal(data, &doc); err != nil {
				t.Fatal(err)
			}
			idx := keyIndex(t, filepath.Join(dir, "modern", server+".rdb"))
			if len(doc.Keys) == 0 {
				t.Fatal("no payloads")
			}
			for _, p := range doc.Keys {
				payload, _ := hex.DecodeString(p.PayloadHex)
				key, _ := hex.DecodeString(p.KeyHex)
				typ, raw, version, err := ParseDumpPayload(payload)
				if err != nil {
					t.Errorf("key %q: %v", key, err)
					continue
				}
				if strconv.Itoa(version) != p.RDBVersion.String() || strconv.Itoa(int(typ.Byte())) != p.TypeID.String() {
					t.Errorf("key %q: type %d version %d, want %s %s", key, typ.Byte(), version, p.TypeID, p.RDBVersion)
				}
				k := idx[p.DB.String()+"/"+string(key)]
				if k == nil {
					t.Errorf("key %q of db %s: not in the RDB file", key, p.DB)
					continue
				}
				// The server's DUMP holds the same value bytes as its SAVE file
				// (LZF output aside, which both produce from the same object).
				if k.Type != typ || !bytes.Equal(k.Raw, raw) && !sameMembers(t, typ, raw, k.Raw) {
					t.Errorf("key %q: payload value differs from the RDB file's", key)
				}
				if got := AppendDumpPayload(nil, typ, raw, version); !bytes.Equal(got, payload) {
					t.Errorf("key %q: AppendDumpPayload differs from the server's DUMP", key)
				}
				if _, err := DecodeValue(typ, raw, version); err != nil {
					t.Errorf("key %q: %v", key, err)
				}
			}
		})
	}
}

func TestParseDumpPayloadErrors(t *testing.T) {
	good := AppendDumpPayload(nil, TypeString, []byte{3, 'a', 'b', 'c'}, 10)
	if _, _, _, err := ParseDumpPayload(good); err != nil {
		t.Fatal(err)
	}
	for i := range good {
		bad := append([]byte(nil), good...)
		bad[i] ^= 0x10
		if _, _, _, err := ParseDumpPayload(bad); !errors.Is(err, ErrChecksum) {
			t.Errorf("flip at %d: err = %v, want ErrChecksum", i, err)
		}
	}
	for n := 0; n < 1+DumpFooterLen; n++ {
		if _, _, _, err := ParseDumpPayload(good[:n]); err == nil {
			t.Errorf("%d-byte payload accepted", n)
		}
	}
	zero := append([]byte(nil), good...)
	copy(zero[len(zero)-8:], make([]byte, 8))
	if _, _, _, err := ParseDumpPayload(zero); err != nil {
		t.Errorf("zero checksum refused: %v", err)
	}
}

// TestDumpMatchesLiveServer loads a corpus file into a real redis-server and
// checks that DUMP of every key equals the payload framed from the file's
// raw value, and that RESTORE accepts payloads framed here.
func TestDumpMatchesLiveServer(t *testing.T) {
	path := filepath.Join(corpusDir(t), "modern", "redis-7.0.15-debian.rdb")
	srv := redistest.Start(t, redistest.WithRDB(path))
	idx := keyIndex(t, path)
	checked := 0
	for name, k := range idx {
		if k.DB != 0 {
			continue
		}
		reply, err := srv.Do("DUMP", string(k.Key))
		if err != nil {
			t.Fatalf("DUMP %q: %v", k.Key, err)
		}
		got, ok := reply.([]byte)
		if !ok {
			t.Fatalf("DUMP %q: reply %T", k.Key, reply)
		}
		want := AppendDumpPayload(nil, k.Type, k.Raw, 10)
		if !bytes.Equal(got, want) {
			// Hashtables come back from a reload in another order: the
			// payload must then hold the same members.
			typ, raw, _, err := ParseDumpPayload(got)
			if err != nil || typ != k.Type || !sameMembers(t, typ, raw, k.Raw) {
				t.Errorf("%s: DUMP differs from the framed raw value", name)
			}
		}
		if _, err := srv.Do("RESTORE", "copy:"+string(k.Key), "0", string(want)); err != nil {
			t.Errorf("%s: RESTORE of our payload: %v", name, err)
		}
		checked++
	}
	if checked < 30 {
		t.Fatalf("only %d keys checked", checked)
	}
}

// sameMembers reports whether two set or hash values (hashtables, whose
// order changes when a server reloads them, or hashes whose min-expire hint
// differs) hold the same members, whatever their order.
func sameMembers(t *testing.T, typ Type, a, b []byte) bool {
	t.Helper()
	flat := func(raw []byte) map[string]int {
		v, err := DecodeValue(typ, raw, 12)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]int{}
		switch v := v.(type) {
		case Set:
			for _, s := range v {
				m[string(s)]++
			}
		case Hash:
			for _, f := range v {
				m[string(f.Field)+"\x00"+string(f.Value)+"\x00"+strconv.FormatInt(f.ExpireAt, 10)]++
			}
		default:
			return map[string]int{"not a set or hash": 1, string(raw): 1}
		}
		return m
	}
	ma, mb := flat(a), flat(b)
	if len(ma) != len(mb) {
		return false
	}
	for k, n := range ma {
		if mb[k] != n {
			return false
		}
	}
	return true
}
