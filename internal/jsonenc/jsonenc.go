// Package jsonenc appends JSON for byte strings the way rdbferry's tools
// print them: a JSON string when the bytes are valid UTF-8, otherwise an
// object {"base64":"…"}.
package jsonenc

import (
	"encoding/base64"
	"math"
	"strconv"
	"unicode/utf8"
)

// AppendBytes appends b as a JSON string, or as {"base64":"…"} when b is not
// valid UTF-8.
func AppendBytes(dst, b []byte) []byte {
	if !utf8.Valid(b) {
		dst = append(dst, `{"base64":"`...)
		dst = base64.StdEncoding.AppendEncode(dst, b)
		return append(dst, `"}`...)
	}
	return AppendString(dst, b)
}

// AppendKey appends b for use as a JSON object key: a JSON string of b when
// it is valid UTF-8, otherwise the string "base64:" followed by its base64.
func AppendKey(dst, b []byte) []byte {
	if !utf8.Valid(b) {
		dst = append(dst, `"base64:`...)
		dst = base64.StdEncoding.AppendEncode(dst, b)
		return append(dst, '"')
	}
	return AppendString(dst, b)
}

const hex = "0123456789abcdef"

// AppendString appends the valid UTF-8 string s as a JSON string.
func AppendString[T ~string | ~[]byte](dst []byte, s T) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < 0x7f {
			continue
		}
		if c >= 0x80 {
			// U+2028 and U+2029 are valid JSON but break JavaScript; escape them like encoding/json.
			if c == 0xe2 && i+2 < len(s) && s[i+1] == 0x80 && s[i+2]&^1 == 0xa8 {
				dst = append(dst, s[start:i]...)
				dst = append(dst, `\u202`...)
				dst = append(dst, hex[s[i+2]&0xf])
				i += 2
				start = i + 1
			}
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// AppendFloat appends f as a JSON number, or as the string "inf", "-inf" or
// "nan" for values JSON cannot hold.
func AppendFloat(dst []byte, f float64) []byte {
	switch {
	case math.IsInf(f, 1):
		return append(dst, `"inf"`...)
	case math.IsInf(f, -1):
		return append(dst, `"-inf"`...)
	case math.IsNaN(f):
		return append(dst, `"nan"`...)
	}
	return strconv.AppendFloat(dst, f, 'g', -1, 64)
}
