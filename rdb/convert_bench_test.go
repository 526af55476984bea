package rdb

import (
	"bytes"
	"fmt"
	"strconv"
	"testing"
)

// BenchmarkDumpFooter measures DUMP payload framing of a large value: the
// CRC-64 over the value is the only work (target: ≥ 1 GB/s).
func BenchmarkDumpFooter(b *testing.B) {
	for _, size := range []int{4 << 10, 1 << 20, 64 << 20} {
		raw := bytes.Repeat([]byte("0123456789abcdef"), size/16)
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				_ = DumpFooter(TypeString, raw, 10)
			}
		})
	}
}

// benchKeys builds one key per conversion case from values encoded the way
// Redis 7.4 writes them.
func benchKeys(b *testing.B) map[string]*Key {
	keys := map[string]*Key{}
	enc := func(name string, t Type, raw []byte) {
		keys[name] = &Key{Key: []byte(name), Type: t, Raw: raw, Version: 12, Idle: -1, Freq: -1}
	}
	var lp listpackBuilder
	// hash listpack, 100 fields.
	lp.Reset()
	for i := 0; i < 100; i++ {
		lp.AppendString([]byte("field-" + strconv.Itoa(i)))
		lp.AppendString([]byte("value-" + strconv.Itoa(i)))
	}
	enc("hash-listpack", TypeHashListpack, appendString(nil, lp.Bytes(), false))
	// zset listpack, 100 members.
	lp.Reset()
	for i := 0; i < 100; i++ {
		lp.AppendString([]byte("member-" + strconv.Itoa(i)))
		lp.AppendString([]byte(strconv.FormatFloat(float64(i)*1.5, 'g', -1, 64)))
	}
	enc("zset-listpack", TypeZSetListpack, appendString(nil, lp.Bytes(), false))
	// set listpack, 100 members.
	lp.Reset()
	for i := 0; i < 100; i++ {
		lp.AppendString([]byte("m-" + strconv.Itoa(i)))
	}
	enc("set-listpack", TypeSetListpack, appendString(nil, lp.Bytes(), false))
	// quicklist2, 1000 items in 4 nodes.
	var ql []byte
	ql = appendLen(ql, 4)
	for n := 0; n < 4; n++ {
		lp.Reset()
		for i := 0; i < 250; i++ {
			lp.AppendString([]byte("item-" + strconv.Itoa(n*250+i)))
		}
		ql = appendLen(ql, quicklistNodePacked)
		ql = appendString(ql, lp.Bytes(), false)
	}
	enc("list-quicklist2", TypeListQuicklist2, ql)
	// hash with field TTLs, listpack, 100 fields.
	lp.Reset()
	for i := 0; i < 100; i++ {
		lp.AppendString([]byte("field-" + strconv.Itoa(i)))
		lp.AppendString([]byte("value-" + strconv.Itoa(i)))
		lp.AppendInt(0)
	}
	enc("hash-listpack-ex", TypeHashListpackEx, appendString(appendUint64LE(nil, 0), lp.Bytes(), false))
	return keys
}

// BenchmarkConvert measures re-encoding per type for a Redis 7.0 target
// (RDB 10) and a Redis 6.2 one (RDB 9), with allocations per converted key.
func BenchmarkConvert(b *testing.B) {
	keys := benchKeys(b)
	for _, target := range []Target{{FlavorRedis, 10}, {FlavorRedis, 9}} {
		for _, name := range []string{"hash-listpack", "zset-listpack", "set-listpack", "list-quicklist2", "hash-listpack-ex"} {
			k := keys[name]
			if target.CanRead(k.Type) {
				continue
			}
			b.Run(fmt.Sprintf("%s/rdb%d", name, target.Version), func(b *testing.B) {
				b.SetBytes(int64(len(k.Raw)))
				b.ReportAllocs()
				var buf []byte
				for i := 0; i < b.N; i++ {
					c, err := Convert(k, target, ConvertOptions{}, buf)
					if err != nil {
						b.Fatal(err)
					}
					buf = c.Raw
				}
			})
		}
	}
}
