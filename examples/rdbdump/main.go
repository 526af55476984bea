// Command rdbdump prints the contents of an RDB file: one JSON object per key
// and line, in file order, or with -stats one JSON object of totals.
//
//	go run ./examples/rdbdump [-stats] FILE    (FILE "-" reads stdin)
//
// Per key:
//
//	{"db":0,"key":K,"type":T,"expire_at":MS,"value":V,"field_expires":{F:MS},"member_expires":{M:MS}}
//
// expire_at, field_expires and member_expires are left out when empty. T is
// string, list, set, zset, hash, stream, module or cron. Byte strings are
// JSON strings when they are valid UTF-8, else {"base64":"…"}; as object keys
// (field_expires, member_expires) such bytes are written "base64:…". V is a
// string; an array of strings for list and set; an array of [member, score]
// for zset (score a number, or "inf", "-inf", "nan"); an array of
// [field, value] for hash; for stream
// {"entries":[[id,[f,v,…]],…],"groups":[{"name":…,"last_delivered_id":…,"pending":[…]}]};
// for module {"module":name,"base64":raw}; for KeyDB cron jobs
// {"script":…,"start_ms":…,"interval_ms":…,"keys":[…],"args":[…]}.
// member_expires lists KeyDB member expirations of members present in the
// value; -stats counts those naming absent members as orphaned.
//
// The exit status is 0 only when the whole file was read and its checksum
// verified; otherwise the error, with its byte offset, goes to stderr.
package main

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/rdbferry/rdbferry/internal/jsonenc"
	"github.com/rdbferry/rdbferry/rdb"
)

func main() {
	stats := flag.Bool("stats", false, "print totals only (does not decode values)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: rdbdump [-stats] FILE\n\nFILE - reads standard input.\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(flag.Arg(0), *stats, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "rdbdump:", err)
		os.Exit(1)
	}
}

func run(path string, stats bool, stdin io.Reader, stdout io.Writer) error {
	src := stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		src = f
	}
	out := bufio.NewWriterSize(stdout, 256<<10)
	var err error
	if stats {
		err = printStats(rdb.NewReader(src), out)
	} else {
		err = printKeys(rdb.NewReader(src), out)
	}
	if ferr := out.Flush(); err == nil {
		err = ferr
	}
	if err != nil && path != "-" {
		err = fmt.Errorf("%s: %w", path, err)
	}
	return err
}

func printKeys(r *rdb.Reader, out *bufio.Writer) error {
	var line []byte
	var values rdb.Decoder
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		k, ok := rec.(*rdb.Key)
		if !ok {
			continue
		}
		v, err := values.Decode(k) // printed before the next Decode
		if err != nil {
			return err
		}
		line = appendKey(line[:0], k, v)
		line = append(line, '\n')
		if _, err := out.Write(line); err != nil {
			return err
		}
	}
}

func appendKey(b []byte, k *rdb.Key, v rdb.Value) []byte {
	b = append(b, `{"db":`...)
	b = strconv.AppendInt(b, int64(k.DB), 10)
	b = append(b, `,"key":`...)
	b = jsonenc.AppendBytes(b, k.Key)
	b = append(b, `,"type":"`...)
	b = append(b, v.Kind().String()...)
	b = append(b, '"')
	if k.ExpireAt != 0 {
		b = append(b, `,"expire_at":`...)
		b = strconv.AppendInt(b, k.ExpireAt, 10)
	}
	b = append(b, `,"value":`...)
	b = appendValue(b, v)
	if h, ok := v.(rdb.Hash); ok {
		first := true
		for _, f := range h {
			if f.ExpireAt == 0 {
				continue
			}
			if first {
				b = append(b, `,"field_expires":{`...)
			} else {
				b = append(b, ',')
			}
			first = false
			b = jsonenc.AppendKey(b, f.Field)
			b = append(b, ':')
			b = strconv.AppendInt(b, f.ExpireAt, 10)
		}
		if !first {
			b = append(b, '}')
		}
	}
	if len(k.MemberExpires) > 0 {
		present := members(v)
		first := true
		for _, m := range k.MemberExpires {
			if !present[string(m.Member)] {
				continue
			}
			if first {
				b = append(b, `,"member_expires":{`...)
			} else {
				b = append(b, ',')
			}
			first = false
			b = jsonenc.AppendKey(b, m.Member)
			b = append(b, ':')
			b = strconv.AppendInt(b, m.ExpireAt, 10)
		}
		if !first {
			b = append(b, '}')
		}
	}
	return append(b, '}')
}

// members returns the set of members (set, zset) or fields (hash) of v; for
// KeyDB cron jobs the key expires itself, which appears as its own member.
func members(v rdb.Value) map[string]bool {
	m := map[string]bool{}
	switch v := v.(type) {
	case rdb.Set:
		for _, s := range v {
			m[string(s)] = true
		}
	case rdb.ZSet:
		for _, z := range v {
			m[string(z.Member)] = true
		}
	case rdb.Hash:
		for _, f := range v {
			m[string(f.Field)] = true
		}
	}
	return m
}

func appendStrings(b []byte, ss [][]byte) []byte {
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonenc.AppendBytes(b, s)
	}
	return append(b, ']')
}

func appendValue(b []byte, v rdb.Value) []byte {
	switch v := v.(type) {
	case rdb.String:
		return jsonenc.AppendBytes(b, v)
	case rdb.List:
		return appendStrings(b, v)
	case rdb.Set:
		return appendStrings(b, v)
	case rdb.ZSet:
		b = append(b, '[')
		for i, z := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '[')
			b = jsonenc.AppendBytes(b, z.Member)
			b = append(b, ',')
			b = jsonenc.AppendFloat(b, z.Score)
			b = append(b, ']')
		}
		return append(b, ']')
	case rdb.Hash:
		b = append(b, '[')
		for i, f := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '[')
			b = jsonenc.AppendBytes(b, f.Field)
			b = append(b, ',')
			b = jsonenc.AppendBytes(b, f.Value)
			b = append(b, ']')
		}
		return append(b, ']')
	case *rdb.Stream:
		return appendStream(b, v)
	case *rdb.Module:
		name, _ := v.Name()
		b = append(b, `{"module":`...)
		b = jsonenc.AppendString(b, name)
		b = append(b, `,"base64":"`...)
		b = base64.StdEncoding.AppendEncode(b, v.Raw)
		return append(b, `"}`...)
	case *rdb.Cron:
		b = append(b, `{"script":`...)
		b = jsonenc.AppendBytes(b, v.Script)
		b = append(b, `,"start_ms":`...)
		b = strconv.AppendInt(b, v.StartMs, 10)
		b = append(b, `,"interval_ms":`...)
		b = strconv.AppendInt(b, v.IntervalMs, 10)
		b = append(b, `,"keys":`...)
		b = appendStrings(b, v.Keys)
		b = append(b, `,"args":`...)
		b = appendStrings(b, v.Args)
		return append(b, '}')
	}
	return append(b, "null"...)
}

func appendStream(b []byte, s *rdb.Stream) []byte {
	b = append(b, `{"entries":[`...)
	for i, e := range s.Entries {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `["`...)
		b = append(b, e.ID.String()...)
		b = append(b, `",`...)
		b = appendStrings(b, e.Fields)
		b = append(b, ']')
	}
	b = append(b, `],"length":`...)
	b = strconv.AppendUint(b, s.Length, 10)
	b = append(b, `,"last_id":"`...)
	b = append(b, s.LastID.String()...)
	b = append(b, `","groups":[`...)
	for i, g := range s.Groups {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":`...)
		b = jsonenc.AppendBytes(b, g.Name)
		b = append(b, `,"last_delivered_id":"`...)
		b = append(b, g.LastID.String()...)
		b = append(b, `","pending":[`...)
		for j, p := range g.Pending {
			if j > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"id":"`...)
			b = append(b, p.ID.String()...)
			b = append(b, `","consumer":`...)
			if p.Consumer == nil {
				b = append(b, "null"...)
			} else {
				b = jsonenc.AppendBytes(b, p.Consumer)
			}
			b = append(b, `,"delivery_count":`...)
			b = strconv.AppendUint(b, p.DeliveryCount, 10)
			b = append(b, `,"delivery_time":`...)
			b = strconv.AppendInt(b, p.DeliveryTime, 10)
			b = append(b, '}')
		}
		b = append(b, `],"consumers":`...)
		names := make([][]byte, len(g.Consumers))
		for j, c := range g.Consumers {
			names[j] = c.Name
		}
		b = appendStrings(b, names)
		b = append(b, '}')
	}
	return append(b, "]}"...)
}

// totals is what -stats prints.
type totals struct {
	RDBVersion            int               `json:"rdb_version"`
	Flavor                string            `json:"flavor"`
	Bytes                 int64             `json:"bytes"`
	Keys                  int64             `json:"keys"`
	KeysByType            map[string]int64  `json:"keys_by_type"`
	KeysByEncoding        map[string]int64  `json:"keys_by_encoding"`
	KeysByDB              map[int]int64     `json:"keys_by_db"`
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

// printStats reads the whole file without decoding values, except the
// values of keys with KeyDB member expirations (to tell orphaned ones).
func printStats(r *rdb.Reader, out *bufio.Writer) error {
	t := totals{KeysByType: map[string]int64{}, KeysByEncoding: map[string]int64{}, KeysByDB: map[int]int64{}, Aux: map[string]string{}}
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		switch rec := rec.(type) {
		case *rdb.Key:
			t.Keys++
			t.KeysByType[rec.Type.Kind().String()]++
			t.KeysByEncoding[rec.Type.String()]++
			t.KeysByDB[rec.DB]++
			t.ValueBytes += int64(len(rec.Raw))
			if rec.ExpireAt != 0 {
				t.KeysWithExpire++
			}
			if n := len(rec.MemberExpires); n > 0 {
				t.KeysWithMemberExpires++
				t.MemberExpires += int64(n)
				v, err := rec.Value()
				if err != nil {
					return err
				}
				present := members(v)
				for _, m := range rec.MemberExpires {
					if !present[string(m.Member)] {
						t.OrphanedMemberExpires++
					}
				}
			}
		case *rdb.Aux:
			t.Aux[rec.Key] = rec.Value
		case *rdb.Function:
			t.Functions++
		case *rdb.ModuleAux:
			t.ModuleAux++
		}
	}
	t.RDBVersion = r.Version()
	t.Flavor = r.Flavor().String()
	t.Bytes = r.Offset()
	t.DanglingMemberExpires = r.Stats().DanglingMemberExpires
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	return enc.Encode(t)
}
