package rdb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

// zipmapPairs decodes a zipmap into alternating fields and values.
func zipmapPairs(zm []byte) ([]string, error) {
	var out []string
	n, err := zipmapEach(zm, func(f, v []byte) error {
		out = append(out, string(f), string(v))
		return nil
	})
	if err == nil && n*2 != len(out) {
		return out, errors.New("count mismatch")
	}
	return out, err
}

func TestZipmapDecode(t *testing.T) {
	big := strings.Repeat("B", 300)
	bigLen := binary.LittleEndian.AppendUint32([]byte{0xFE}, 300)
	tests := []struct {
		name string
		zm   []byte
		want []string
	}{
		// The example of redis src/zipmap.c.
		{"doc example", []byte("\x02\x03foo\x03\x00bar\x05hello\x05\x00world\xff"), []string{"foo", "bar", "hello", "world"}},
		{"free bytes", []byte("\x02\x01a\x01\x02bXY\x01c\x00\x00\xff"), []string{"a", "b", "c", ""}},
		{"empty field", []byte("\x01\x00\x01\x00v\xff"), []string{"", "v"}},
		{"5-byte lengths", bytes.Join([][]byte{{1}, bigLen, []byte(big), bigLen, {0}, []byte(big), {0xFF}}, nil), []string{big, big}},
		{"count 254 (unknown)", []byte("\xfe\x01a\x01\x00b\xff"), []string{"a", "b"}},
		{"count 255 (unknown)", []byte("\xff\x01a\x01\x00b\x01c\x01\x00d\xff"), []string{"a", "b", "c", "d"}},
		// Like Redis, the walk stops at the first end marker.
		{"bytes after the end marker", []byte("\x01\x01a\x01\x00b\xff\x00\xff"), []string{"a", "b"}},
	}
	for _, tt := range tests {
		got, err := zipmapPairs(tt.zm)
		if err != nil || strings.Join(got, ",") != strings.Join(tt.want, ",") {
			t.Errorf("%s: %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}
}

func TestZipmapChecks(t *testing.T) {
	tests := []struct {
		name string
		zm   string
		want string
	}{
		{"short", "\xff", "zipmap: blob of 1 bytes is shorter than the 2-byte minimum"},
		{"no end", "\x01\x01a\x01\x00b", "zipmap: last byte at offset 5 is 0x62, not the 0xFF end marker"},
		{"empty", "\x00\xff", "zipmap: empty (no pairs before the end marker at offset 1)"},
		{"count", "\x02\x01a\x01\x00b\xff", "zipmap: count byte 2 at offset 0, but the blob holds 1 pairs"},
		{"field past end", "\x01\x05ab\xff", "zipmap: entry 0 at offset 1: field length 5 (+0 free) at offset 2 exceeds blob (5 bytes)"},
		{"huge field", "\x01\xfe\xff\xff\xff\xffab\xff", "field length 4294967295 (+0 free) at offset 6 exceeds blob (9 bytes)"},
		{"5-byte length cut", "\x01\x01a\xfe\x01\x00\xff", "value 5-byte length at offset 3 runs into the end of the blob (7 bytes)"},
		{"value past end", "\x01\x01a\x09\x00b\xff", "value length 9 (+0 free) at offset 5 exceeds blob (7 bytes)"},
		{"free past end", "\x01\x01a\x01\x09b\xff", "value length 1 (+9 free) at offset 5 exceeds blob (7 bytes)"},
		{"no value", "\x01\x01a\xff", "entry 0 at offset 1: value 5-byte length at offset 3 runs into the end"},
		{"second entry", "\x02\x01a\x01\x00b\x01c\xff", "zipmap: entry 1 at offset 6: value 5-byte length at offset 8"},
	}
	for _, tt := range tests {
		_, err := zipmapEach([]byte(tt.zm), nil)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want it to contain %q", tt.name, err, tt.want)
		}
	}
	if _, err := zipmapEach([]byte("\x00\xff"), nil); !errors.Is(err, errPackedEmpty) {
		t.Errorf("empty zipmap: %v does not wrap errPackedEmpty", err)
	}
	stop := errors.New("stop")
	if n, err := zipmapEach([]byte("\x01\x01a\x01\x00b\xff"), func(f, v []byte) error { return stop }); err != stop || n != 0 {
		t.Errorf("callback error: %d, %v", n, err)
	}
}

func TestZipmapTruncatedAndMutated(t *testing.T) {
	big := strings.Repeat("B", 300)
	zm := []byte("\x03\x01a\x02\x01bbX\x03key\x00\x00")
	zm = append(zm, 0xFE)
	zm = binary.LittleEndian.AppendUint32(zm, 300)
	zm = append(zm, big...)
	zm = append(zm, 0xFE)
	zm = binary.LittleEndian.AppendUint32(zm, 300)
	zm = append(zm, 0)
	zm = append(zm, big...)
	zm = append(zm, 0xFF)
	if got, err := zipmapPairs(zm); err != nil || len(got) != 6 {
		t.Fatalf("base blob: %q, %v", got, err)
	}
	checkTruncations(t, "zipmap", zm, func(b []byte) error {
		_, err := zipmapEach(b, func(f, v []byte) error { return nil })
		return err
	})
}

// TestZipmapCorpus decodes zipmaps written by Redis 2.4 and the 2.6
// development builds.
func TestZipmapCorpus(t *testing.T) {
	tests := []struct {
		file, key string
		want      []string
	}{
		{"rdbtools-dumps/zipmap_that_compresses_easily.rdb", "zipmap_compresses_easily", []string{"a", "aa", "aa", "aaaa", "aaaaa", "aaaaaaaaaaaaaa"}},
		{"rdbtools-dumps/zipmap_that_doesnt_compress.rdb", "zimap_doesnt_compress", []string{"MKD1G6", "2", "YNNXK", "F7TI"}},
		{"hdt3213-cases/zipmap_big_len.rdb", "zimap_doesnt_compress", []string{"MKD1G6", "2", "YNNXK", "F7TI"}},
		{"redis-assets/hash-zipmap.rdb", "hash", []string{"f1", "v1", "f2", "v2"}},
		{"legacy/redis-2.4.18.rdb", "hash:small", []string{"f1", "v1", "f2", "2", "f3", "", "num", "-12345", "utf8", "ключ"}},
		{"legacy/redis-2.4.18.rdb", "db2:hash", []string{"k", "v"}},
	}
	for _, tt := range tests {
		t.Run(tt.file+"/"+tt.key, func(t *testing.T) {
			data := corpusFile(t, tt.file)
			blobs, _ := corpusBlobs(t, data, 9, tt.key)
			got, err := zipmapPairs(blobs[0])
			if err != nil || strings.Join(got, "\x00") != strings.Join(tt.want, "\x00") {
				t.Errorf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	// zipmap_big_len's count byte is 0xFF ("unknown").
	data := corpusFile(t, "hdt3213-cases/zipmap_big_len.rdb")
	if blobs, _ := corpusBlobs(t, data, 9, "zimap_doesnt_compress"); blobs[0][0] != 0xFF {
		t.Errorf("zipmap_big_len count byte is 0x%02x", blobs[0][0])
	}
}
