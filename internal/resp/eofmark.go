package resp

import (
	"bytes"
	"io"
)

// peeker is what EOFMarkReader needs to scan a reader's buffer in place;
// *Reader and *bufio.Reader have these methods.
type peeker interface {
	io.Reader
	Peek(n int) ([]byte, error)
	Buffered() int
	Discard(n int) (int, error)
}

// EOFMarkReader returns a reader of the bytes of r up to the first
// occurrence of mark, for the "$EOF:<mark>" framing of a diskless full
// sync, where the RDB payload is followed by the same 40-byte mark. The
// mark itself is consumed from r but not returned: after io.EOF, r is
// positioned exactly after the mark, so the replication stream can be read
// from r next. If r ends before the mark, the reader returns
// io.ErrUnexpectedEOF. mark is copied (it may alias a Reader's buffer, as
// the result of ReadLine does); an empty mark gives an immediate io.EOF.
//
// When r has the methods Peek, Buffered and Discard, as [*Reader] and
// *bufio.Reader do, the mark is searched for in r's buffer and no byte
// after it is consumed. For any other reader, EOFMarkReader never asks r
// for more bytes than could still belong to the payload and the mark, that
// is at most len(mark) per Read, which is exact but slow on an unbuffered
// connection: wrap a net.Conn in a [*Reader], never in a buffer that
// EOFMarkReader cannot see into.
//
// Like Redis's replica, the reader stops at the first occurrence of the
// mark. Masters generate the mark randomly in each forked child, so an RDB
// that happens to contain it is not a practical concern, but one master
// process reuses its mark for consecutive syncs; a caller that parses the
// RDB can also check that the payload ended where the RDB's own EOF opcode
// and checksum say it does.
func EOFMarkReader(r io.Reader, mark []byte) io.Reader {
	m := make([]byte, len(mark), 3*len(mark))
	copy(m, mark)
	e := &eofMarkReader{rd: r, mark: m, tmp: m[len(m):cap(m)]}
	e.pk, _ = r.(peeker)
	if len(m) == 0 {
		e.done = true
	}
	return e
}

type eofMarkReader struct {
	rd   io.Reader
	pk   peeker // rd, if it can be peeked into
	mark []byte
	tmp  []byte // 2*len(mark) bytes: hold, then the bytes read after it
	hold int    // tmp[:hold] was read from rd and may begin the mark
	out  []byte // bytes known not to be part of the mark, not yet returned
	done bool   // the mark was consumed
	err  error  // error of rd, returned once out is drained
}

func (e *eofMarkReader) Read(p []byte) (int, error) {
	for {
		if len(e.out) > 0 {
			n := copy(p, e.out)
			e.out = e.out[n:]
			return n, nil
		}
		if e.err != nil {
			return 0, e.err
		}
		if e.done {
			return 0, io.EOF
		}
		if len(p) == 0 {
			return 0, nil
		}
		if e.pk != nil && e.hold == 0 {
			n, err := e.peekRead(p)
			if n > 0 || err != nil {
				return n, err
			}
			if e.done {
				return 0, io.EOF
			}
			// Everything buffered may be the start of the mark: take it
			// slowly, as for any reader.
		}
		e.step()
	}
}

// peekRead returns bytes from the peeker's buffer up to the mark. It
// returns 0 and no error when the mark was found at once (done is set) or
// when all of the buffered bytes may begin the mark.
func (e *eofMarkReader) peekRead(p []byte) (int, error) {
	if e.pk.Buffered() == 0 {
		if _, err := e.pk.Peek(1); err != nil && e.pk.Buffered() == 0 {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return 0, err
		}
	}
	b, _ := e.pk.Peek(e.pk.Buffered())
	// Only a mark starting within the first len(p) bytes matters now; it
	// ends within the window if it is buffered at all.
	win := b
	if len(p)+len(e.mark)-1 < len(win) {
		win = win[:len(p)+len(e.mark)-1]
	}
	var n int
	if i := bytes.Index(win, e.mark); i >= 0 {
		n = copy(p, b[:i])
		if n == i {
			e.done = true
			n += len(e.mark)
		}
	} else if len(win) < len(b) {
		n = copy(p, b)
	} else {
		n = copy(p, b[:len(b)-prefixSuffix(b, e.mark)])
	}
	if _, err := e.pk.Discard(n); err != nil {
		return 0, err // cannot happen: the bytes are buffered
	}
	if e.done {
		return n - len(e.mark), nil
	}
	return n, nil
}

// step reads from rd at most as many bytes as could complete the mark
// after the held ones, and moves the bytes that cannot belong to the mark
// to out.
func (e *eofMarkReader) step() {
	m := len(e.mark)
	n, err := e.rd.Read(e.tmp[e.hold:m])
	if n < 0 || n > m-e.hold {
		n, err = 0, errBadRead
	}
	s := e.tmp[:e.hold+n]
	if len(s) == m && bytes.Equal(s, e.mark) {
		e.done = true
		e.hold = 0
		return
	}
	k := prefixSuffix(s, e.mark)
	// out and hold share tmp; put out in the second half.
	e.out = append(e.tmp[m:m], s[:len(s)-k]...)
	e.hold = copy(e.tmp, s[len(s)-k:])
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		e.err = err
	}
}

// prefixSuffix returns the length of the longest suffix of b that is a
// proper prefix of mark.
func prefixSuffix(b, mark []byte) int {
	start := len(b) - (len(mark) - 1)
	if start < 0 {
		start = 0
	}
	for i := start; i < len(b); i++ {
		if b[i] == mark[0] && bytes.HasPrefix(mark, b[i:]) {
			return len(b) - i
		}
	}
	return 0
}
