package jsonenc

import (
	"encoding/json"
	"math"
	"testing"
)

func TestAppendBytes(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
	}{
		{"plain", `"plain"`},
		{"", `""`},
		{"quote\"back\\slash\n\r\t\x01\x7f", `"quote\"back\\slash\n\r\t\u0001\u007f"`},
		{"בדיקה𐀏", `"בדיקה𐀏"`},
		{"line\u2028sep", `"line\u2028sep"`},
		{"bin\x00\xff", `{"base64":"YmluAP8="}`},
	} {
		got := string(AppendBytes(nil, []byte(tc.in)))
		if got != tc.want {
			t.Errorf("AppendBytes(%q) = %s, want %s", tc.in, got, tc.want)
		}
		var v any
		if err := json.Unmarshal([]byte(got), &v); err != nil {
			t.Errorf("AppendBytes(%q) = %s: not JSON: %v", tc.in, got, err)
		}
		if s, ok := v.(string); ok && s != tc.in {
			t.Errorf("AppendBytes(%q) decodes to %q", tc.in, s)
		}
	}
	if got := string(AppendKey(nil, []byte("a\xff"))); got != `"base64:Yf8="` {
		t.Errorf("AppendKey = %s", got)
	}
}

func TestAppendFloat(t *testing.T) {
	for f, want := range map[float64]string{
		1: "1", 2.5: "2.5", -3: "-3", 1e-300: "1e-300", 123456789012: "1.23456789012e+11",
		math.Inf(1): `"inf"`, math.Inf(-1): `"-inf"`, math.NaN(): `"nan"`,
	} {
		if got := string(AppendFloat(nil, f)); got != want {
			t.Errorf("AppendFloat(%v) = %s, want %s", f, got, want)
		}
	}
}
