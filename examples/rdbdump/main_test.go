package main

// Tests of the rdbdump command on the shared corpus ($RDB_CORPUS, default
// ../shared/corpus beside the repository root): the JSON lines parse and
// have the documented shape, -stats agrees with the corpus manifests, and
// bad files make it fail with the offset in the message and exit status 1.

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"github.com/rdbferry/rdbferry/internal/rdbtest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

var corpusLocation = rdbtest.CorpusLocation

// corpusPath returns the path of a corpus file or skips the test.
func corpusPath(t *testing.T, rel string) string {
	t.Helper()
	d := corpusLocation()
	if d == "" {
		t.Skip("RDB corpus not found: set RDB_CORPUS or put shared/corpus beside the repository")
	}
	p := filepath.Join(d, filepath.FromSlash(rel))
	if _, err := os.Stat(p); err != nil {
		t.Fatal(err)
	}
	return p
}

// dumpLine is one line of rdbdump's output.
type dumpLine struct {
	DB            int              `json:"db"`
	Key           json.RawMessage  `json:"key"`
	Type          string           `json:"type"`
	ExpireAt      *int64           `json:"expire_at"`
	Value         json.RawMessage  `json:"value"`
	FieldExpires  map[string]int64 `json:"field_expires"`
	MemberExpires map[string]int64 `json:"member_expires"`
}

// bytesOf decodes a byte string as rdbdump writes it: a JSON string, or
// {"base64": …} for bytes that are not UTF-8.
func bytesOf(t *testing.T, raw json.RawMessage) []byte {
	t.Helper()
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return []byte(s)
	}
	var o map[string]string
	if err := json.Unmarshal(raw, &o); err != nil || len(o) != 1 || o["base64"] == "" {
		t.Fatalf("not a byte string: %s", raw)
	}
	b, err := base64.StdEncoding.DecodeString(o["base64"])
	if err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	if utf8.Valid(b) {
		t.Errorf("%s: valid UTF-8 written as base64", raw)
	}
	return b
}

// objectKey decodes an object key: the string, or "base64:…".
func objectKey(t *testing.T, k string) string {
	if rest, ok := strings.CutPrefix(k, "base64:"); ok {
		b, err := base64.StdEncoding.DecodeString(rest)
		if err != nil {
			t.Fatalf("object key %q: %v", k, err)
		}
		return string(b)
	}
	return k
}

// dump runs rdbdump on a file and parses its output.
func dump(t *testing.T, path string) map[string]*dumpLine {
	t.Helper()
	var out bytes.Buffer
	if err := run(path, false, nil, &out); err != nil {
		t.Fatalf("run %s: %v", path, err)
	}
	lines := map[string]*dumpLine{}
	sc := bufio.NewScanner(&out)
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		var l dumpLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("%s: output line does not parse: %v: %.200s", path, err, sc.Bytes())
		}
		var all map[string]json.RawMessage
		_ = json.Unmarshal(sc.Bytes(), &all)
		for k := range all {
			switch k {
			case "db", "key", "type", "expire_at", "value", "field_expires", "member_expires":
			default:
				t.Errorf("%s: unknown member %q in %.200s", path, k, sc.Bytes())
			}
		}
		for _, req := range []string{"db", "key", "type", "value"} {
			if _, ok := all[req]; !ok {
				t.Errorf("%s: line without %q: %.200s", path, req, sc.Bytes())
			}
		}
		id := strconv.Itoa(l.DB) + "/" + string(bytesOf(t, l.Key))
		if lines[id] != nil {
			t.Errorf("%s: key %q twice", path, id)
		}
		lines[id] = &l
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

func mustLine(t *testing.T, lines map[string]*dumpLine, id string) *dumpLine {
	t.Helper()
	l := lines[id]
	if l == nil {
		t.Fatalf("no line for %q", id)
	}
	return l
}

// serverManifest is the part of a modern/ or legacy/ manifest used here.
type serverManifest struct {
	Databases map[string]map[string]struct {
		Type             string           `json:"type"`
		PExpireTime      *int64           `json:"pexpiretime"`
		PTTL             *int64           `json:"pttl"`
		TTL              *int64           `json:"ttl"`
		FieldPExpireTime map[string]int64 `json:"field_pexpiretime"`
	} `json:"databases"`
	File struct {
		RDBVersion int `json:"rdb_version"`
	} `json:"file"`
	Server struct {
		Name string `json:"name"`
	} `json:"server"`
	Functions json.RawMessage `json:"functions"`
}

func loadJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// manifestKey decodes a manifest key name ({"hex": …} for binary names).
func manifestKey(t *testing.T, s string) string {
	if strings.HasPrefix(s, `{"hex"`) {
		var h struct{ Hex string }
		if err := json.Unmarshal([]byte(s), &h); err != nil {
			t.Fatal(err)
		}
		var b []byte
		for i := 0; i+1 < len(h.Hex); i += 2 {
			v, err := strconv.ParseUint(h.Hex[i:i+2], 16, 8)
			if err != nil {
				t.Fatal(err)
			}
			b = append(b, byte(v))
		}
		return string(b)
	}
	return s
}

func TestDumpModern(t *testing.T) {
	const T = 4102444800000
	for _, name := range []string{"redis-7.4.1", "redis-7.0.15-debian", "valkey-8.0.1", "redis-8.0-m01-lfu"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			path := corpusPath(t, "modern/"+name+".rdb")
			var m serverManifest
			loadJSON(t, strings.TrimSuffix(path, ".rdb")+".json", &m)
			lines := dump(t, path)

			// One line per key of the manifest, with its type and expiry.
			n := 0
			for db, keys := range m.Databases {
				for k, e := range keys {
					n++
					l := mustLine(t, lines, db+"/"+manifestKey(t, k))
					if l.Type != e.Type {
						t.Errorf("%s/%q: type %q, want %q", db, k, l.Type, e.Type)
					}
					want := int64(-1)
					if e.PExpireTime != nil {
						want = *e.PExpireTime
					}
					if (l.ExpireAt == nil) != (want == -1) || l.ExpireAt != nil && *l.ExpireAt != want {
						t.Errorf("%s/%q: expire_at %v, want %d (absent when -1)", db, k, l.ExpireAt, want)
					}
				}
			}
			if len(lines) != n {
				t.Errorf("%d lines, manifest has %d keys", len(lines), n)
			}

			// The binary key and value are base64 objects.
			bin := mustLine(t, lines, "0/str:bin\x00\xff\x01key")
			if !bytes.HasPrefix(bin.Key, []byte(`{"base64":"`)) || string(bin.Key) != `{"base64":"`+base64.StdEncoding.EncodeToString([]byte("str:bin\x00\xff\x01key"))+`"}` {
				t.Errorf("binary key written as %s", bin.Key)
			}
			if got := bytesOf(t, bin.Value); !bytes.Equal(got, []byte("\x00\x01\x02\xfe\xff binary \r\n value")) {
				t.Errorf("binary value %q", got)
			}
			if l := mustLine(t, lines, "0/"); string(bytesOf(t, l.Value)) != "value-of-empty-key-name" {
				t.Errorf("empty key name: %s", l.Value)
			}
			if l := mustLine(t, lines, "0/str:ttl-ms"); l.ExpireAt == nil || *l.ExpireAt != T+123 {
				t.Errorf("str:ttl-ms expire_at %v", l.ExpireAt)
			}

			// zset: [member, score], infinities as strings.
			var z [][2]json.RawMessage
			if err := json.Unmarshal(mustLine(t, lines, "0/zset:small").Value, &z); err != nil {
				t.Fatalf("zset:small: %v", err)
			}
			scores := map[string]string{}
			for _, p := range z {
				score := string(p[1])
				if f, err := strconv.ParseFloat(score, 64); err == nil {
					score = strconv.FormatFloat(f, 'g', -1, 64) // a JSON number
				}
				scores[string(bytesOf(t, p[0]))] = score
			}
			want := map[string]string{"pos-inf": `"inf"`, "neg-inf": `"-inf"`, "two-and-half": "2.5", "minus-three": "-3",
				"zero": "0", "one": "1", "tiny": "1e-300", "big": "1.23456789012e+11"}
			for member, s := range want {
				if scores[member] != s {
					t.Errorf("zset:small %s: score %s, want %s", member, scores[member], s)
				}
			}
			if len(scores) != len(want) {
				t.Errorf("zset:small: %d members", len(scores))
			}

			// list and set: arrays of strings; hash: [field, value] pairs.
			var list []string
			if err := json.Unmarshal(mustLine(t, lines, "0/list:small").Value, &list); err != nil || !slices.Equal(list, []string{"a", "b", "c", "1", "2", "3", "-100", "4294967296"}) {
				t.Errorf("list:small: %v %v", list, err)
			}
			var set []string
			if err := json.Unmarshal(mustLine(t, lines, "0/set:small").Value, &set); err != nil {
				t.Errorf("set:small: %v", err)
			}
			sort.Strings(set)
			if !slices.Equal(set, []string{"42", "alpha", "beta", "delta", "gamma"}) {
				t.Errorf("set:small: %v", set)
			}
			var hash [][2]string
			if err := json.Unmarshal(mustLine(t, lines, "0/hash:small").Value, &hash); err != nil || len(hash) != 5 {
				t.Errorf("hash:small: %v %v", hash, err)
			}

			// Stream object.
			var s struct {
				Entries []json.RawMessage `json:"entries"`
				Length  *uint64           `json:"length"`
				LastID  string            `json:"last_id"`
				Groups  []struct {
					Name            json.RawMessage `json:"name"`
					LastDeliveredID string          `json:"last_delivered_id"`
					Pending         []struct {
						ID            string          `json:"id"`
						Consumer      json.RawMessage `json:"consumer"`
						DeliveryCount *uint64         `json:"delivery_count"`
						DeliveryTime  *int64          `json:"delivery_time"`
					} `json:"pending"`
					Consumers []string `json:"consumers"`
				} `json:"groups"`
			}
			st := mustLine(t, lines, "0/stream:main")
			d := json.NewDecoder(bytes.NewReader(st.Value))
			d.DisallowUnknownFields()
			if err := d.Decode(&s); err != nil {
				t.Fatalf("stream:main: %v", err)
			}
			if len(s.Entries) != 298 || s.Length == nil || *s.Length != 298 || s.LastID != "1700000000099-2" {
				t.Errorf("stream:main: %d entries, length %v, last id %q", len(s.Entries), s.Length, s.LastID)
			}
			var first []json.RawMessage
			var fields []string
			if err := json.Unmarshal(s.Entries[0], &first); err != nil || len(first) != 2 || string(first[0]) != `"1700000000000-0"` {
				t.Errorf("stream:main entry 0: %s", s.Entries[0])
			} else if err := json.Unmarshal(first[1], &fields); err != nil || !slices.Equal(fields, []string{"sensor", "s-0", "temp", "20.0"}) {
				t.Errorf("stream:main entry 0 fields: %s", first[1])
			}
			if len(s.Groups) != 2 || string(s.Groups[0].Name) != `"g1"` || len(s.Groups[0].Pending) != 6 ||
				!slices.Equal(s.Groups[0].Consumers, []string{"alice", "bob"}) || s.Groups[0].LastDeliveredID != "1700000000002-0" ||
				string(s.Groups[1].Name) != `"g2"` || len(s.Groups[1].Pending) != 0 || !slices.Equal(s.Groups[1].Consumers, []string{"carol"}) {
				t.Errorf("stream:main groups: %s", st.Value)
			} else {
				p := s.Groups[0].Pending[0]
				if p.ID != "1700000000000-1" || string(p.Consumer) != `"bob"` || p.DeliveryCount == nil || *p.DeliveryCount != 2 || p.DeliveryTime == nil {
					t.Errorf("stream:main g1 first pending entry: %+v", p)
				}
			}

			// Hash field TTLs (Redis 7.4+ files only).
			if l := lines["0/hfe:lp"]; l != nil {
				want := m.Databases["0"]["hfe:lp"].FieldPExpireTime
				if want["f1"] != T || want["f3"] != T+1234 {
					t.Fatalf("manifest hfe:lp field_pexpiretime %v", want)
				}
				if len(l.FieldExpires) != len(want) {
					t.Errorf("hfe:lp field_expires %v, want %v", l.FieldExpires, want)
				}
				for f, ms := range want {
					if l.FieldExpires[f] != ms {
						t.Errorf("hfe:lp field_expires %v, want %v", l.FieldExpires, want)
						break
					}
				}
				if p := lines["0/hfe:persisted"]; p == nil || p.FieldExpires != nil {
					t.Errorf("hfe:persisted: field_expires must be left out: %+v", p)
				}
			}
			for id, l := range lines {
				if l.MemberExpires != nil {
					t.Errorf("%q: member_expires in a Redis file", id)
				}
				if l.FieldExpires != nil && len(l.FieldExpires) == 0 {
					t.Errorf("%q: empty field_expires written", id)
				}
			}
		})
	}
}

func TestDumpModule(t *testing.T) {
	lines := dump(t, corpusPath(t, "rdbtools-dumps/redis_40_with_module.rdb"))
	if len(lines) != 2 || string(bytesOf(t, mustLine(t, lines, "0/simplekey").Value)) != "someval" {
		t.Errorf("lines %v", lines)
	}
	l := mustLine(t, lines, "0/foo")
	var m struct {
		Module string `json:"module"`
		Base64 string `json:"base64"`
	}
	d := json.NewDecoder(bytes.NewReader(l.Value))
	d.DisallowUnknownFields()
	if err := d.Decode(&m); err != nil {
		t.Fatalf("module value %s: %v", l.Value, err)
	}
	raw, err := base64.StdEncoding.DecodeString(m.Base64)
	if l.Type != "module" || m.Module != "ReJSON-RL" || err != nil || len(raw) == 0 || raw[len(raw)-1] != 0 {
		t.Errorf("module line: type %q, %+v (%v)", l.Type, m, err)
	}
}

// keydbManifest is the part of a keydb/ manifest used here.
type keydbManifest struct {
	DBs []struct {
		DB   int `json:"db"`
		Keys []struct {
			Key           string          `json:"key"`
			KeyB64        bool            `json:"key_b64"`
			Value         json.RawMessage `json:"value"`
			ValueB64      bool            `json:"value_b64"`
			MemberExpires []keydbME       `json:"member_expires"`
		} `json:"keys"`
	} `json:"dbs"`
	Discrepancies []struct {
		DB                 int       `json:"db"`
		Key                string    `json:"key"`
		MemberExpiresInRDB []keydbME `json:"member_expires_in_rdb"`
	} `json:"rdb_vs_server_discrepancies"`
}

type keydbME struct {
	Member        string `json:"member"`
	MemberB64     bool   `json:"member_b64"`
	ExpireMs      int64  `json:"expire_ms"`
	MemberPresent *bool  `json:"member_present"`
}

func b64(t *testing.T, s string, is bool) string {
	if !is {
		return s
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// keydbExpectations returns, per "db/key", the member expires the RDB
// holds, split into those naming a member of the value and the orphans.
func keydbExpectations(t *testing.T, path string) (present, orphaned map[string]map[string]int64) {
	var m keydbManifest
	loadJSON(t, path, &m)
	override := map[string][]keydbME{}
	for _, d := range m.Discrepancies {
		if d.MemberExpiresInRDB != nil {
			override[strconv.Itoa(d.DB)+"/"+d.Key] = d.MemberExpiresInRDB
		}
	}
	present, orphaned = map[string]map[string]int64{}, map[string]map[string]int64{}
	for _, db := range m.DBs {
		for _, k := range db.Keys {
			id := strconv.Itoa(db.DB) + "/" + b64(t, k.Key, k.KeyB64)
			members := map[string]bool{}
			var v any
			_ = json.Unmarshal(k.Value, &v)
			switch v := v.(type) {
			case []any: // set: members; zset: [member, score]
				for _, e := range v {
					if p, ok := e.([]any); ok {
						e = p[0]
					}
					if s, ok := e.(string); ok {
						members[b64(t, s, k.ValueB64)] = true
					}
				}
			case map[string]any: // hash
				for f := range v {
					members[b64(t, f, k.ValueB64)] = true
				}
			}
			mes := k.MemberExpires
			if o, ok := override[id]; ok {
				mes = o
			}
			for _, me := range mes {
				member := b64(t, me.Member, me.MemberB64)
				dst := orphaned
				if members[member] {
					dst = present
				}
				if dst[id] == nil {
					dst[id] = map[string]int64{}
				}
				dst[id][member] = me.ExpireMs
			}
		}
	}
	return present, orphaned
}

func TestDumpKeyDBMemberExpires(t *testing.T) {
	for _, name := range []string{"keydb-expiremember", "keydb633-expiremember"} {
		t.Run(name, func(t *testing.T) {
			path := corpusPath(t, "keydb/"+name+".rdb")
			present, orphaned := keydbExpectations(t, strings.TrimSuffix(path, ".rdb")+".json")
			if len(orphaned["0/hash:orphan"]) != 1 || len(orphaned["0/hash:bin-mx"]) != 1 {
				t.Fatalf("manifest: orphans %v", orphaned)
			}
			lines := dump(t, path)
			for id, l := range lines {
				got := map[string]int64{}
				for k, ms := range l.MemberExpires {
					got[objectKey(t, k)] = ms
				}
				want := present[id]
				if len(got) != len(want) {
					t.Errorf("%q: member_expires %v, want %v (only members present in the value)", id, got, want)
					continue
				}
				for m, ms := range want {
					if got[m] != ms {
						t.Errorf("%q: member_expires %v, want %v", id, got, want)
						break
					}
				}
			}
			if l := mustLine(t, lines, "0/hash:orphan"); len(l.MemberExpires) != 1 || l.MemberExpires["keep"] != 4102444831000 {
				t.Errorf("hash:orphan: member_expires %v, want only keep", l.MemberExpires)
			}
		})
	}
}

// stats is rdbdump -stats output.
type stats struct {
	RDBVersion            int               `json:"rdb_version"`
	Flavor                string            `json:"flavor"`
	Bytes                 int64             `json:"bytes"`
	Keys                  int64             `json:"keys"`
	KeysByType            map[string]int64  `json:"keys_by_type"`
	KeysByEncoding        map[string]int64  `json:"keys_by_encoding"`
	KeysByDB              map[string]int64  `json:"keys_by_db"`
	KeysWithExpire        int64             `json:"keys_with_expire"`
	ValueBytes            int64             `json:"value_bytes"`
	MemberExpires         int64             `json:"member_expires"`
	OrphanedMemberExpires int64             `json:"orphaned_member_expires"`
	DanglingMemberExpires int               `json:"dangling_member_expires"`
	KeysWithMemberExpires int64             `json:"keys_with_member_expires"`
	Functions             int               `json:"functions"`
	ModuleAux             int               `json:"module_aux"`
	Aux                   map[string]string `json:"aux"`
}

func runStats(t *testing.T, path string) stats {
	t.Helper()
	var out bytes.Buffer
	if err := run(path, true, nil, &out); err != nil {
		t.Fatalf("run -stats %s: %v", path, err)
	}
	var s stats
	d := json.NewDecoder(&out)
	d.DisallowUnknownFields()
	if err := d.Decode(&s); err != nil {
		t.Fatalf("-stats output: %v", err)
	}
	if d.More() {
		t.Errorf("-stats printed more than one object")
	}
	return s
}

func TestDumpStats(t *testing.T) {
	if corpusLocation() == "" {
		t.Skip("RDB corpus not found")
	}
	files, _ := filepath.Glob(filepath.Join(corpusLocation(), "modern", "*.json"))
	legacy, _ := filepath.Glob(filepath.Join(corpusLocation(), "legacy", "*.json"))
	files = append(files, legacy...)
	if len(files) < 19 {
		t.Fatalf("%d manifests", len(files))
	}
	for _, mpath := range files {
		rel := strings.TrimSuffix(filepath.Base(filepath.Dir(mpath))+"/"+filepath.Base(mpath), ".json") + ".rdb"
		t.Run(rel, func(t *testing.T) {
			t.Parallel()
			var m serverManifest
			loadJSON(t, mpath, &m)
			path := corpusPath(t, rel)
			s := runStats(t, path)
			fi, _ := os.Stat(path)
			var keys, withExpire int64
			byDB := map[string]int64{}
			byType := map[string]int64{}
			for db, ks := range m.Databases {
				for _, e := range ks {
					keys++
					byDB[db]++
					byType[e.Type]++
					for _, ttl := range []*int64{e.PExpireTime, e.PTTL, e.TTL} {
						if ttl != nil && *ttl != -1 {
							withExpire++
						}
					}
				}
			}
			if s.Keys != keys || s.KeysWithExpire != withExpire || s.RDBVersion != m.File.RDBVersion || s.Bytes != fi.Size() {
				t.Errorf("keys %d, with expire %d, version %d, bytes %d; want %d, %d, %d, %d",
					s.Keys, s.KeysWithExpire, s.RDBVersion, s.Bytes, keys, withExpire, m.File.RDBVersion, fi.Size())
			}
			if !mapsEqual(s.KeysByDB, byDB) || !mapsEqual(s.KeysByType, byType) {
				t.Errorf("keys_by_db %v, keys_by_type %v; want %v, %v", s.KeysByDB, s.KeysByType, byDB, byType)
			}
			var total int64
			for _, n := range s.KeysByEncoding {
				total += n
			}
			if total != keys {
				t.Errorf("keys_by_encoding %v adds up to %d", s.KeysByEncoding, total)
			}
			var libs []any
			wantFn := 0
			if json.Unmarshal(m.Functions, &libs) == nil {
				wantFn = len(libs)
			}
			wantFlavor := "redis"
			if m.Server.Name == "valkey" {
				wantFlavor = "valkey"
			}
			if s.Functions != wantFn || s.Flavor != wantFlavor || s.MemberExpires != 0 || s.ModuleAux != 0 {
				t.Errorf("functions %d, flavor %q, member expires %d, module aux %d; want %d, %q, 0, 0", s.Functions, s.Flavor, s.MemberExpires, s.ModuleAux, wantFn, wantFlavor)
			}
		})
	}
}

func mapsEqual[V comparable](a, b map[string]V) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestDumpStatsKeyDB(t *testing.T) {
	for _, name := range []string{"keydb-expiremember", "keydb633-expiremember", "keydb-basic"} {
		t.Run(name, func(t *testing.T) {
			path := corpusPath(t, "keydb/"+name+".rdb")
			present, orphaned := keydbExpectations(t, strings.TrimSuffix(path, ".rdb")+".json")
			var all, orph, keys int64
			withME := map[string]bool{}
			for id, m := range present {
				all += int64(len(m))
				withME[id] = true
			}
			for id, m := range orphaned {
				all += int64(len(m))
				orph += int64(len(m))
				withME[id] = true
			}
			var m keydbManifest
			loadJSON(t, strings.TrimSuffix(path, ".rdb")+".json", &m)
			byDB := map[string]int64{}
			for _, db := range m.DBs {
				keys += int64(len(db.Keys))
				byDB[strconv.Itoa(db.DB)] = int64(len(db.Keys))
			}
			s := runStats(t, path)
			if s.Keys != keys || !mapsEqual(s.KeysByDB, byDB) {
				t.Errorf("keys %d by db %v; want %d, %v", s.Keys, s.KeysByDB, keys, byDB)
			}
			if s.MemberExpires != all || s.OrphanedMemberExpires != orph || s.KeysWithMemberExpires != int64(len(withME)) || s.DanglingMemberExpires != 0 {
				t.Errorf("member_expires %d, orphaned %d, keys with them %d, dangling %d; want %d, %d, %d, 0",
					s.MemberExpires, s.OrphanedMemberExpires, s.KeysWithMemberExpires, s.DanglingMemberExpires, all, orph, len(withME))
			}
			wantFlavor := "keydb"
			if all == 0 {
				wantFlavor = "redis" // nothing in keydb-basic.rdb tells KeyDB apart
			}
			if s.Flavor != wantFlavor || s.RDBVersion != 9 {
				t.Errorf("flavor %q, version %d; want %q, 9", s.Flavor, s.RDBVersion, wantFlavor)
			}
		})
	}
}

func TestDumpStdin(t *testing.T) {
	path := corpusPath(t, "hdt3213-cases/listpack.rdb")
	data, _ := os.ReadFile(path)
	var fromFile, fromStdin bytes.Buffer
	if err := run(path, false, nil, &fromFile); err != nil {
		t.Fatal(err)
	}
	if err := run("-", false, bytes.NewReader(data), &fromStdin); err != nil {
		t.Fatal(err)
	}
	if fromFile.String() != fromStdin.String() || fromFile.Len() == 0 {
		t.Errorf("stdin output differs from the file's:\n%s\n%s", fromStdin.String(), fromFile.String())
	}
}

func TestDumpErrors(t *testing.T) {
	corrupt := corpusPath(t, "redis-assets/corrupt_ziplist.rdb")
	good := corpusPath(t, "modern/redis-7.4.1.rdb")
	data, _ := os.ReadFile(good)
	truncated := filepath.Join(t.TempDir(), "truncated.rdb")
	if err := os.WriteFile(truncated, data[:len(data)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path, want string
		stats      bool
	}{
		{corrupt, "key:000000000091", false},
		{truncated, "unexpected EOF", false},
		{truncated, "unexpected EOF", true},
		{filepath.Join(t.TempDir(), "missing.rdb"), "no such file", false},
	} {
		err := run(tc.path, tc.stats, nil, &bytes.Buffer{})
		if err == nil {
			t.Errorf("%s: no error", tc.path)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, tc.path) || !strings.Contains(msg, tc.want) {
			t.Errorf("%s: error %q should name the file and %q", tc.path, msg, tc.want)
		}
		if tc.want != "no such file" && !strings.Contains(msg, "offset ") {
			t.Errorf("%s: error %q does not name the offset", tc.path, msg)
		}
	}
	// Stdin errors are not prefixed with a path.
	err := run("-", false, bytes.NewReader(data[:100]), &bytes.Buffer{})
	if err == nil || !strings.HasPrefix(err.Error(), "rdb: offset ") {
		t.Errorf("stdin: %v", err)
	}
}

// TestMainProcess runs main when re-executed by TestExitStatus.
func TestMainProcess(t *testing.T) {
	if os.Getenv("RDBDUMP_TEST_MAIN") != "1" {
		t.Skip("helper for TestExitStatus")
	}
	os.Args = []string{"rdbdump"}
	if args := os.Getenv("RDBDUMP_TEST_ARGS"); args != "" {
		os.Args = append(os.Args, strings.Split(args, "\n")...)
	}
	flag.CommandLine = flag.NewFlagSet("rdbdump", flag.ExitOnError)
	main()
	os.Exit(0)
}

func TestExitStatus(t *testing.T) {
	good := corpusPath(t, "hdt3213-cases/listpack.rdb")
	data, _ := os.ReadFile(good)
	truncated := filepath.Join(t.TempDir(), "truncated.rdb")
	if err := os.WriteFile(truncated, data[:len(data)-20], 0o644); err != nil {
		t.Fatal(err)
	}
	corrupt := corpusPath(t, "redis-assets/corrupt_ziplist.rdb")
	for _, tc := range []struct {
		args   []string
		status int
		stderr string
	}{
		{[]string{good}, 0, ""},
		{[]string{"-stats", good}, 0, ""},
		{[]string{corrupt}, 1, "rdbdump: " + corrupt + ": rdb: offset "},
		{[]string{truncated}, 1, "unexpected EOF"},
		{[]string{"-stats", truncated}, 1, "offset "},
		{nil, 2, "usage: rdbdump"},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestMainProcess$")
		cmd.Env = append(os.Environ(), "RDBDUMP_TEST_MAIN=1", "RDBDUMP_TEST_ARGS="+strings.Join(tc.args, "\n"))
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		status := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			status = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if status != tc.status || !strings.Contains(stderr.String(), tc.stderr) {
			t.Errorf("rdbdump %q: exit %d, stderr %q; want %d and %q", tc.args, status, stderr.String(), tc.status, tc.stderr)
		}
		if tc.status == 0 && stdout.Len() == 0 {
			t.Errorf("rdbdump %q: no output", tc.args)
		}
	}
}
