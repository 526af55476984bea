package rdb_test

// Differential test against github.com/hdt3213/rdb v1.3.2, an independent Go
// parser: for every corpus file it can read, both parsers must agree on the
// keys, their databases, expirations and values. Files it cannot read are
// logged with its error; they are not failures of this package.

import (
	"bytes"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	hdtcore "github.com/hdt3213/rdb/core"
	hdtmodel "github.com/hdt3213/rdb/model"

	"github.com/rdbferry/rdbferry/rdb"
)

// normKey is a key in a form both parsers can be brought to.
type normKey struct {
	DB     int
	Key    string
	Expire int64 // unix ms, 0 = none
	Type   string
	Value  string // canonical text of the value
}

func (k normKey) id() string { return fmt.Sprintf("db %d key %s", k.DB, strconv.Quote(k.Key)) }

// Canonical value text. Byte strings are Go-quoted; collections the
// parsers may order differently are sorted.

func quoteAll(bs [][]byte) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = strconv.Quote(string(b))
	}
	return out
}

func canonScore(f float64) string {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return fmt.Sprint(f)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// canonFields renders stream entry fields as hdt3213 keeps them: a map.
func canonFields(m map[string]string) string {
	var f []string
	for k, v := range m {
		f = append(f, strconv.Quote(k)+"="+strconv.Quote(v))
	}
	sort.Strings(f)
	return strings.Join(f, " ")
}

func normOurs(k *parsedKey) normKey {
	n := normKey{DB: k.DB, Key: string(k.Key.Key), Expire: k.ExpireAt, Type: kindOf(k.Value)}
	var b strings.Builder
	switch v := k.Value.(type) {
	case rdb.String:
		b.WriteString(strconv.Quote(string(v)))
	case rdb.List:
		b.WriteString(strings.Join(quoteAll(v), " "))
	case rdb.Set:
		s := quoteAll(v)
		sort.Strings(s)
		b.WriteString(strings.Join(s, " "))
	case rdb.ZSet:
		var s []string
		for _, m := range v {
			s = append(s, strconv.Quote(string(m.Member))+"="+canonScore(m.Score))
		}
		sort.Strings(s)
		b.WriteString(strings.Join(s, " "))
	case rdb.Hash:
		var s []string
		for _, f := range v {
			s = append(s, fmt.Sprintf("%q=%q@%d", f.Field, f.Value, f.ExpireAt))
		}
		sort.Strings(s)
		b.WriteString(strings.Join(s, " "))
	case *rdb.Stream:
		for _, e := range v.Entries {
			m := map[string]string{}
			for i := 0; i+1 < len(e.Fields); i += 2 {
				m[string(e.Fields[i])] = string(e.Fields[i+1])
			}
			fmt.Fprintf(&b, "entry %v %s\n", e.ID, canonFields(m))
		}
		fmt.Fprintf(&b, "len %d last %v\n", v.Length, v.LastID)
		if k.Type >= rdb.TypeStreamListpacks2 {
			fmt.Fprintf(&b, "first %v maxdel %v added %d\n", v.FirstID, v.MaxDeletedID, v.EntriesAdded)
		}
		for _, g := range v.Groups {
			fmt.Fprintf(&b, "group %q last %v", g.Name, g.LastID)
			if k.Type >= rdb.TypeStreamListpacks2 {
				fmt.Fprintf(&b, " read %d", g.EntriesRead)
			}
			for _, p := range g.Pending {
				fmt.Fprintf(&b, " pel(%v %d %d)", p.ID, p.DeliveryTime, p.DeliveryCount)
			}
			for _, c := range g.Consumers {
				fmt.Fprintf(&b, " consumer(%q %d %v", c.Name, c.SeenTime, c.Pending)
				if k.Type >= rdb.TypeStreamListpacks3 {
					fmt.Fprintf(&b, " active %d", c.ActiveTime)
				}
				b.WriteString(")")
			}
			b.WriteString("\n")
		}
	case *rdb.Module:
		name, _ := v.Name()
		n.Type = name
	case nil:
		n.Type = "error: " + k.ValueErr.Error()
	default:
		n.Type = fmt.Sprintf("%T", v)
	}
	n.Value = b.String()
	return n
}

func normHDT(o hdtmodel.RedisObject) normKey {
	n := normKey{DB: o.GetDBIndex(), Key: strings.Clone(o.GetKey()), Type: o.GetType()}
	if e := o.GetExpiration(); e != nil {
		n.Expire = e.UnixMilli()
	}
	var b strings.Builder
	switch v := o.(type) {
	case *hdtmodel.StringObject:
		b.WriteString(strconv.Quote(string(v.Value)))
	case *hdtmodel.ListObject:
		b.WriteString(strings.Join(quoteAll(v.Values), " "))
	case *hdtmodel.SetObject:
		s := quoteAll(v.Members)
		sort.Strings(s)
		b.WriteString(strings.Join(s, " "))
	case *hdtmodel.ZSetObject:
		var s []string
		for _, m := range v.Entries {
			s = append(s, strconv.Quote(m.Member)+"="+canonScore(m.Score))
		}
		sort.Strings(s)
		b.WriteString(strings.Join(s, " "))
	case *hdtmodel.HashObject:
		var s []string
		for f, val := range v.Hash {
			s = append(s, fmt.Sprintf("%q=%q@%d", f, val, v.FieldExpirations[f]))
		}
		sort.Strings(s)
		b.WriteString(strings.Join(s, " "))
	case *hdtmodel.StreamObject:
		for _, node := range v.Entries {
			for _, m := range node.Msgs {
				if !m.Deleted {
					fmt.Fprintf(&b, "entry %d-%d %s\n", m.Id.Ms, m.Id.Sequence, canonFields(m.Fields))
				}
			}
		}
		id := func(p *hdtmodel.StreamId) string {
			if p == nil {
				return "0-0"
			}
			return fmt.Sprintf("%d-%d", p.Ms, p.Sequence)
		}
		fmt.Fprintf(&b, "len %d last %s\n", v.Length, id(v.LastId))
		if v.Version >= 2 {
			fmt.Fprintf(&b, "first %s maxdel %s added %d\n", id(v.FirstId), id(v.MaxDeletedId), v.AddedEntriesCount)
		}
		for _, g := range v.Groups {
			fmt.Fprintf(&b, "group %q last %s", g.Name, id(g.LastId))
			if v.Version >= 2 {
				fmt.Fprintf(&b, " read %d", int64(g.EntriesRead))
			}
			for _, p := range g.Pending {
				fmt.Fprintf(&b, " pel(%s %d %d)", id(p.Id), int64(p.DeliveryTime), p.DeliveryCount)
			}
			for _, c := range g.Consumers {
				var ids []string
				for _, p := range c.Pending {
					ids = append(ids, id(p))
				}
				fmt.Fprintf(&b, " consumer(%q %d %v", c.Name, int64(c.SeenTime), ids)
				if v.Version >= 3 {
					fmt.Fprintf(&b, " active %d", int64(c.ActiveTime))
				}
				b.WriteString(")")
			}
			b.WriteString("\n")
		}
	case *hdtmodel.ModuleTypeObject:
		// GetType is the module's type name.
	default:
		n.Type = fmt.Sprintf("%T", v)
	}
	n.Value = b.String()
	return n
}

// hdtParse reads data with hdt3213/rdb and returns its keys, normalised in
// the callback (its strings may alias its buffers).
func hdtParse(data []byte) (keys []normKey, err error) {
	defer func() {
		if e := recover(); e != nil {
			err = fmt.Errorf("panic: %v", e)
		}
	}()
	dec := hdtcore.NewDecoder(bytes.NewReader(data))
	err = dec.Parse(func(o hdtmodel.RedisObject) bool {
		keys = append(keys, normHDT(o))
		return true
	})
	return keys, err
}

func TestDifferentialHDT3213(t *testing.T) {
	var (
		mu              sync.Mutex
		agreed, refused []string
	)
	t.Cleanup(func() {
		t.Logf("hdt3213/rdb v1.3.2 agrees with rdb on %d files; cannot read %d:\n  %s",
			len(agreed), len(refused), strings.Join(refused, "\n  "))
	})
	for _, rel := range corpusRDBFiles(t) {
		if _, bad := corruptFiles[rel]; bad {
			continue
		}
		t.Run(rel, func(t *testing.T) {
			t.Parallel()
			data := readCorpus(t, rel)
			theirs, err := hdtParse(data)
			if err != nil {
				mu.Lock()
				refused = append(refused, fmt.Sprintf("%s: %v", rel, err))
				mu.Unlock()
				t.Logf("hdt3213/rdb cannot read %s: %v", rel, err)
				return
			}
			p := parseCorpus(t, rel)
			if p.Err != nil {
				t.Fatalf("%s: hdt3213/rdb reads it, rdb fails: %v", rel, p.Err)
			}
			ours := make(map[string]normKey, len(p.Keys))
			skip := map[string]bool{}
			for _, k := range p.Keys {
				n := normOurs(k)
				if k.ValueErr != nil && redisRefusesValue[rel] == string(k.Key.Key) {
					skip[n.id()] = true // rejected as Redis does (conformance_test.go)
					continue
				}
				ours[n.id()] = n
			}
			seen := map[string]bool{}
			for _, h := range theirs {
				id := h.id()
				if skip[id] {
					t.Logf("%s: %s: rdb rejects it like Redis; hdt3213 reads %s %q", rel, id, h.Type, h.Value)
					continue
				}
				o, ok := ours[id]
				if !ok {
					t.Errorf("%s: %s: hdt3213 has it (%s), rdb does not", rel, id, h.Type)
					continue
				}
				seen[id] = true
				if o.Type != h.Type {
					t.Errorf("%s: %s: type %s, hdt3213 says %s", rel, id, o.Type, h.Type)
					continue
				}
				if o.Expire != h.Expire {
					t.Errorf("%s: %s: expire %d, hdt3213 says %d", rel, id, o.Expire, h.Expire)
				}
				if o.Value != h.Value {
					t.Errorf("%s: %s: values differ:\n rdb:     %s\n hdt3213: %s", rel, id, clip(o.Value), clip(h.Value))
				}
			}
			for id := range ours {
				if !seen[id] {
					t.Errorf("%s: %s: rdb has it, hdt3213 does not", rel, id)
				}
			}
			if !t.Failed() {
				mu.Lock()
				agreed = append(agreed, rel)
				mu.Unlock()
			}
		})
	}
}

// clip shortens long canonical values for messages to their head and tail.
func clip(s string) string {
	if len(s) <= 400 {
		return s
	}
	return s[:300] + " … " + s[len(s)-80:]
}
