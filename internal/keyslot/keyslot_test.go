package keyslot

import (
	"math/rand"
	"strings"
	"testing"
)

// crc16Bitwise is the textbook bit-at-a-time CRC-16/XMODEM.
func crc16Bitwise(b []byte) uint16 {
	var crc uint16
	for _, c := range b {
		crc ^= uint16(c) << 8
		for i := 0; i < 8; i++ {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

func TestCRC16KnownAnswers(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint16
	}{
		{"", 0},
		{"123456789", 0x31C3}, // the CRC-16/XMODEM check value
		{"A", 0x58E5},
	} {
		if got := CRC16([]byte(tc.in)); got != tc.want {
			t.Errorf("CRC16(%q) = %#04x, want %#04x", tc.in, got, tc.want)
		}
	}
	r := rand.New(rand.NewSource(1))
	for i := 0; i < 1000; i++ {
		b := make([]byte, r.Intn(64))
		r.Read(b)
		if got, want := CRC16(b), crc16Bitwise(b); got != want {
			t.Fatalf("CRC16(%x) = %#04x, bitwise %#04x", b, got, want)
		}
	}
}

func TestSlotKnownAnswers(t *testing.T) {
	for _, tc := range []struct {
		key  string
		want int
	}{
		{"", 0},
		{"foo", 12182},
		{"bar", 5061},
		{"123456789", 0x31C3 % NumSlots},
		{"{user1000}.following", SlotString("user1000")},
		{"foo{}{bar}", int(crc16Bitwise([]byte("foo{}{bar}")) % NumSlots)}, // empty first tag: whole key
		{"foo{{bar}}zap", SlotString("{bar")},                              // tag from the first '{' to the first '}'
		{"foo{bar}{zap}", SlotString("bar")},
		{"{}", int(crc16Bitwise([]byte("{}")) % NumSlots)},
		{"}{a}", SlotString("a")},
		{"{a", int(crc16Bitwise([]byte("{a")) % NumSlots)},
	} {
		if got := Slot([]byte(tc.key)); got != tc.want {
			t.Errorf("Slot(%q) = %d, want %d", tc.key, got, tc.want)
		}
		if got := SlotString(tc.key); got != tc.want {
			t.Errorf("SlotString(%q) = %d, want %d", tc.key, got, tc.want)
		}
	}
	if a, b := Slot([]byte("{user1000}.following")), Slot([]byte("{user1000}.followers")); a != b {
		t.Errorf("{user1000}.following in slot %d, {user1000}.followers in %d", a, b)
	}
}

func TestSlotDoesNotAllocate(t *testing.T) {
	key := []byte("some{tag}key")
	s := "some{tag}key"
	if n := testing.AllocsPerRun(100, func() { Slot(key); SlotString(s) }); n != 0 {
		t.Errorf("Slot allocates %v times per call", n)
	}
}

func TestTag(t *testing.T) {
	seen := make(map[string]bool, NumSlots)
	for s := 0; s < NumSlots; s++ {
		tag := Tag(s)
		if tag == "" || len(tag) > 3 || strings.ContainsAny(tag, "{}") {
			t.Fatalf("Tag(%d) = %q", s, tag)
		}
		if seen[tag] {
			t.Fatalf("Tag(%d) = %q is also another slot's tag", s, tag)
		}
		seen[tag] = true
		if got := SlotString("{" + tag + "}rest"); got != s {
			t.Fatalf("Tag(%d) = %q, but {%s}rest is in slot %d", s, tag, tag, got)
		}
		if got := SlotString(tag); got != s {
			t.Fatalf("Tag(%d) = %q is itself in slot %d", s, tag, got)
		}
	}
}

func BenchmarkSlot(b *testing.B) {
	key := []byte("user:{12345}:profile:settings")
	b.SetBytes(int64(len(key)))
	for i := 0; i < b.N; i++ {
		Slot(key)
	}
}
