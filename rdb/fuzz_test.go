package rdb_test

// Fuzz targets. Seeds: the corpus files of at most 64 KB (when the corpus is
// there) and a few hand-built files, so the targets have seeds without it.
//
//	go test -run '^$' -fuzz FuzzReader -fuzztime 60s ./rdb
//	go test -run '^$' -fuzz FuzzDecodeValue -fuzztime 60s ./rdb

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/rdbferry/rdbferry/rdb"
)

const fuzzSeedMax = 64 << 10

// handBuiltFiles are small valid files covering the record kinds.
func handBuiltFiles() [][]byte {
	aux := func(k, v string) []byte { return append(append([]byte{0xFA}, rdbStr(k)...), rdbStr(v)...) }
	exp := binary.LittleEndian.AppendUint64([]byte{0xFC}, 4102444800000)
	intset := rdbStr(string([]byte{2, 0, 0, 0, 2, 0, 0, 0, 1, 0, 2, 0}))
	ziplist := func() []byte {
		// zlbytes, zltail, zllen, entries "a" and int 5, end.
		zl := []byte{0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0x00, 0x01, 'a', 0x03, 0xF6, 0xFF}
		binary.LittleEndian.PutUint32(zl, uint32(len(zl)))
		binary.LittleEndian.PutUint32(zl[4:], 13)
		return rdbStr(string(zl))
	}()
	listpack := func() []byte {
		// total, count 2, "a" (0x81 'a' backlen 2), int 5 (0x05 backlen 1), end.
		lp := []byte{0, 0, 0, 0, 2, 0, 0x81, 'a', 2, 0x05, 1, 0xFF}
		binary.LittleEndian.PutUint32(lp, uint32(len(lp)))
		return rdbStr(string(lp))
	}()
	return [][]byte{
		rdbFile(1),
		rdbFile(3, selectDB0, keyRecord(0, "k", rdbStr("v"))),
		rdbFile(6, selectDB0, keyRecord(1, "l", rdbLen(2), rdbStr("a"), rdbStr("b")), keyRecord(10, "z", ziplist)),
		rdbFile(9, aux("redis-ver", "6.2.0"), selectDB0, []byte{0xFB, 2, 1}, exp, keyRecord(0, "k", []byte{0xC0, 0x7B}),
			keyRecord(11, "s", intset), keyRecord(13, "h", ziplist),
			[]byte{0xF8, 5}, keyRecord(2, "set", rdbLen(1), rdbStr("m")),
			aux("keydb-subexpire-key", "m"), aux("keydb-subexpire-when", "4102444800000")),
		rdbFile(10, selectDB0, keyRecord(16, "h", listpack), keyRecord(17, "z", listpack),
			keyRecord(18, "l", rdbLen(2), rdbLen(2), listpack, rdbLen(1), rdbStr("plain")),
			[]byte{0xF5}, rdbStr("#!lua name=x\nredis.register_function('f', function() return 1 end)")),
		rdbFile(11, selectDB0, []byte{0xF9, 3}, keyRecord(20, "s", listpack),
			keyRecord(5, "z", rdbLen(1), rdbStr("m"), binary.LittleEndian.AppendUint64(nil, 0x3FF0000000000000))),
		rdbFile(12, selectDB0, []byte{0xF4, 0, 1, 0}, keyRecord(4, "h", rdbLen(1), rdbStr("f"), rdbStr("v"))),
		rdbFileMagic("VALKEY080", 80, aux("valkey-ver", "9.0.0"), selectDB0, keyRecord(22, "h", rdbLen(1), rdbStr("f"), rdbStr("v"),
			binary.LittleEndian.AppendUint64(nil, 1<<64-1))),
	}
}

// fuzzSeedFiles returns the hand-built files and the distinct corpus files
// of at most 64 KB.
func fuzzSeedFiles() [][]byte {
	seeds := handBuiltFiles()
	root := corpusLocation()
	if root == "" {
		return seeds
	}
	files, err := corpusRDBList()
	if err != nil {
		return seeds
	}
	seen := map[[32]byte]bool{}
	for _, rel := range files {
		data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(rel)))
		if err != nil || len(data) > fuzzSeedMax {
			continue
		}
		if sum := sha256.Sum256(data); !seen[sum] {
			seen[sum] = true
			seeds = append(seeds, data)
		}
	}
	return seeds
}

// checkFormatError fails unless err is a *rdb.FormatError with an offset
// inside the n-byte input.
func checkFormatError(t *testing.T, err error, n int) {
	var fe *rdb.FormatError
	if !errors.As(err, &fe) {
		t.Fatalf("%v (%T) is not a *rdb.FormatError", err, err)
	}
	if fe.Offset < 0 || fe.Offset > int64(n) {
		t.Fatalf("offset %d outside the %d-byte input: %v", fe.Offset, n, err)
	}
}

func FuzzReader(f *testing.F) {
	for _, s := range fuzzSeedFiles() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := rdb.NewReader(bytes.NewReader(data))
		// Every record consumes at least one byte: the loop is bounded.
		for i := 0; i <= len(data); i++ {
			rec, err := r.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				checkFormatError(t, err, len(data))
				if _, again := r.Next(); again != err {
					t.Fatalf("Next after %v returned %v", err, again)
				}
				return
			}
			if off := rec.Offset(); off < 0 || off >= int64(len(data)) {
				t.Fatalf("%T at offset %d of a %d-byte input", rec, off, len(data))
			}
			if k, ok := rec.(*rdb.Key); ok {
				v, err := k.Value()
				if err != nil {
					checkFormatError(t, err, len(data))
				} else if v == nil || v.Kind() != k.Type.Kind() {
					t.Fatalf("key %q: value %T for type %v", k.Key, v, k.Type)
				}
			}
		}
		t.Fatalf("more records than input bytes")
	})
}

// fuzzValueSeed is a raw value of a corpus key.
type fuzzValueSeed struct {
	typ     byte
	version byte
	raw     []byte
}

func fuzzValueSeeds() []fuzzValueSeed {
	var seeds []fuzzValueSeed
	seen := map[string]bool{}
	for _, data := range fuzzSeedFiles() {
		p := parseAll("seed", bytes.NewReader(data), false)
		for _, k := range p.Keys {
			if len(k.Raw) > 8<<10 {
				continue
			}
			s := fuzzValueSeed{k.Type.Byte(), byte(k.Version), k.Raw}
			id := string([]byte{s.typ, s.version}) + string(s.raw)
			if !seen[id] {
				seen[id] = true
				seeds = append(seeds, s)
			}
		}
	}
	// Keep the seed corpus small: a few values of each type and version.
	sort.SliceStable(seeds, func(i, j int) bool { return len(seeds[i].raw) < len(seeds[j].raw) })
	perKind := map[[2]byte]int{}
	var out []fuzzValueSeed
	for _, s := range seeds {
		if k := [2]byte{s.typ, s.version}; perKind[k] < 4 {
			perKind[k]++
			out = append(out, s)
		}
	}
	return out
}

// fuzzType maps a type byte to a Type as a file of the version would.
func fuzzType(b byte, version int) rdb.Type {
	if version >= rdb.ValkeyMinVersion && b == 22 {
		return rdb.TypeValkeyHash2
	}
	return rdb.Type(b)
}

func FuzzDecodeValue(f *testing.F) {
	for _, s := range fuzzValueSeeds() {
		f.Add(s.typ, s.version, s.raw)
	}
	f.Add(byte(0), byte(9), []byte{0xC3, 0x02, 0x40, 0x10, 0x00, 'a'})
	f.Add(byte(11), byte(9), rdbStr(string([]byte{2, 0, 0, 0, 0, 0, 0, 0})))
	f.Fuzz(func(t *testing.T, typ, version byte, raw []byte) {
		v, err := rdb.DecodeValue(fuzzType(typ, int(version)), raw, int(version))
		if err != nil {
			checkFormatError(t, err, len(raw))
			return
		}
		if v == nil {
			t.Fatalf("nil value without an error")
		}
	})
}

// TestFuzzHandBuiltSeeds checks that the hand-built seeds are valid files, so
// the fuzzer starts from inputs that reach every record kind.
func TestFuzzHandBuiltSeeds(t *testing.T) {
	for i, data := range handBuiltFiles() {
		p := parseAll("seed", bytes.NewReader(data), true)
		if p.Err != nil {
			t.Errorf("seed %d: %v", i, p.Err)
		}
		for _, k := range p.Keys {
			if k.ValueErr != nil {
				t.Errorf("seed %d: key %q: %v", i, k.Key.Key, k.ValueErr)
			}
		}
		if len(p.Records) == 0 && i > 0 {
			t.Errorf("seed %d: no records", i)
		}
	}
}
