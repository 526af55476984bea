package rdb

import (
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// ErrChecksum is reported (wrapped in a *FormatError) when the CRC-64 at the
// end of a file or DUMP payload does not match its contents.
var ErrChecksum = errors.New("rdb: checksum mismatch")

// ErrUnsupported is wrapped by errors for valid-looking input that this
// package cannot read: an RDB version, object type or opcode it does not know.
var ErrUnsupported = errors.New("rdb: unsupported")

// FormatError describes malformed or unsupported input: what was wrong and
// where. Truncated input wraps io.ErrUnexpectedEOF; a checksum mismatch wraps
// ErrChecksum; an unknown version, type or opcode wraps ErrUnsupported.
type FormatError struct {
	Offset int64  // byte offset in the input where the failing record starts, or of the failing byte
	Key    []byte // the key being read, or nil
	Err    error  // what was wrong
}

func (e *FormatError) Error() string {
	s := "rdb: offset " + strconv.FormatInt(e.Offset, 10)
	if e.Key != nil {
		s += ": key " + QuoteKey(e.Key)
	}
	return s + ": " + e.Err.Error()
}

// Unwrap returns the underlying error.
func (e *FormatError) Unwrap() error { return e.Err }

// QuoteKey returns k as a Go-quoted string for messages: readable when it is
// UTF-8, escaped otherwise, and cut to 200 bytes.
func QuoteKey(k []byte) string {
	const max = 200
	suffix := ""
	if len(k) > max {
		k, suffix = k[:max], "…"
	}
	if utf8.Valid(k) {
		return strconv.Quote(string(k)) + suffix
	}
	return fmt.Sprintf("%+q", k) + suffix
}

// corruptf returns an error describing a malformed structure.
func corruptf(format string, args ...any) error {
	return fmt.Errorf(format, args...)
}

// unsupportedf returns an error wrapping ErrUnsupported.
func unsupportedf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUnsupported, fmt.Sprintf(format, args...))
}
