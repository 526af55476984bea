package rdb

import (
	"fmt"
	"strconv"
	"testing"
)

// packedKeys returns keys of the packed encodings Redis 7 writes (listpack
// list, set, sorted set and hash; intset), n elements each, mostly
// integers, so that decoding formats text into the arena.
func packedKeys(n int) []*Key {
	var keys []*Key
	add := func(name string, t Type, raw []byte) {
		keys = append(keys, &Key{Key: []byte(name), Type: t, Raw: raw, Version: 11})
	}
	var lp listpackBuilder
	lp.Reset()
	for i := 0; i < n; i++ {
		lp.AppendInt(int64(i * 7919))
	}
	add("list", TypeListQuicklist2, appendString(appendLen(appendLen(nil, 1), quicklistNodePacked), lp.Bytes(), false))
	add("set", TypeSetListpack, appendString(nil, lp.Bytes(), false))
	lp.Reset()
	for i := 0; i < n; i++ {
		lp.AppendInt(int64(i))
		lp.AppendString([]byte("v" + strconv.Itoa(i)))
	}
	add("hash", TypeHashListpack, appendString(nil, lp.Bytes(), false))
	lp.Reset()
	for i := 0; i < n; i++ {
		lp.AppendInt(int64(i * 31))
		lp.AppendInt(int64(i))
	}
	add("zset", TypeZSetListpack, appendString(nil, lp.Bytes(), false))
	vals := make([]int64, n)
	for i := range vals {
		vals[i] = int64(i * 3)
	}
	add("intset", TypeSetIntset, appendString(nil, intsetEncode(nil, vals), false))
	return keys
}

// TestDecoderReusesMemory: once warm, a Decoder allocates at most the
// interface that holds the value, where Key.Value allocates its slices and
// arena every time.
func TestDecoderReusesMemory(t *testing.T) {
	var d Decoder
	for _, k := range packedKeys(100) {
		if _, err := d.Decode(k); err != nil {
			t.Fatalf("%s: %v", k.Key, err)
		}
		decoder := testing.AllocsPerRun(50, func() {
			if _, err := d.Decode(k); err != nil {
				t.Fatal(err)
			}
		})
		each := testing.AllocsPerRun(50, func() {
			if _, err := k.Value(); err != nil {
				t.Fatal(err)
			}
		})
		t.Logf("%s (%v): Decoder %.0f allocs per value, Key.Value %.0f", k.Key, k.Type, decoder, each)
		if decoder > 1 {
			t.Errorf("%s (%v): Decoder.Decode allocates %.0f times per value, want at most 1", k.Key, k.Type, decoder)
		}
	}
}

// TestDecoderAfterEveryOtherKind: whatever the Decoder decoded before, the
// value it returns is the value Key.Value returns.
func TestDecoderAfterEveryOtherKind(t *testing.T) {
	keys := append(packedKeys(3), packedKeys(300)...)
	var d Decoder
	for _, first := range keys {
		for _, second := range keys {
			if _, err := d.Decode(first); err != nil {
				t.Fatal(err)
			}
			got, err := d.Decode(second)
			if err != nil {
				t.Fatal(err)
			}
			want, err := second.Value()
			if err != nil {
				t.Fatal(err)
			}
			if g, w := fmt.Sprint(got), fmt.Sprint(want); g != w {
				t.Fatalf("%s after %s: %.200s, want %.200s", second.Key, first.Key, g, w)
			}
		}
	}
}

// TestDecoderKeepsBoundedMemory: after a value whose slices exceed
// maxKeptDecodeMemory, the Decoder does not hold on to them.
func TestDecoderKeepsBoundedMemory(t *testing.T) {
	var d Decoder
	for _, k := range packedKeys(1 << 18) { // 256 Ki elements: 6 MiB of slice headers
		if _, err := d.Decode(k); err != nil {
			t.Fatalf("%s: %v", k.Key, err)
		}
	}
	m := d.mem
	kept := cap(m.strs)*24 + cap(m.zset)*32 + cap(m.hash)*56 + cap(m.arena)
	if kept > 4*maxKeptDecodeMemory {
		t.Fatalf("the Decoder keeps %d bytes after large values, want at most %d", kept, 4*maxKeptDecodeMemory)
	}
	for _, k := range packedKeys(10) {
		v, err := d.Decode(k)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := k.Value()
		if fmt.Sprint(v) != fmt.Sprint(want) {
			t.Fatalf("%s: %v, want %v", k.Key, v, want)
		}
	}
}
