package benchdata

import (
	"io"

	"github.com/hdt3213/rdb/core"
	"github.com/hdt3213/rdb/model"

	"github.com/rdbferry/rdbferry/rdb"
)

// The measured methods. Each reads src to its end and returns the number of
// keys it met (NoParse: 0). Give them an unbuffered *os.File: rdb.Reader and
// hdt3213's decoder (bufio.NewReader, 4 KiB) buffer their input themselves.

// NoParseBufferSize is NoParse's read size: that of rdb.Reader's buffer.
const NoParseBufferSize = 256 << 10

// Sink keeps the compiler from dropping what the methods touch.
var Sink int

// NoParse reads src with io.CopyBuffer to io.Discard in NoParseBufferSize
// reads: the I/O limit.
func NoParse(src io.Reader) (int64, error) {
	buf := make([]byte, NoParseBufferSize)
	// Hide WriterTo/ReaderFrom so that the buffer is used as given.
	_, err := io.CopyBuffer(struct{ io.Writer }{io.Discard}, struct{ io.Reader }{src}, buf)
	return 0, err
}

// eachKey calls rdb.Reader.Next over every record of src and fn for every
// key, and returns the number of keys.
func eachKey(src io.Reader, fn func(k *rdb.Key) error) (int64, error) {
	r := rdb.NewReader(src)
	var keys int64
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return keys, nil
		}
		if err != nil {
			return keys, err
		}
		if k, ok := rec.(*rdb.Key); ok {
			if err := fn(k); err != nil {
				return keys, err
			}
			keys++
		}
	}
}

// Scan calls rdb.Reader.Next over every record and touches Key and Raw of
// every key, decoding nothing.
func Scan(src io.Reader) (int64, error) {
	return eachKey(src, func(k *rdb.Key) error {
		Sink += len(k.Key) + len(k.Raw)
		if len(k.Raw) > 0 {
			Sink ^= int(k.Raw[0])
		}
		return nil
	})
}

// Decode calls rdb.Reader.Next over every record and decodes every key's
// value with one rdb.Decoder, which reuses the values' memory.
func Decode(src io.Reader) (int64, error) {
	var d rdb.Decoder
	return eachKey(src, func(k *rdb.Key) error {
		v, err := d.Decode(k)
		if err == nil {
			Sink += int(v.Kind())
		}
		return err
	})
}

// DecodeEach calls rdb.Reader.Next over every record and Key.Value for
// every key: new memory for every value.
func DecodeEach(src io.Reader) (int64, error) {
	return eachKey(src, func(k *rdb.Key) error {
		v, err := k.Value()
		if err == nil {
			Sink += int(v.Kind())
		}
		return err
	})
}

// Hdt3213 parses src with github.com/hdt3213/rdb v1.3.2:
// core.NewDecoder(src).Parse(cb), cb counting the objects.
func Hdt3213(src io.Reader) (int64, error) {
	var keys int64
	err := core.NewDecoder(src).Parse(func(o model.RedisObject) bool {
		keys++
		Sink += len(o.GetKey())
		return true
	})
	return keys, err
}
