package rdb

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// corpusRDBFiles returns every .rdb file of the corpus except the ones meant
// to be corrupt.
func corpusRDBFiles(t testing.TB) []string {
	dir := corpusDir(t)
	var files []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasSuffix(p, ".rdb") && !strings.Contains(filepath.Base(p), "corrupt") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// readAll returns clones of every record of an RDB file.
func readAll(t testing.TB, data []byte) ([]Record, *Reader) {
	t.Helper()
	r := NewReader(bytes.NewReader(data))
	var recs []Record
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return recs, r
		}
		if err != nil {
			t.Fatalf("reading: %v", err)
		}
		recs = append(recs, cloneRecord(rec))
	}
}

func cloneRecord(rec Record) Record {
	switch rec := rec.(type) {
	case *Key:
		return rec.Clone()
	case *Aux:
		c := *rec
		return &c
	case *SelectDB:
		c := *rec
		return &c
	case *ResizeDB:
		c := *rec
		return &c
	case *SlotInfo:
		c := *rec
		return &c
	case *Function:
		c := *rec
		return &c
	case *ModuleAux:
		c := *rec
		c.Raw = append([]byte(nil), rec.Raw...)
		return &c
	}
	return rec
}

// TestWriterRoundTrip rewrites every corpus file at its own version and
// checks that the result reads back to the same records.
func TestWriterRoundTrip(t *testing.T) {
	for _, path := range corpusRDBFiles(t) {
		name, _ := filepath.Rel(corpusDir(t), path)
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			recs, r := readAll(t, data)
			var out bytes.Buffer
			w := NewWriter(&out, WriterOptions{Version: r.Version(), KeyDB: r.Flavor() == FlavorKeyDB})
			for _, rec := range recs {
				if err := w.WriteRecord(rec); err != nil {
					t.Fatalf("writing %T at %d: %v", rec, rec.Offset(), err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			again, r2 := readAll(t, out.Bytes())
			if r2.Version() != r.Version() {
				t.Errorf("version %d, want %d", r2.Version(), r.Version())
			}
			want := keysOf(recs)
			got := keysOf(again)
			if len(got) != len(want) {
				t.Fatalf("%d keys after rewrite, want %d", len(got), len(want))
			}
			for i := range want {
				if msg := diffKeys(got[i], want[i]); msg != "" {
					t.Errorf("key %q: %s", want[i].Key, msg)
				}
			}
		})
	}
}

func keysOf(recs []Record) []*Key {
	var ks []*Key
	for _, rec := range recs {
		if k, ok := rec.(*Key); ok {
			ks = append(ks, k)
		}
	}
	return ks
}

// diffKeys compares what a rewrite must keep. Raw bytes stay identical:
// the Writer never re-encodes values.
func diffKeys(got, want *Key) string {
	switch {
	case !bytes.Equal(got.Key, want.Key):
		return "key name " + QuoteKey(got.Key)
	case got.DB != want.DB:
		return "db differs"
	case got.Type != want.Type:
		return "type " + got.Type.String() + ", want " + want.Type.String()
	case got.ExpireAt != want.ExpireAt && !(want.Version < 3 && got.ExpireAt/1000 == want.ExpireAt/1000):
		return "expire differs"
	case got.Idle != want.Idle || got.Freq != want.Freq:
		return "idle/freq differs"
	case !bytes.Equal(got.Raw, want.Raw):
		return "raw value differs"
	case len(got.MemberExpires) != len(want.MemberExpires):
		return "member expires differ"
	}
	for i := range got.MemberExpires {
		if !bytes.Equal(got.MemberExpires[i].Member, want.MemberExpires[i].Member) || got.MemberExpires[i].ExpireAt != want.MemberExpires[i].ExpireAt {
			return "member expire differs"
		}
	}
	return ""
}

func TestWriterRefusesWhatTheVersionCannotHold(t *testing.T) {
	k := &Key{Key: []byte("s"), Type: TypeSetListpack, Raw: []byte{0}, Idle: -1, Freq: -1}
	var out bytes.Buffer
	w := NewWriter(&out, WriterOptions{Version: 10})
	err := w.WriteKey(k)
	if !errors.Is(err, ErrUnsupported) {
		t.Fatalf("set-listpack into RDB 10: err = %v, want ErrUnsupported", err)
	}
	if w.Close() == nil {
		t.Error("Close after a failed write succeeded")
	}

	w = NewWriter(&out, WriterOptions{Version: 9})
	k = &Key{Key: []byte("h"), Type: TypeHash, Raw: []byte{0}, Idle: -1, Freq: -1,
		MemberExpires: []MemberExpire{{Member: []byte("f"), ExpireAt: 1}}}
	if err := w.WriteKey(k); err == nil || !strings.Contains(err.Error(), "member expirations") {
		t.Fatalf("member expires into a non-KeyDB file: err = %v", err)
	}

	for _, tc := range []struct {
		version int
		t       Type
		keydb   bool
		want    bool
	}{
		{9, TypeStreamListpacks, false, true},
		{8, TypeStreamListpacks, false, false},
		{11, TypeSetListpack, false, true},
		{80, TypeSetListpack, false, true},
		{80, TypeHashListpackEx, false, false},
		{80, TypeValkeyHash2, false, true},
		{12, TypeValkeyHash2, false, false},
		{12, TypeHashListpackEx, false, true},
		{9, TypeKeyDBCron, true, true},
		{9, TypeKeyDBCron, false, false},
		{13, TypeStreamListpacks4, false, true},
		{1, TypeSetIntset, false, false},
	} {
		if got := VersionCanHold(tc.version, tc.t, tc.keydb); got != tc.want {
			t.Errorf("VersionCanHold(%d, %v, %v) = %v, want %v", tc.version, tc.t, tc.keydb, got, tc.want)
		}
	}
}

func TestWriterStandardAuxAndStrings(t *testing.T) {
	var out bytes.Buffer
	w := NewWriter(&out, WriterOptions{Version: 10})
	w.WriteStandardAux(time.Unix(1700000000, 0))
	w.WriteAux("long", strings.Repeat("abc", 40))
	w.WriteAux("int", "-2147483648")
	w.WriteAux("notint", "007")
	w.SelectDB(3, 1, 0)
	w.WriteKey(&Key{DB: 3, Key: []byte("k"), Type: TypeString, Raw: []byte{1, 'v'}, Idle: -1, Freq: -1, ExpireAt: 4102444800000})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	recs, r := readAll(t, out.Bytes())
	if r.Version() != 10 {
		t.Fatalf("version %d", r.Version())
	}
	aux := map[string]string{}
	var keys []*Key
	for _, rec := range recs {
		switch rec := rec.(type) {
		case *Aux:
			aux[rec.Key] = rec.Value
		case *Key:
			keys = append(keys, rec)
		}
	}
	want := map[string]string{"redis-ver": "7.0.0", "redis-bits": "64", "ctime": "1700000000", "used-mem": "0",
		"aof-base": "0", "long": strings.Repeat("abc", 40), "int": "-2147483648", "notint": "007"}
	for k, v := range want {
		if aux[k] != v {
			t.Errorf("aux %q = %q, want %q", k, aux[k], v)
		}
	}
	if !bytes.Contains(out.Bytes(), []byte{0xC0 | encLZF}) {
		t.Error("a compressible aux value was not LZF-compressed")
	}
	if len(keys) != 1 || keys[0].DB != 3 || keys[0].ExpireAt != 4102444800000 {
		t.Fatalf("keys = %+v", keys)
	}
}

// TestAppendString checks the integer-encoding rule of rdbSaveRawString.
func TestAppendString(t *testing.T) {
	for s, want := range map[string][]byte{
		"0":           {0xC0, 0},
		"-1":          {0xC0, 0xFF},
		"127":         {0xC0, 127},
		"128":         {0xC1, 128, 0},
		"-32768":      {0xC1, 0, 0x80},
		"2147483647":  {0xC2, 0xFF, 0xFF, 0xFF, 0x7F},
		"2147483648":  append([]byte{10}, "2147483648"...),
		"007":         append([]byte{3}, "007"...),
		"+1":          append([]byte{2}, "+1"...),
		"-0":          append([]byte{2}, "-0"...),
		"":            {0},
		"12345678901": append([]byte{11}, "12345678901"...),
	} {
		if got := appendString(nil, []byte(s), true); !bytes.Equal(got, want) {
			t.Errorf("appendString(%q) = %x, want %x", s, got, want)
		}
	}
}

// TestWriterSelectsKeyDB: each key lands in its own database, whatever
// SELECTDB the caller wrote (or did not) before it.
func TestWriterSelectsKeyDB(t *testing.T) {
	var out bytes.Buffer
	w := NewWriter(&out, WriterOptions{Version: 10})
	for i, db := range []int{0, 0, 5, 2, 2, 0} {
		w.WriteKey(&Key{DB: db, Key: []byte{'k', byte('0' + i)}, Type: TypeString, Raw: []byte{1, 'v'}, Idle: -1, Freq: -1})
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	recs, _ := readAll(t, out.Bytes())
	var got []int
	for _, k := range keysOf(recs) {
		got = append(got, k.DB)
	}
	if fmt.Sprint(got) != "[0 0 5 2 2 0]" {
		t.Fatalf("keys read back in databases %v, want [0 0 5 2 2 0]", got)
	}
}
