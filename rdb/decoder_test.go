package rdb_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/rdbferry/rdbferry/internal/rdbtest"
	"github.com/rdbferry/rdbferry/rdb"
)

// exactly renders a value with its order and every field (pointers
// followed), so that two decodings compare equal only when they are.
func exactly(v rdb.Value) string {
	switch v := v.(type) {
	case *rdb.Stream:
		return fmt.Sprintf("%+v %+v", *v, v.IDMP)
	case *rdb.Module:
		return fmt.Sprintf("%+v", *v)
	case *rdb.Cron:
		return fmt.Sprintf("%+v", *v)
	}
	return fmt.Sprintf("%T %+v", v, v)
}

// TestDecoderMatchesKeyValue decodes every key of every corpus file twice,
// with Key.Value and with one Decoder for the whole file, and compares the
// two, order included. Every value is rendered before the next Decode,
// which may reuse its memory.
func TestDecoderMatchesKeyValue(t *testing.T) {
	files := corpusRDBFiles(t)
	for _, rel := range files {
		data := readCorpus(t, rel)
		r := rdb.NewReader(bytes.NewReader(data))
		var d rdb.Decoder
		for {
			rec, err := r.Next()
			if err != nil {
				break // conformance tests judge the files; here only values count
			}
			k, ok := rec.(*rdb.Key)
			if !ok {
				continue
			}
			want, wantErr := k.Value()
			got, gotErr := d.Decode(k)
			if (wantErr == nil) != (gotErr == nil) || (wantErr != nil && wantErr.Error() != gotErr.Error()) {
				t.Fatalf("%s: Key.Value error %v, Decoder error %v", where(rel, k.DB, k.Key), wantErr, gotErr)
			}
			if wantErr != nil {
				continue
			}
			if w, g := exactly(want), exactly(got); w != g {
				t.Fatalf("%s: Decoder gives\n%.300s\nKey.Value gives\n%.300s", where(rel, k.DB, k.Key), g, w)
			}
			if w, g := rdbtest.Canonical(want, true), rdbtest.Canonical(got, true); w != g {
				t.Fatalf("%s: canonical forms differ:\n%.300s\n%.300s", where(rel, k.DB, k.Key), g, w)
			}
		}
	}
	if len(files) == 0 {
		t.Skip("no corpus")
	}
}
