package resp

import (
	"errors"
	"io"
	"strconv"
)

// DefaultBufferSize is the buffer size of [NewReader] and [NewWriter].
const DefaultBufferSize = 16 << 10

// minBufferSize is the smallest buffer NewReaderSize and NewWriterSize
// use: large enough for any length header.
const minBufferSize = 64

// maxHeader bounds the length of a "*<n>\r\n" or "$<n>\r\n" header.
const maxHeader = 1 + 20 + 2

var (
	errEmptyCommand = errors.New("resp: command without arguments")
	errNegative     = errors.New("resp: negative length")
)

// Writer writes RESP commands to an io.Writer through a buffer of fixed
// size that it owns. Small writes are copied into the buffer; a write
// larger than the space left fills the buffer, flushes it and passes the
// rest to the underlying writer directly, without copying (like
// bufio.Writer). Writer keeps no reference to the caller's slices after a
// method returns.
//
// After an error from the underlying writer, or a misuse of the bulk
// string framing that may have corrupted the stream (see
// [Writer.WriteBulkHeader]), every method returns that error: the
// connection must be closed. [Writer.Reset] clears it.
type Writer struct {
	wr   io.Writer
	buf  []byte // buffered bytes; cap(buf) is the buffer size and never changes
	err  error
	bulk int // bytes still due in the bulk string opened by WriteBulkHeader; -1 if none
}

// NewWriter returns a Writer with a buffer of [DefaultBufferSize] bytes.
func NewWriter(w io.Writer) *Writer { return NewWriterSize(w, DefaultBufferSize) }

// NewWriterSize returns a Writer with a buffer of at least size bytes (at
// least 64).
func NewWriterSize(w io.Writer, size int) *Writer {
	if size < minBufferSize {
		size = minBufferSize
	}
	return &Writer{wr: w, buf: make([]byte, 0, size), bulk: -1}
}

// Reset discards any buffered data and error, and makes w write to dst.
func (w *Writer) Reset(dst io.Writer) {
	w.wr = dst
	w.buf = w.buf[:0]
	w.err = nil
	w.bulk = -1
}

// Buffered returns the number of bytes written into the buffer and not
// yet flushed.
func (w *Writer) Buffered() int { return len(w.buf) }

// Available returns the free space in the buffer.
func (w *Writer) Available() int { return cap(w.buf) - len(w.buf) }

// Flush writes the buffered data to the underlying writer. It may be
// called in the middle of a bulk string (to stream a big payload).
func (w *Writer) Flush() error {
	if w.err != nil {
		return w.err
	}
	if len(w.buf) == 0 {
		return nil
	}
	n, err := w.wr.Write(w.buf)
	if n < len(w.buf) && err == nil {
		err = io.ErrShortWrite
	}
	if err != nil {
		if n > 0 && n < len(w.buf) {
			w.buf = w.buf[:copy(w.buf, w.buf[n:])]
		}
		w.err = err
		return err
	}
	w.buf = w.buf[:0]
	return nil
}

// reserve makes room for n <= minBufferSize bytes in the buffer.
func (w *Writer) reserve(n int) bool {
	if cap(w.buf)-len(w.buf) < n {
		w.Flush()
	}
	return w.err == nil
}

// header buffers "<c><n>\r\n".
func (w *Writer) header(c byte, n int64) {
	if w.reserve(maxHeader) {
		w.buf = appendHeader(w.buf, c, n)
	}
}

// crlf buffers "\r\n".
func (w *Writer) crlf() {
	if w.reserve(2) {
		w.buf = append(w.buf, '\r', '\n')
	}
}

// write buffers p, or writes most of it directly when it does not fit.
func (w *Writer) write(p []byte) {
	for len(p) > cap(w.buf)-len(w.buf) && w.err == nil {
		if len(w.buf) == 0 {
			// Empty buffer: write p directly rather than copy it.
			n, err := w.wr.Write(p)
			if n < len(p) && err == nil {
				err = io.ErrShortWrite
			}
			w.err = err
			return
		}
		n := copy(w.buf[len(w.buf):cap(w.buf)], p)
		w.buf = w.buf[:len(w.buf)+n]
		p = p[n:]
		w.Flush()
	}
	if w.err == nil {
		w.buf = append(w.buf, p...)
	}
}

// writeString is write for a string; big strings are copied through the
// buffer in chunks.
func (w *Writer) writeString(s string) {
	for len(s) > cap(w.buf)-len(w.buf) && w.err == nil {
		n := copy(w.buf[len(w.buf):cap(w.buf)], s)
		w.buf = w.buf[:len(w.buf)+n]
		s = s[n:]
		w.Flush()
	}
	if w.err == nil {
		w.buf = append(w.buf, s...)
	}
}

// check returns the sticky error, or makes one when a bulk string opened
// by WriteBulkHeader is still due.
func (w *Writer) check() error {
	if w.err == nil && w.bulk >= 0 {
		w.err = errors.New("resp: write of a new RESP element while a bulk string of " +
			strconv.Itoa(w.bulk) + " more bytes is due (WriteBulkHeader without WriteBulkEnd)")
	}
	return w.err
}

// WriteCommand writes args as one command: an array of bulk strings. A
// command with no arguments is refused (Redis would silently ignore it and
// send no reply).
func (w *Writer) WriteCommand(args ...[]byte) error {
	if err := w.check(); err != nil {
		return err
	}
	if len(args) == 0 {
		return errEmptyCommand
	}
	w.header('*', int64(len(args)))
	for _, a := range args {
		w.header('$', int64(len(a)))
		w.write(a)
		w.crlf()
	}
	return w.err
}

// WriteCommandStrings is WriteCommand for string arguments.
func (w *Writer) WriteCommandStrings(args ...string) error {
	if err := w.check(); err != nil {
		return err
	}
	if len(args) == 0 {
		return errEmptyCommand
	}
	w.header('*', int64(len(args)))
	for _, a := range args {
		w.header('$', int64(len(a)))
		w.writeString(a)
		w.crlf()
	}
	return w.err
}

// WriteArrayHeader writes "*<n>\r\n", the start of a command of n
// arguments, each of which must then be written as a bulk string
// (WriteBulk, WriteBulkString, WriteBulkInt, or WriteBulkHeader + WriteRaw
// + WriteBulkEnd). The Writer does not count the arguments.
func (w *Writer) WriteArrayHeader(n int) error {
	if err := w.check(); err != nil {
		return err
	}
	if n < 0 {
		return errNegative
	}
	w.header('*', int64(n))
	return w.err
}

// WriteBulk writes p as one bulk string: "$<len>\r\n<p>\r\n".
func (w *Writer) WriteBulk(p []byte) error {
	if err := w.check(); err != nil {
		return err
	}
	w.header('$', int64(len(p)))
	w.write(p)
	w.crlf()
	return w.err
}

// WriteBulkString writes s as one bulk string.
func (w *Writer) WriteBulkString(s string) error {
	if err := w.check(); err != nil {
		return err
	}
	w.header('$', int64(len(s)))
	w.writeString(s)
	w.crlf()
	return w.err
}

// WriteBulkInt writes the decimal form of n as one bulk string (a TTL, an
// IDLETIME or a count argument), without allocating.
func (w *Writer) WriteBulkInt(n int64) error {
	if err := w.check(); err != nil {
		return err
	}
	var tmp [20]byte
	d := strconv.AppendInt(tmp[:0], n, 10)
	if w.reserve(maxHeader + len(d) + 2) {
		w.buf = appendHeader(w.buf, '$', int64(len(d)))
		w.buf = append(w.buf, d...)
		w.buf = append(w.buf, '\r', '\n')
	}
	return w.err
}

// WriteBulkHeader writes "$<size>\r\n" and opens a bulk string whose size
// bytes the caller then writes with any number of WriteRaw (or Write)
// calls, ending it with WriteBulkEnd. This streams one big argument, such
// as a RESTORE payload made of a type byte, the serialized value and the
// 10-byte footer, without assembling it in memory. The Writer counts the
// bytes: writing more than size bytes, calling WriteBulkEnd early, or
// starting another element before WriteBulkEnd makes the error sticky,
// because the server would otherwise read the stream out of step.
func (w *Writer) WriteBulkHeader(size int) error {
	if err := w.check(); err != nil {
		return err
	}
	if size < 0 {
		return errNegative
	}
	w.header('$', int64(size))
	if w.err == nil {
		w.bulk = size
	}
	return w.err
}

// WriteRaw writes p as is: inside a bulk string opened by
// WriteBulkHeader, the next len(p) bytes of its content; outside one, raw
// protocol bytes (the caller is responsible for their framing). A p larger
// than the free buffer space is written mostly without copying.
func (w *Writer) WriteRaw(p []byte) error {
	_, err := w.Write(p)
	return err
}

// Write is WriteRaw as an io.Writer, so that an encoder can write a bulk
// string's content straight into w. It returns len(p) or an error.
func (w *Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.bulk >= 0 {
		if len(p) > w.bulk {
			w.err = errors.New("resp: " + strconv.Itoa(len(p)) + "-byte write exceeds the " +
				strconv.Itoa(w.bulk) + " bytes left in the bulk string opened by WriteBulkHeader")
			return 0, w.err
		}
		w.bulk -= len(p)
	}
	w.write(p)
	if w.err != nil {
		return 0, w.err
	}
	return len(p), nil
}

// WriteByte writes one raw byte, like WriteRaw (and is counted against an
// open bulk string the same way): the type byte of a RESTORE payload
// without a slice that would escape to the heap.
func (w *Writer) WriteByte(c byte) error {
	if w.err != nil {
		return w.err
	}
	if w.bulk >= 0 {
		if w.bulk == 0 {
			w.err = errors.New("resp: 1-byte write exceeds the 0 bytes left in the bulk string opened by WriteBulkHeader")
			return w.err
		}
		w.bulk--
	}
	if w.reserve(1) {
		w.buf = append(w.buf, c)
	}
	return w.err
}

// WriteBulkEnd ends the bulk string opened by WriteBulkHeader with CRLF.
// It fails (stickily) unless exactly the announced number of bytes was
// written.
func (w *Writer) WriteBulkEnd() error {
	if w.err != nil {
		return w.err
	}
	if w.bulk != 0 {
		if w.bulk < 0 {
			w.err = errors.New("resp: WriteBulkEnd without WriteBulkHeader")
		} else {
			w.err = errors.New("resp: WriteBulkEnd with " + strconv.Itoa(w.bulk) +
				" bytes of the bulk string still due")
		}
		return w.err
	}
	w.bulk = -1
	w.crlf()
	return w.err
}

// WriteReply writes the encoding of x as [AppendReply] makes it, for
// servers and test fakes. It allocates a temporary buffer.
func (w *Writer) WriteReply(x Reply) error {
	if err := w.check(); err != nil {
		return err
	}
	w.write(AppendReply(nil, x))
	return w.err
}

// AppendCommand appends args as one command (an array of bulk strings) to
// dst and returns the extended buffer, for callers that build pipelines
// themselves.
func AppendCommand(dst []byte, args ...[]byte) []byte {
	dst = appendHeader(dst, '*', int64(len(args)))
	for _, a := range args {
		dst = appendBulk(dst, a)
	}
	return dst
}

// AppendCommandStrings is AppendCommand for string arguments.
func AppendCommandStrings(dst []byte, args ...string) []byte {
	dst = appendHeader(dst, '*', int64(len(args)))
	for _, a := range args {
		dst = appendHeader(dst, '$', int64(len(a)))
		dst = append(dst, a...)
		dst = append(dst, '\r', '\n')
	}
	return dst
}

func appendHeader(dst []byte, c byte, n int64) []byte {
	dst = append(dst, c)
	if n >= 0 && n < 10 {
		dst = append(dst, byte('0'+n))
	} else {
		dst = strconv.AppendInt(dst, n, 10)
	}
	return append(dst, '\r', '\n')
}

func appendBulk(dst, p []byte) []byte {
	dst = appendHeader(dst, '$', int64(len(p)))
	dst = append(dst, p...)
	return append(dst, '\r', '\n')
}
