package resp

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

// readAll reads replies from r until an error, cloning each.
func readAll(r *Reader) ([]Reply, error) {
	r.SetMaxBulk(1 << 20)
	r.SetMaxElements(1 << 16)
	var out []Reply
	for {
		x, err := r.ReadReply()
		if err != nil {
			return out, err
		}
		out = append(out, x.Clone())
	}
}

func FuzzReadReply(f *testing.F) {
	for _, c := range replyCases {
		f.Add([]byte(c.wire))
	}
	wire, _ := stream()
	f.Add([]byte(wire))
	for _, s := range []string{
		"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n+OK\r\n:1\r\n",
		"%2\r\n+a\r\n*1\r\n|1\r\n+x\r\n+y\r\n:1\r\n+b\r\n~1\r\n,1e5\r\n",
		">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n",
		"$-1\r\n*-1\r\n_\r\n#t\r\n(99\r\n=5\r\ntxt:x\r\n!3\r\nERR\r\n",
		"*1\r\n*1\r\n*1\r\n*1\r\n:0\r\n",
		"$3\r\nabcXY",
		"?\r\n",
		"*16777217\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		whole, err1 := readAll(NewReaderSize(bytes.NewReader(data), 64))
		bytewise, err2 := readAll(NewReaderSize(iotest.OneByteReader(bytes.NewReader(data)), 64))
		if len(whole) != len(bytewise) || (err1 == nil) != (err2 == nil) || err1 != nil && err1.Error() != err2.Error() {
			t.Fatalf("whole: %d replies, %v; one byte at a time: %d replies, %v", len(whole), err1, len(bytewise), err2)
		}
		var pe *ProtocolError
		if err1 != io.EOF && err1 != io.ErrUnexpectedEOF && !errors.As(err1, &pe) {
			t.Fatalf("unexpected error %v", err1)
		}
		for i := range whole {
			if !equal(whole[i], bytewise[i]) {
				t.Fatalf("reply %d: %v vs %v", i, whole[i], bytewise[i])
			}
			enc := AppendReply(nil, whole[i])
			again, err := NewReader(bytes.NewReader(enc)).ReadReply()
			if err != nil || !equal(again, whole[i]) {
				t.Fatalf("reply %d %v re-encoded as %q: %v %v", i, whole[i], enc, again, err)
			}
			_ = whole[i].String()
		}
	})
}

func FuzzEOFMarkReader(f *testing.F) {
	f.Add([]byte("payload..abcabd.."), []byte("abd"), uint8(3))
	f.Add([]byte("aaaaaaab"), []byte("aab"), uint8(1))
	f.Add([]byte("no mark here"), []byte("xyz"), uint8(5))
	f.Fuzz(func(t *testing.T, data, mark []byte, chunk uint8) {
		if len(mark) == 0 || len(mark) > 64 {
			return
		}
		idx := bytes.Index(data, mark)
		size := int(chunk%16) + 1
		var chunks [][]byte
		for rest := data; len(rest) > 0; {
			k := min(size, len(rest))
			chunks = append(chunks, rest[:k])
			rest = rest[k:]
		}
		for name, mk := range markSources(chunks) {
			src, rest := mk()
			got, err := io.ReadAll(iotest.OneByteReader(EOFMarkReader(src, mark)))
			if idx < 0 {
				if err != io.ErrUnexpectedEOF {
					t.Fatalf("%s: no mark: %v", name, err)
				}
				continue
			}
			if err != nil || !bytes.Equal(got, data[:idx]) || !bytes.Equal(rest(), data[idx+len(mark):]) {
				t.Fatalf("%s: got %q %v, want %q", name, got, err, data[:idx])
			}
		}
	})
}
