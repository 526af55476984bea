package restore

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/rdbferry/rdbferry/rdb"
)

// TestKeyDBMemberExpires checks the commands built for a KeyDB target (no
// keydb-server runs here): the value, then PEXPIREMEMBERAT per member
// expiration — only when keys are replaced; otherwise they are counted as
// stripped, since a refused RESTORE would leave them to the existing key.
func TestKeyDBMemberExpires(t *testing.T) {
	k := &rdb.Key{Key: []byte("h"), Type: rdb.TypeHashZiplist, Idle: -1, Freq: -1, Version: 9,
		MemberExpires: []rdb.MemberExpire{{Member: []byte("a"), ExpireAt: 4102444809000}, {Member: []byte("b"), ExpireAt: 4102444810000}}}
	// A ziplist hash {a: 1, b: 2}, as KeyDB writes it.
	var zl []byte
	zl = append(zl, 21, 0, 0, 0, 18, 0, 0, 0, 4, 0) // zlbytes, zltail, zllen
	for _, e := range [][]byte{{0, 1, 'a'}, {3, 0xf2}, {2, 1, 'b'}, {3, 0xf3}} {
		zl = append(zl, e...)
	}
	zl = append(zl, 0xff)
	k.Raw = append([]byte{byte(len(zl))}, zl...)
	if _, err := rdb.DecodeValue(k.Type, k.Raw, 9); err != nil {
		t.Fatalf("test value: %v", err)
	}
	for _, tc := range []struct {
		existing ExistingPolicy
		cmds     int
		stripped int
	}{{ExistingReplace, 3, 0}, {ExistingFail, 1, 2}, {ExistingSkip, 1, 2}} {
		w := &Writer{opts: Options{Existing: tc.existing}.withDefaults(), now: time.Now,
			info: ServerInfo{Flavor: rdb.FlavorKeyDB, Version: "6.3.4", Target: rdb.Target{Flavor: rdb.FlavorKeyDB, Version: 9}, ProtoMaxBulkLen: defaultProtoMaxBulkLen}}
		j, err := w.prepare(k, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(j.ends) != tc.cmds || j.conv.memberExpStripped != tc.stripped {
			t.Fatalf("policy %d: %d commands, %d stripped", tc.existing, len(j.ends), j.conv.memberExpStripped)
		}
		if !bytes.Contains(j.command(0), []byte("RESTORE")) {
			t.Errorf("first command %q", j.command(0))
		}
		if tc.cmds == 3 {
			want := "*4\r\n$15\r\nPEXPIREMEMBERAT\r\n$1\r\nh\r\n$1\r\nb\r\n$13\r\n4102444810000\r\n"
			if got := string(j.command(2)); got != want {
				t.Errorf("command %q, want %q", got, want)
			}
			if !strings.Contains(string(j.command(0)), "REPLACE") {
				t.Error("RESTORE without REPLACE")
			}
		}
	}
}
