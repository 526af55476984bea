package resp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
)

// Limits of a [Reader].
const (
	// DefaultMaxBulk is the default limit on the length of a bulk string,
	// blob error, verbatim string or line: 1 GiB.
	DefaultMaxBulk = 1 << 30
	// DefaultMaxElements is the default limit on the number of elements of
	// one array, set, push or map (counting a map's keys and values).
	DefaultMaxElements = 1 << 24
	// MaxDepth is how deeply aggregates (arrays, maps, sets, pushes and
	// attributes) may nest.
	MaxDepth = 64
)

// maxConsecutiveEmptyReads is how many (0, nil) reads of the underlying
// reader are tolerated before io.ErrNoProgress, as in bufio.
const maxConsecutiveEmptyReads = 100

// retainBuffer is the largest buffer a Reader keeps once the reply that
// needed it has been consumed; bigger ones are dropped for a buffer of
// the initial size.
const retainBuffer = 1 << 20

// retainElems is the largest element slab a Reader keeps between replies.
const retainElems = 1 << 16

var errBadRead = errors.New("resp: underlying reader returned an invalid count from Read")

// Reader reads RESP replies, lines and raw bytes from an io.Reader through
// a buffer it owns. The buffer starts at the size given to
// [NewReaderSize] and grows while a reply that does not fit is read, only
// as data actually arrives (a forged "$2147483647" header allocates nothing
// up front); once the reply is consumed a grown buffer above 1 MiB is
// dropped again.
//
// Slices returned by ReadReply (inside the Reply), ReadLine and Peek alias
// the Reader's memory and are valid only until the next call of a method
// that reads. See the package documentation.
type Reader struct {
	rd       io.Reader
	buf      []byte
	r, w     int   // buf[r:w] is buffered, unread data
	consumed int64 // stream offset of buf[r]
	err      error // error from rd, returned once buf[r:w] no longer suffices
	size     int   // initial buffer size

	maxBulk  int
	maxElems int

	stack []frame // scan's stack, kept to avoid allocation
	slab  []Reply // elements of the last aggregate reply
	used  int     // elements of slab handed out by build
}

// frame is an aggregate being scanned.
type frame struct {
	n    int  // elements still due
	attr bool // an attribute: not itself an element of its parent
}

// NewReader returns a Reader with a buffer of [DefaultBufferSize] bytes.
func NewReader(rd io.Reader) *Reader { return NewReaderSize(rd, DefaultBufferSize) }

// NewReaderSize returns a Reader whose buffer starts at size bytes (at
// least 64).
func NewReaderSize(rd io.Reader, size int) *Reader {
	if size < minBufferSize {
		size = minBufferSize
	}
	return &Reader{
		rd:       rd,
		buf:      make([]byte, size),
		size:     size,
		maxBulk:  DefaultMaxBulk,
		maxElems: DefaultMaxElements,
	}
}

// Reset discards any buffered data and makes r read from rd, with the
// stream offset back at 0. The limits are kept.
func (r *Reader) Reset(rd io.Reader) {
	r.rd = rd
	r.r, r.w = 0, 0
	r.consumed = 0
	r.err = nil
	if len(r.buf) > retainBuffer {
		r.buf = make([]byte, r.size)
	}
	r.slab = nil
}

// SetMaxBulk sets the largest bulk string, blob error, verbatim string or
// line ReadReply and ReadLine accept (default [DefaultMaxBulk]); longer
// ones give a *ProtocolError. n <= 0 restores the default. Redis's own
// proto-max-bulk-len defaults to 512 MB.
func (r *Reader) SetMaxBulk(n int64) {
	const maxInt = int(^uint(0) >> 1)
	switch {
	case n <= 0:
		r.maxBulk = DefaultMaxBulk
	case n > int64(maxInt-64):
		r.maxBulk = maxInt - 64
	default:
		r.maxBulk = int(n)
	}
}

// SetMaxElements sets the largest number of elements of one aggregate
// ReadReply accepts (default [DefaultMaxElements]; a map of n pairs counts
// 2n); larger ones give a *ProtocolError. n <= 0 restores the default.
func (r *Reader) SetMaxElements(n int) {
	if n <= 0 {
		n = DefaultMaxElements
	}
	r.maxElems = n
}

// Buffered returns the number of bytes that can be read from the buffer
// without reading the underlying reader.
func (r *Reader) Buffered() int { return r.w - r.r }

// Offset returns the number of bytes consumed from the stream since the
// Reader was created or Reset: by replies, lines, Read and Discard. Bytes
// buffered but not yet consumed are not counted. A replica uses it to
// track its replication offset.
func (r *Reader) Offset() int64 { return r.consumed }

// consume marks n buffered bytes as read.
func (r *Reader) consume(n int) {
	r.r += n
	r.consumed += int64(n)
	if r.r == r.w {
		r.r, r.w = 0, 0
	}
}

// readErr returns and clears the pending error from the underlying reader.
func (r *Reader) readErr() error {
	err := r.err
	r.err = nil
	return err
}

// fill reads until at least need bytes are buffered, growing the buffer
// when it is full of unread data. It returns the underlying reader's error
// when that comes first.
func (r *Reader) fill(need int) error {
	for r.w-r.r < need {
		if r.err != nil {
			return r.readErr()
		}
		if r.w == len(r.buf) {
			if r.r > 0 {
				r.w = copy(r.buf, r.buf[r.r:r.w])
				r.r = 0
			} else {
				// Full of unread data: at most double, so that the buffer
				// is never more than twice the data it holds.
				nb := make([]byte, min(2*len(r.buf), need))
				copy(nb, r.buf[:r.w])
				r.buf = nb
			}
		}
		r.readOnce()
	}
	return nil
}

// readOnce reads into the free end of the buffer, which must not be empty.
func (r *Reader) readOnce() {
	for i := maxConsecutiveEmptyReads; i > 0; i-- {
		n, err := r.rd.Read(r.buf[r.w:])
		if n < 0 || n > len(r.buf)-r.w {
			r.err = errBadRead
			return
		}
		r.w += n
		if err != nil {
			r.err = err
			return
		}
		if n > 0 {
			return
		}
	}
	r.err = io.ErrNoProgress
}

// shrink drops a buffer or element slab grown for an earlier big reply.
func (r *Reader) shrink() {
	if len(r.buf) > retainBuffer && len(r.buf) > r.size && r.w-r.r <= r.size {
		nb := make([]byte, r.size)
		r.w = copy(nb, r.buf[r.r:r.w])
		r.r = 0
		r.buf = nb
		r.slab = nil // it may point into the old buffer
	}
	if cap(r.slab) > retainElems {
		r.slab = nil
	}
}

func (r *Reader) perr(p int, format string, args ...any) error {
	return &ProtocolError{Offset: r.consumed + int64(p), Msg: fmt.Sprintf(format, args...)}
}

// ReadReply reads one reply. Attributes are skipped. An error reply is
// returned as a Reply of kind Error with a nil error. The Reply's Str and
// Elems alias memory owned by r and are valid until the next call of a
// method that reads; use [Reply.Clone] to keep them.
//
// At the end of the stream ReadReply returns io.EOF when no byte of a
// reply was read, and io.ErrUnexpectedEOF when the stream ends within a
// reply. A malformed reply gives a *ProtocolError; nothing of it is
// consumed, so every later call fails the same way (a caller that knows
// better may skip bytes with ReadLine or Discard). An error of the
// underlying reader, such as a timeout, is returned once with the partial
// reply kept in the buffer, so that a later call can complete it.
//
// ReadReply parses the whole reply before returning it, so the reply must
// fit in memory: stream a big RDB payload with Read, LimitedBulk or
// EOFMarkReader instead.
func (r *Reader) ReadReply() (Reply, error) {
	r.shrink()
	end, total, err := r.scan()
	if err != nil {
		return Reply{}, err
	}
	if cap(r.slab) < total {
		r.slab = make([]Reply, total)
	}
	r.slab = r.slab[:cap(r.slab)]
	r.used = 0
	var x Reply
	r.build(r.buf[r.r:r.r+end], 0, &x)
	r.consume(end)
	return x, nil
}

// lineEnd returns the position, relative to r.r, of the '\n' that ends the
// line starting at p, reading more data as needed.
func (r *Reader) lineEnd(p int) (int, error) {
	from := p
	for {
		i := bytes.IndexByte(r.buf[r.r+from:r.w], '\n')
		if i >= 0 {
			from += i
		} else {
			from = r.w - r.r
		}
		if from-p > r.maxBulk+2 {
			return 0, r.perr(p, "line longer than %d bytes", r.maxBulk)
		}
		if i >= 0 {
			return from, nil
		}
		if err := r.fill(from + 1); err != nil {
			return 0, err
		}
	}
}

// eof turns the end of the stream at p into io.EOF (nothing of a reply
// read) or io.ErrUnexpectedEOF.
func (r *Reader) eof(err error, p int) error {
	if err == io.EOF && (p > 0 || r.w > r.r) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// scan checks that a whole, well-formed reply is buffered at r.r, reading
// as needed. It returns the reply's length and an upper bound of the
// number of elements of its aggregates.
func (r *Reader) scan() (end, total int, err error) {
	stack := r.stack[:0]
	p := 0
	for {
		nl, err := r.lineEnd(p)
		if err != nil {
			return 0, 0, r.eof(err, p)
		}
		b := r.buf[r.r:r.w]
		typ := b[p]
		if !validType[typ] {
			return 0, 0, r.perr(p, "invalid reply type byte %q", typ)
		}
		if nl == p+1 || b[nl-1] != '\r' {
			return 0, 0, r.perr(p, "%q line terminated by LF without CR", typ)
		}
		line := b[p+1 : nl-1]
		next := nl + 1
		switch typ {
		case '+', '-':
		case ':':
			if _, ok := parseInt(line); !ok {
				return 0, 0, r.perr(p, "invalid integer %q", trunc(line))
			}
		case ',':
			if _, ok := parseDouble(line); !ok {
				return 0, 0, r.perr(p, "invalid double %q", trunc(line))
			}
		case '#':
			if len(line) != 1 || (line[0] != 't' && line[0] != 'f') {
				return 0, 0, r.perr(p, "invalid boolean %q", trunc(line))
			}
		case '_':
			if len(line) != 0 {
				return 0, 0, r.perr(p, "null with content %q", trunc(line))
			}
		case '(':
			if !validBig(line) {
				return 0, 0, r.perr(p, "invalid big number %q", trunc(line))
			}
		case '$', '!', '=':
			n64, err := r.length(p, typ, line)
			if err != nil {
				return 0, 0, err
			}
			if n64 < 0 { // $-1
				break
			}
			if n64 > int64(r.maxBulk) {
				return 0, 0, r.perr(p, "%q length %d exceeds the limit of %d bytes", typ, n64, r.maxBulk)
			}
			n := int(n64)
			if typ == '=' && n < 4 {
				return 0, 0, r.perr(p, "verbatim string of %d bytes is shorter than its format prefix", n)
			}
			stop := next + n + 2
			if err := r.fill(stop); err != nil {
				return 0, 0, r.eof(err, p)
			}
			b = r.buf[r.r:r.w]
			if b[stop-2] != '\r' || b[stop-1] != '\n' {
				return 0, 0, r.perr(stop-2, "%q string of %d bytes not terminated by CRLF", typ, n)
			}
			if typ == '=' && b[next+3] != ':' {
				return 0, 0, r.perr(next, "verbatim string without \"xxx:\" format prefix")
			}
			next = stop
		case '*', '%', '~', '>', '|':
			n64, err := r.length(p, typ, line)
			if err != nil {
				return 0, 0, err
			}
			if n64 < 0 { // *-1
				break
			}
			if typ == '%' || typ == '|' {
				if n64 > int64(r.maxElems/2) {
					return 0, 0, r.perr(p, "%q map of %d pairs exceeds the limit of %d elements", typ, n64, r.maxElems)
				}
			} else if n64 > int64(r.maxElems) {
				return 0, 0, r.perr(p, "%q aggregate of %d elements exceeds the limit of %d", typ, n64, r.maxElems)
			}
			n := int(n64)
			if typ == '%' || typ == '|' {
				n *= 2
			}
			if typ != '|' {
				total += n
			}
			if n > 0 {
				if len(stack) >= MaxDepth {
					return 0, 0, r.perr(p, "aggregates nested deeper than %d", MaxDepth)
				}
				stack = append(stack, frame{n: n, attr: typ == '|'})
				p = next
				continue
			}
			if typ == '|' { // empty attribute: its value follows
				p = next
				continue
			}
		}
		p = next
		// One element is complete: count it against the enclosing
		// aggregates, closing those it completes.
		for {
			if len(stack) == 0 {
				r.stack = stack[:0] // keep what append grew
				return p, total, nil
			}
			top := &stack[len(stack)-1]
			top.n--
			if top.n > 0 {
				break
			}
			stack = stack[:len(stack)-1]
			if top.attr {
				break // the attribute's value follows
			}
		}
	}
}

// length parses the length of a '$', '!', '=' or aggregate header; only
// '$' and '*' accept -1 (null), returned as -1.
func (r *Reader) length(p int, typ byte, line []byte) (int64, error) {
	if len(line) == 1 && line[0] == '?' {
		return 0, r.perr(p, "streamed RESP3 %q (length \"?\") not supported", typ)
	}
	if len(line) == 2 && line[0] == '-' && line[1] == '1' {
		if typ == '$' || typ == '*' {
			return -1, nil
		}
		return 0, r.perr(p, "%q with length -1", typ)
	}
	if len(line) > 0 && line[0] == '-' {
		return 0, r.perr(p, "%q with negative length %q", typ, trunc(line))
	}
	n, ok := parseUint(line)
	if !ok {
		return 0, r.perr(p, "%q with invalid length %q", typ, trunc(line))
	}
	return n, nil
}

// build fills x from the reply at b[p:], which scan has checked, and
// returns the position after it.
func (r *Reader) build(b []byte, p int, x *Reply) int {
	for {
		nl := p + bytes.IndexByte(b[p:], '\n')
		typ := b[p]
		line := b[p+1 : nl-1 : nl-1]
		next := nl + 1
		switch typ {
		case '+':
			*x = Reply{Kind: Status, Str: line}
		case '-':
			*x = Reply{Kind: Error, Str: line}
		case ':':
			n, _ := parseInt(line)
			*x = Reply{Kind: Int, Int: n}
		case ',':
			f, _ := parseDouble(line)
			*x = Reply{Kind: Double, Str: line, Float: f}
		case '#':
			var v int64
			if line[0] == 't' {
				v = 1
			}
			*x = Reply{Kind: Bool, Int: v}
		case '_':
			*x = Reply{Kind: Nil}
		case '(':
			*x = Reply{Kind: BigNumber, Str: line}
		case '$', '!', '=':
			if line[0] == '-' {
				*x = Reply{Kind: Nil}
				break
			}
			n := atoi(line)
			s := b[next : next+n : next+n]
			next += n + 2
			switch typ {
			case '$':
				*x = Reply{Kind: Bulk, Str: s}
			case '!':
				*x = Reply{Kind: Error, Str: s}
			default:
				*x = Reply{Kind: Verbatim, Format: [3]byte{s[0], s[1], s[2]}, Str: s[4:]}
			}
		case '|':
			n := atoi(line)
			p = next
			for i := 0; i < 2*n; i++ {
				p = skip(b, p)
			}
			continue // to the attribute's value
		default: // '*', '%', '~', '>'
			if line[0] == '-' {
				*x = Reply{Kind: Nil}
				break
			}
			n := atoi(line)
			kind := Array
			switch typ {
			case '%':
				kind = Map
				n *= 2
			case '~':
				kind = Set
			case '>':
				kind = Push
			}
			elems := r.slab[r.used : r.used+n : r.used+n]
			r.used += n
			for i := range elems {
				next = r.build(b, next, &elems[i])
			}
			*x = Reply{Kind: kind, Elems: elems}
		}
		return next
	}
}

// skip returns the position after the checked reply at b[p:], attributes
// included.
func skip(b []byte, p int) int {
	for {
		nl := p + bytes.IndexByte(b[p:], '\n')
		typ := b[p]
		line := b[p+1 : nl-1]
		next := nl + 1
		switch typ {
		case '$', '!', '=':
			if line[0] != '-' {
				next += atoi(line) + 2
			}
		case '*', '%', '~', '>', '|':
			if line[0] != '-' {
				n := atoi(line)
				if typ == '%' || typ == '|' {
					n *= 2
				}
				for i := 0; i < n; i++ {
					next = skip(b, next)
				}
			}
			if typ == '|' {
				p = next
				continue
			}
		}
		return next
	}
}

var validType = [256]bool{
	'+': true, '-': true, ':': true, '$': true, '*': true,
	'_': true, ',': true, '#': true, '!': true, '=': true,
	'(': true, '%': true, '~': true, '>': true, '|': true,
}

// parseUint parses a non-empty string of at most 18 decimal digits.
func parseUint(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// atoi parses a length that scan has checked.
func atoi(b []byte) int {
	n, _ := parseUint(b)
	return int(n)
}

// parseInt parses an optionally signed decimal int64.
func parseInt(b []byte) (int64, bool) {
	neg := false
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg = b[0] == '-'
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	if neg {
		if n > 1<<63 {
			return 0, false
		}
		return -int64(n), true
	}
	if n > math.MaxInt64 {
		return 0, false
	}
	return int64(n), true
}

// parseDouble parses a RESP3 double: a decimal or exponent form, "inf",
// "-inf" or "nan" (any case).
func parseDouble(b []byte) (float64, bool) {
	if len(b) == 0 || len(b) > 512 {
		return 0, false
	}
	for _, c := range b {
		// Keep strconv's hexadecimal floats and '_' separators out.
		if c == '_' || c == 'x' || c == 'X' || c == 'p' || c == 'P' {
			return 0, false
		}
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && ne.Err == strconv.ErrRange {
			return f, true // ±Inf or 0 for out-of-range exponents
		}
		return 0, false
	}
	return f, true
}

// validBig reports whether b is an optionally signed string of digits.
func validBig(b []byte) bool {
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		b = b[1:]
	}
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// trunc shortens b for error messages.
func trunc(b []byte) []byte {
	if len(b) > 32 {
		return b[:32]
	}
	return b
}

// ReadLine reads one line terminated by CRLF or a bare LF and returns it
// without the terminator; an empty line is a bare "\n" (or "\r\n"). A
// replica reads the "+FULLRESYNC <replid> <offset>" reply and the RDB
// preamble ("$<len>" or "$EOF:<mark>") this way, skipping the empty lines
// a master sends as keep-alives. The line aliases r's buffer until the
// next read. Lines longer than the bulk limit (SetMaxBulk) give a
// *ProtocolError; a stream ending within a line gives io.ErrUnexpectedEOF.
func (r *Reader) ReadLine() ([]byte, error) {
	r.shrink()
	n, err := r.lineEnd(0)
	if err != nil {
		return nil, r.eof(err, 0)
	}
	line := r.buf[r.r : r.r+n : r.r+n]
	if n > 0 && line[n-1] == '\r' {
		line = line[: n-1 : n-1]
	}
	r.consume(n + 1)
	return line, nil
}

// Peek returns the next n bytes without consuming them, reading (and
// growing the buffer) as needed. With fewer than n bytes before the end of
// the stream or an error, it returns those bytes and the error. The slice
// aliases r's buffer until the next read.
func (r *Reader) Peek(n int) ([]byte, error) {
	if n < 0 {
		return nil, errNegative
	}
	err := r.fill(n)
	if avail := r.w - r.r; avail < n {
		n = avail
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
	}
	return r.buf[r.r : r.r+n : r.r+n], err
}

// Discard skips the next n bytes and returns how many it skipped; fewer
// than n only with an error (io.EOF when the stream ended).
func (r *Reader) Discard(n int) (int, error) {
	if n < 0 {
		return 0, errNegative
	}
	done := 0
	for {
		k := min(n-done, r.w-r.r)
		r.consume(k)
		done += k
		if done == n {
			return done, nil
		}
		if r.err != nil {
			return done, r.readErr()
		}
		r.r, r.w = 0, 0
		r.readOnce()
	}
}

// Read reads raw bytes: first the buffered ones, then directly from the
// underlying reader. It makes the Reader an io.Reader, so that after
// ReadLine has consumed an RDB preamble the payload can be handed to
// another parser through LimitedBulk or EOFMarkReader. A Read with a p
// at least as large as the buffer and nothing buffered bypasses the buffer.
func (r *Reader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		if r.w > r.r {
			return 0, nil
		}
		return 0, r.readErr()
	}
	if r.r == r.w {
		if r.err != nil {
			return 0, r.readErr()
		}
		if len(p) >= len(r.buf) {
			n, err := r.rd.Read(p)
			if n < 0 || n > len(p) {
				return 0, errBadRead
			}
			r.consumed += int64(n)
			return n, err
		}
		r.r, r.w = 0, 0
		r.readOnce()
		if r.w == 0 {
			return 0, r.readErr()
		}
	}
	n := copy(p, r.buf[r.r:r.w])
	r.consume(n)
	return n, nil
}

// LimitedBulk returns a reader of the next n bytes of r, for the
// "$<len>\r\n" framing of a disk-based full sync (which has no trailing
// CRLF). It returns io.EOF after n bytes, and io.ErrUnexpectedEOF if the
// stream ends before. For a regular bulk string, Discard the CRLF after
// it.
func (r *Reader) LimitedBulk(n int64) io.Reader { return &bulkReader{r: r, n: n} }

type bulkReader struct {
	r *Reader
	n int64
}

func (b *bulkReader) Read(p []byte) (int, error) {
	if b.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > b.n {
		p = p[:b.n]
	}
	n, err := b.r.Read(p)
	b.n -= int64(n)
	if err == io.EOF {
		if b.n > 0 {
			err = io.ErrUnexpectedEOF
		} else if n > 0 {
			err = nil
		}
	}
	return n, err
}
