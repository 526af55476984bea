package redistest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"
)

// Error is an error reply ("-ERR ...", "-MOVED ...", "-LOADING ...") sent by
// the server. [Server.Do] returns it as its error when the whole reply is an
// error; inside an array reply it appears as an element.
type Error string

// Error returns the server's message without the leading '-'.
func (e Error) Error() string { return string(e) }

// maxBulk bounds a bulk string or array length read from a server, so that a
// corrupt stream gives an error instead of a huge allocation.
const maxBulk = 1 << 30

// respConn is a minimal synchronous RESP2 client: one command, one reply.
type respConn struct {
	nc net.Conn
	r  *bufio.Reader
	w  *bufio.Writer
}

func dialRESP(addr string, timeout time.Duration) (*respConn, error) {
	nc, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	return &respConn{nc: nc, r: bufio.NewReader(nc), w: bufio.NewWriter(nc)}, nil
}

func (c *respConn) Close() error { return c.nc.Close() }

// do sends args as a RESP array of bulk strings and reads one reply. A
// top-level error reply is returned as an Error; a network or protocol error
// is returned as is, after which the connection must not be reused.
func (c *respConn) do(timeout time.Duration, args ...string) (any, error) {
	if len(args) == 0 {
		return nil, errors.New("redistest: empty command")
	}
	if err := c.nc.SetDeadline(time.Now().Add(timeout)); err != nil {
		return nil, err
	}
	writeCommand(c.w, args)
	if err := c.w.Flush(); err != nil {
		return nil, err
	}
	v, err := readReply(c.r)
	if err != nil {
		return nil, err
	}
	if e, ok := v.(Error); ok {
		return nil, e
	}
	return v, nil
}

// writeCommand buffers args as a RESP array of bulk strings; bufio.Writer
// keeps the first write error and Flush reports it.
func writeCommand(w *bufio.Writer, args []string) {
	w.WriteByte('*')
	w.WriteString(strconv.Itoa(len(args)))
	w.WriteString("\r\n")
	for _, a := range args {
		w.WriteByte('$')
		w.WriteString(strconv.Itoa(len(a)))
		w.WriteString("\r\n")
		w.WriteString(a)
		w.WriteString("\r\n")
	}
}

// readReply parses one RESP2 reply: simple string -> string, error -> Error,
// integer -> int64, bulk string -> []byte, array -> []any, null bulk string
// or null array -> nil.
func readReply(r *bufio.Reader) (any, error) {
	line, err := readLine(r)
	if err != nil {
		return nil, err
	}
	if len(line) == 0 {
		return nil, errors.New("redistest: empty RESP line")
	}
	body := string(line[1:])
	switch line[0] {
	case '+':
		return body, nil
	case '-':
		return Error(body), nil
	case ':':
		n, err := strconv.ParseInt(body, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("redistest: bad RESP integer %q", body)
		}
		return n, nil
	case '$':
		n, err := parseLen(body)
		if err != nil || n < 0 {
			return nil, err
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, unexpectedEOF(err)
		}
		if buf[n] != '\r' || buf[n+1] != '\n' {
			return nil, errors.New("redistest: RESP bulk string not terminated by CRLF")
		}
		return buf[:n:n], nil
	case '*':
		n, err := parseLen(body)
		if err != nil || n < 0 {
			return nil, err
		}
		arr := make([]any, 0, min(n, 1024))
		for i := 0; i < n; i++ {
			v, err := readReply(r)
			if err != nil {
				return nil, unexpectedEOF(err)
			}
			arr = append(arr, v)
		}
		return arr, nil
	default:
		return nil, fmt.Errorf("redistest: unsupported RESP type %q (only RESP2 is supported)", line[0])
	}
}

// parseLen parses a bulk or array length; -1 (null) gives n == -1 and no error.
func parseLen(s string) (int, error) {
	n, err := strconv.Atoi(s)
	switch {
	case err != nil:
		return 0, fmt.Errorf("redistest: bad RESP length %q", s)
	case n == -1:
		return -1, nil
	case n < 0 || n > maxBulk:
		return 0, fmt.Errorf("redistest: RESP length %d out of range", n)
	}
	return n, nil
}

// readLine reads up to CRLF and returns the line without it.
func readLine(r *bufio.Reader) ([]byte, error) {
	line, err := r.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		return nil, errors.New("redistest: RESP line too long")
	}
	if err != nil {
		return nil, err
	}
	if len(line) < 2 || line[len(line)-2] != '\r' {
		return nil, errors.New("redistest: RESP line not terminated by CRLF")
	}
	return line[:len(line)-2], nil
}

func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
