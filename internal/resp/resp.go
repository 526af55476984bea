// Package resp reads and writes the Redis serialization protocol, RESP2 and
// RESP3, with raw access to the connection for replication.
//
// A [Writer] buffers commands (arrays of bulk strings) for an io.Writer; one
// big argument, such as a RESTORE payload, can be written in pieces with
// [Writer.WriteBulkHeader], [Writer.WriteRaw] and [Writer.WriteBulkEnd]
// without being assembled in memory first. A [Reader] parses replies from an
// io.Reader and also gives raw access to the stream: [Reader.ReadLine] for
// the "+FULLRESYNC" line and the bare "\n" keep-alives a master sends during
// a full sync, and [Reader.Read] (the Reader is an io.Reader) together with
// [Reader.LimitedBulk] and [EOFMarkReader] for streaming the RDB payload of
// "$<len>" or "$EOF:<mark>" framing into another parser.
//
// # Buffer ownership
//
// A Reader owns its buffer. The byte slices of a [Reply] returned by
// [Reader.ReadReply] (Reply.Str) alias that buffer, and the Elems of
// aggregate replies live in a slice the Reader reuses, so a Reply and
// everything it references is valid only until the next call of a method
// that reads (ReadReply, ReadLine, Read, Peek, Discard) or Reset.
// [Reply.Clone] returns a deep copy the caller owns. The same holds for the
// slices returned by ReadLine and Peek. This makes reading simple replies
// (+OK, :1) and small command arrays free of allocations.
//
// A Writer never retains the slices passed to it: when a method returns,
// the bytes have been copied into the Writer's buffer or written to the
// underlying writer, so the caller may reuse them at once. Buffered bytes
// reach the underlying writer when the buffer fills or on [Writer.Flush];
// call Flush before waiting for replies.
//
// # Errors
//
// An error reply from the server is not a Go error: ReadReply returns it as
// a Reply of kind [Error], whose [Reply.Err] method gives a [*ServerError]
// with the reply's code (ERR, BUSYKEY, MOVED, ...) and, for MOVED and ASK,
// the slot and address. A malformed stream gives a [*ProtocolError] naming
// the byte offset in the stream; a stream that ends in the middle of a
// reply gives io.ErrUnexpectedEOF, and one that ends between replies
// io.EOF. Neither Reader nor Writer is safe for concurrent use.
package resp

import (
	"bytes"
	"math"
	"math/big"
	"strconv"
	"strings"
)

// Kind is the type of a [Reply].
type Kind uint8

// The kinds of reply. RESP2 has Status, Error, Int, Bulk, Array and Nil;
// the others are RESP3 only (after HELLO 3). A RESP3 blob error ("!")
// is returned as Error, and every form of null (RESP2 "$-1" and "*-1",
// RESP3 "_") as Nil.
const (
	Status    Kind = iota + 1 // simple string: "+OK"
	Error                     // error reply: "-ERR ..." or "!<len>"
	Int                       // integer: ":1"
	Bulk                      // bulk string: "$<len>"
	Array                     // array: "*<n>"
	Nil                       // null: "$-1", "*-1" or "_"
	Double                    // double: ",3.14", ",inf", ",nan"
	Bool                      // boolean: "#t" or "#f"
	BigNumber                 // big number: "(<digits>"
	Verbatim                  // verbatim string: "=<len>" with a 3-byte format prefix
	Map                       // map: "%<n>", n key-value pairs
	Set                       // set: "~<n>"
	Push                      // out-of-band push data: "><n>"
)

var kindNames = [...]string{
	Status:    "Status",
	Error:     "Error",
	Int:       "Int",
	Bulk:      "Bulk",
	Array:     "Array",
	Nil:       "Nil",
	Double:    "Double",
	Bool:      "Bool",
	BigNumber: "BigNumber",
	Verbatim:  "Verbatim",
	Map:       "Map",
	Set:       "Set",
	Push:      "Push",
}

// String returns the kind's name, such as "Bulk".
func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Reply is one RESP value. Which fields are set depends on Kind:
//
//	Status, Error, Bulk  Str
//	Int                  Int
//	Double               Float, and Str: the number as the server wrote it
//	Bool                 Int: 1 for true, 0 for false
//	BigNumber            Str: the decimal digits, with an optional sign
//	Verbatim             Format ("txt", "mkd") and Str: the text after "xxx:"
//	Array, Set, Push     Elems
//	Map                  Elems: key, value, key, value, ...
//	Nil                  nothing
//
// RESP3 attributes ("|") are read and discarded. A Reply returned by
// [Reader.ReadReply] aliases the Reader's memory until the next read; see
// [Reply.Clone].
type Reply struct {
	Kind   Kind    // the type of reply
	Format [3]byte // Verbatim: the format, such as "txt"
	Str    []byte  // the string of Status, Error, Bulk, Verbatim, BigNumber and Double
	Int    int64   // the value of Int and Bool
	Float  float64 // the value of Double
	Elems  []Reply // the elements of Array, Set, Push and Map
}

// Err returns a [*ServerError] holding the message of an Error reply, and
// nil for every other kind. The error does not alias the Reader's buffer.
func (x Reply) Err() error {
	if x.Kind != Error {
		return nil
	}
	return &ServerError{Msg: string(x.Str)}
}

// IsNil reports whether x is a null reply.
func (x Reply) IsNil() bool { return x.Kind == Nil }

// BigInt returns the value of a BigNumber reply, and false for other kinds.
func (x Reply) BigInt() (*big.Int, bool) {
	if x.Kind != BigNumber {
		return nil, false
	}
	return new(big.Int).SetString(string(x.Str), 10)
}

// Clone returns a deep copy of x that shares no memory with x: all its byte
// strings live in one new allocation and all its elements in another.
func (x Reply) Clone() Reply {
	nb, ne := x.footprint()
	c := cloner{b: make([]byte, 0, nb)}
	if ne > 0 {
		c.e = make([]Reply, ne)
	}
	return c.clone(x)
}

// footprint returns the total length of the byte strings and the number of
// elements in x, recursively.
func (x Reply) footprint() (bytes, elems int) {
	bytes = len(x.Str)
	elems = len(x.Elems)
	for _, e := range x.Elems {
		b, n := e.footprint()
		bytes += b
		elems += n
	}
	return bytes, elems
}

type cloner struct {
	b []byte
	e []Reply
}

func (c *cloner) clone(x Reply) Reply {
	if x.Str != nil {
		n := len(c.b)
		c.b = append(c.b, x.Str...)
		x.Str = c.b[n:len(c.b):len(c.b)]
	}
	if x.Elems != nil {
		n := len(x.Elems)
		elems := c.e[:n:n]
		c.e = c.e[n:]
		for i, e := range x.Elems {
			elems[i] = c.clone(e)
		}
		x.Elems = elems
	}
	return x
}

// String formats x for messages and debugging, in a form close to
// redis-cli's: strings quoted, errors as "(error) ...", aggregates in
// brackets and maps in braces.
func (x Reply) String() string {
	var b strings.Builder
	x.format(&b)
	return b.String()
}

func (x Reply) format(b *strings.Builder) {
	switch x.Kind {
	case Status:
		b.Write(x.Str)
	case Error:
		b.WriteString("(error) ")
		b.Write(x.Str)
	case Int:
		b.WriteString(strconv.FormatInt(x.Int, 10))
	case Bulk, Verbatim:
		b.WriteString(strconv.Quote(string(x.Str)))
	case Nil:
		b.WriteString("(nil)")
	case Double:
		b.WriteString(strconv.FormatFloat(x.Float, 'g', -1, 64))
	case Bool:
		b.WriteString(strconv.FormatBool(x.Int != 0))
	case BigNumber:
		b.Write(x.Str)
	case Map:
		b.WriteByte('{')
		for i, e := range x.Elems {
			if i > 0 {
				if i%2 == 1 {
					b.WriteString(": ")
				} else {
					b.WriteString(", ")
				}
			}
			e.format(b)
		}
		b.WriteByte('}')
	case Array, Set, Push:
		switch x.Kind {
		case Set:
			b.WriteByte('~')
		case Push:
			b.WriteByte('>')
		}
		b.WriteByte('[')
		for i, e := range x.Elems {
			if i > 0 {
				b.WriteString(", ")
			}
			e.format(b)
		}
		b.WriteByte(']')
	default:
		b.WriteString(x.Kind.String())
	}
}

// AppendReply appends the RESP encoding of x to dst and returns the
// extended buffer, for servers and test fakes. It uses the RESP2 form where
// one exists: Nil is written as "$-1", and Error as a simple error unless
// its text contains CR or LF (then as a RESP3 blob error). Double is
// written from Float, Verbatim with the format "txt" when Format is zero,
// and a Map with an odd number of elements gets a Nil as its last value. A
// Reply of unknown Kind is written as Nil.
func AppendReply(dst []byte, x Reply) []byte {
	switch x.Kind {
	case Status:
		dst = append(dst, '+')
		dst = append(dst, x.Str...)
		return append(dst, '\r', '\n')
	case Error:
		if bytes.ContainsAny(x.Str, "\r\n") {
			dst = appendHeader(dst, '!', int64(len(x.Str)))
			dst = append(dst, x.Str...)
			return append(dst, '\r', '\n')
		}
		dst = append(dst, '-')
		dst = append(dst, x.Str...)
		return append(dst, '\r', '\n')
	case Int:
		return appendHeader(dst, ':', x.Int)
	case Bulk:
		return appendBulk(dst, x.Str)
	case Double:
		dst = append(dst, ',')
		switch f := x.Float; {
		case math.IsInf(f, 1):
			dst = append(dst, "inf"...)
		case math.IsInf(f, -1):
			dst = append(dst, "-inf"...)
		case math.IsNaN(f):
			dst = append(dst, "nan"...)
		default:
			dst = strconv.AppendFloat(dst, f, 'g', -1, 64)
		}
		return append(dst, '\r', '\n')
	case Bool:
		if x.Int != 0 {
			return append(dst, "#t\r\n"...)
		}
		return append(dst, "#f\r\n"...)
	case BigNumber:
		dst = append(dst, '(')
		dst = append(dst, x.Str...)
		return append(dst, '\r', '\n')
	case Verbatim:
		f := x.Format
		if f == [3]byte{} {
			f = [3]byte{'t', 'x', 't'}
		}
		dst = appendHeader(dst, '=', int64(len(x.Str)+4))
		dst = append(dst, f[0], f[1], f[2], ':')
		dst = append(dst, x.Str...)
		return append(dst, '\r', '\n')
	case Map:
		n := (len(x.Elems) + 1) / 2
		dst = appendHeader(dst, '%', int64(n))
		for _, e := range x.Elems {
			dst = AppendReply(dst, e)
		}
		if len(x.Elems)%2 == 1 {
			dst = append(dst, "$-1\r\n"...)
		}
		return dst
	case Array, Set, Push:
		c := byte('*')
		if x.Kind == Set {
			c = '~'
		} else if x.Kind == Push {
			c = '>'
		}
		dst = appendHeader(dst, c, int64(len(x.Elems)))
		for _, e := range x.Elems {
			dst = AppendReply(dst, e)
		}
		return dst
	default:
		return append(dst, "$-1\r\n"...)
	}
}

// ServerError is an error reply sent by the server, such as
// "ERR unknown command", "BUSYKEY Target key name already exists." or
// "MOVED 3999 127.0.0.1:6381". [Reply.Err] returns one.
type ServerError struct {
	// Msg is the server's message without the leading '-' and the CRLF.
	Msg string
}

// Error returns the server's message as is.
func (e *ServerError) Error() string { return e.Msg }

// Code returns the error code: the first word of the message when it
// consists of upper-case ASCII letters, digits and '_' and starts with a
// letter, as in ERR, WRONGTYPE, BUSYKEY, MOVED, ASK, LOADING, BUSY,
// TRYAGAIN, CLUSTERDOWN, OOM, NOPERM, MASTERDOWN, NOAUTH, WRONGPASS,
// NOSCRIPT, READONLY, EXECABORT, CROSSSLOT. It returns "" when the message
// does not start with a code (some servers and proxies send plain text).
func (e *ServerError) Code() string {
	word, _, _ := strings.Cut(e.Msg, " ")
	if word == "" || word[0] < 'A' || word[0] > 'Z' {
		return ""
	}
	for i := 1; i < len(word); i++ {
		if c := word[i]; (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '_' {
			return ""
		}
	}
	return word
}

// Text returns the message without its code: "Target key name already
// exists." for "BUSYKEY Target key name already exists.". Without a code
// (see Code) it returns the whole message.
func (e *ServerError) Text() string {
	code := e.Code()
	if code == "" {
		return e.Msg
	}
	return strings.TrimPrefix(e.Msg[len(code):], " ")
}

// Moved parses a "MOVED <slot> <addr>" redirection: the key's hash slot
// (0..16383) now lives at addr. It reports false for other errors and for
// malformed MOVED messages. addr is returned as the server wrote it:
// "host:port", an IPv6 address without brackets ("::1:6379"), or with an
// empty or "?" host when the node does not know its own address (the
// cluster specification says to use the host of the current connection
// then).
func (e *ServerError) Moved() (slot int, addr string, ok bool) {
	return parseRedirect(e.Msg, "MOVED ")
}

// Ask parses an "ASK <slot> <addr>" redirection: the next command for this
// slot must be sent to addr, preceded by ASKING. See [ServerError.Moved]
// for the form of addr.
func (e *ServerError) Ask() (slot int, addr string, ok bool) {
	return parseRedirect(e.Msg, "ASK ")
}

func parseRedirect(msg, prefix string) (int, string, bool) {
	rest, found := strings.CutPrefix(msg, prefix)
	if !found {
		return 0, "", false
	}
	s, addr, found := strings.Cut(rest, " ")
	if !found || addr == "" || strings.ContainsAny(addr, " \r\n") ||
		!strings.Contains(addr, ":") || len(s) == 0 || len(s) > 5 {
		return 0, "", false
	}
	slot := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, "", false
		}
		slot = slot*10 + int(s[i]-'0')
	}
	if slot > 16383 {
		return 0, "", false
	}
	return slot, addr, true
}

// ProtocolError reports a malformed RESP stream: a bad type byte, a bad or
// negative length, a missing CRLF, a length above the Reader's limits, or
// aggregates nested deeper than [MaxDepth]. The stream cannot be read on
// from the reply it was found in.
type ProtocolError struct {
	// Offset is the position in the stream (counted from the Reader's
	// creation or last Reset) of the first byte of the offending line,
	// or of the byte that should have been CR for a bulk string that is
	// not terminated by CRLF.
	Offset int64
	// Msg describes the problem.
	Msg string
}

// Error returns "resp: protocol error at offset N: msg".
func (e *ProtocolError) Error() string {
	return "resp: protocol error at offset " + strconv.FormatInt(e.Offset, 10) + ": " + e.Msg
}
