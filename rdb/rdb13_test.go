package rdb

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
)

// rdb13File builds an RDB 13 file as Redis 8.6 writes one (no such server
// here): a string key carrying key metadata (opcode 0xF3) and a type-26
// stream made of a real type-21 stream with an IDMP trailer appended.
func rdb13File(t *testing.T) (file, meta, stream21 []byte) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(corpusDir(t), "modern", "redis-7.4.1.rdb"))
	if err != nil {
		t.Fatal(err)
	}
	recs, _ := readAll(t, data)
	for _, k := range keysOf(recs) {
		if string(k.Key) == "stream:main" {
			stream21 = k.Raw
		}
	}
	if stream21 == nil {
		t.Fatal("no stream:main in the corpus file")
	}
	// One metadata class: 4-byte spec, a UINT 5, the module EOF.
	meta = []byte{1, 0x41, 0x42, 0x43, 0x44, moduleOpUInt, 5, moduleOpEOF}
	idmp := appendLen(appendLen(nil, 100), 1000) // duration, max entries
	idmp = appendLen(idmp, 1)                    // one producer
	idmp = appendString(idmp, []byte("producer-1"), false)
	idmp = appendLen(idmp, 1) // one IID
	idmp = appendString(idmp, []byte("iid-1"), false)
	idmp = appendLen(appendLen(idmp, 1700000000000), 0) // the entry it added
	idmp = appendLen(appendLen(idmp, 1), 0)             // IIDs added, duplicates

	f := []byte("REDIS0013")
	f = append(f, opSelectDB, 0)
	f = append(f, opExpireTimeMs)
	f = binary.LittleEndian.AppendUint64(f, 4102444800000)
	f = append(f, opKeyMeta)
	f = append(f, meta...)
	f = append(f, byte(TypeString), 1, 'k', 1, 'v')
	f = append(f, byte(TypeStreamListpacks4), 1, 'x')
	f = append(f, stream21...)
	f = append(f, idmp...)
	f = append(f, opEOF)
	f = binary.LittleEndian.AppendUint64(f, CRC64(0, f))
	return f, meta, stream21
}

func TestRDB13KeyMetaAndStreamV4(t *testing.T) {
	file, meta, stream21 := rdb13File(t)
	recs, r := readAll(t, file)
	keys := keysOf(recs)
	if r.Version() != 13 || len(keys) != 2 {
		t.Fatalf("version %d, %d keys", r.Version(), len(keys))
	}
	k, x := keys[0], keys[1]
	if !bytes.Equal(k.Meta, meta) || k.ExpireAt != 4102444800000 || string(k.Raw) != "\x01v" || k.Offset() != 11 {
		t.Errorf("key k: meta %x expire %d raw %q offset %d", k.Meta, k.ExpireAt, k.Raw, k.Offset())
	}
	if x.Type != TypeStreamListpacks4 || x.Meta != nil {
		t.Fatalf("key x: %v meta %x", x.Type, x.Meta)
	}
	v, err := x.Value()
	if err != nil {
		t.Fatal(err)
	}
	s := v.(*Stream)
	if s.IDMP == nil || s.IDMP.Duration != 100 || s.IDMP.MaxEntries != 1000 || len(s.IDMP.Producers) != 1 ||
		string(s.IDMP.Producers[0].Entries[0].IID) != "iid-1" || s.IDMP.Producers[0].Entries[0].ID != (StreamID{1700000000000, 0}) || s.IDMP.IIDsAdded != 1 {
		t.Errorf("IDMP %+v", s.IDMP)
	}
	v21, _ := DecodeValue(TypeStreamListpacks3, stream21, 12)
	if canonical(v, true) != canonical(v21, true) {
		t.Error("type 26 entries and groups differ from the type-21 stream they extend")
	}

	// The Writer keeps both at version 13.
	var out bytes.Buffer
	w := NewWriter(&out, WriterOptions{Version: 13})
	for _, rec := range recs {
		if err := w.WriteRecord(rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	again, _ := readAll(t, out.Bytes())
	for i, k2 := range keysOf(again) {
		if msg := diffKeys(k2, keys[i]); msg != "" || !bytes.Equal(k2.Meta, keys[i].Meta) {
			t.Errorf("key %q after rewrite: %s, meta %x", k2.Key, msg, k2.Meta)
		}
	}

	// Redis 8.6 keeps the metadata; Redis 7.4 gets a type-21 stream and no metadata.
	c, err := Convert(k, Target{FlavorRedis, 13}, ConvertOptions{}, nil)
	if err != nil || !bytes.Equal(c.Meta, meta) || c.MetaDropped || c.Reencoded {
		t.Errorf("for RDB 13: %+v %v", c, err)
	}
	c, err = Convert(k, Target{FlavorRedis, 12}, ConvertOptions{}, nil)
	if err != nil || c.Meta != nil || !c.MetaDropped {
		t.Errorf("for RDB 12: %+v %v", c, err)
	}
	c, err = Convert(x, Target{FlavorRedis, 12}, ConvertOptions{}, nil)
	if err != nil || c.Type != TypeStreamListpacks3 || !c.StreamMetaDropped {
		t.Fatalf("stream for RDB 12: %v %v", c.Type, err)
	}
	v3, err := DecodeValue(c.Type, c.Raw, 12)
	if err != nil || canonical(v3, true) != canonical(v21, true) {
		t.Errorf("converted stream differs: %v", err)
	}
	// The payload with metadata frames the block before the type byte.
	mp := append([]byte{opKeyMeta}, meta...)
	footer := DumpFooterWithMeta(mp, k.Type, k.Raw, 13)
	if want := CRC64(0, append(append(append(append([]byte{}, mp...), byte(k.Type)), k.Raw...), 13, 0)); binary.LittleEndian.Uint64(footer[2:]) != want {
		t.Error("DumpFooterWithMeta does not cover the metadata")
	}
}
