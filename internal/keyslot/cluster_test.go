package keyslot_test

import (
	"math/rand"
	"testing"

	"github.com/rdbferry/rdbferry/internal/keyslot"
	"github.com/rdbferry/rdbferry/internal/redistest"
)

// TestSlotMatchesServer compares Slot with CLUSTER KEYSLOT of a real cluster
// node for random binary keys.
func TestSlotMatchesServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a redis cluster")
	}
	c := redistest.StartCluster(t, 3)
	node := c.Nodes()[0]
	r := rand.New(rand.NewSource(42))
	keys := [][]byte{nil, []byte("{}"), []byte("{"), []byte("}"), []byte("}{"), []byte("{{}}"), []byte("foo")}
	for len(keys) < 2000 {
		k := make([]byte, r.Intn(12))
		r.Read(k)
		keys = append(keys, k)
	}
	for _, k := range keys {
		v, err := node.Do("CLUSTER", "KEYSLOT", string(k))
		if err != nil {
			t.Fatalf("CLUSTER KEYSLOT %q: %v", k, err)
		}
		want, ok := v.(int64)
		if !ok {
			t.Fatalf("CLUSTER KEYSLOT %q: reply %T %v", k, v, v)
		}
		if got := keyslot.Slot(k); got != int(want) {
			t.Errorf("Slot(%q) = %d, CLUSTER KEYSLOT says %d", k, got, want)
		}
	}
	for s := 0; s < keyslot.NumSlots; s += 97 {
		v, err := node.Do("CLUSTER", "KEYSLOT", "{"+keyslot.Tag(s)+"}x")
		if err != nil || v != int64(s) {
			t.Errorf("CLUSTER KEYSLOT {%s}x = %v, %v; want %d", keyslot.Tag(s), v, err, s)
		}
	}
}
