package redistest

import (
	"bufio"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

func TestReadReply(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		want any
	}{
		{"+OK\r\n", "OK"},
		{"-ERR bad thing\r\n", Error("ERR bad thing")},
		{":-42\r\n", int64(-42)},
		{"$5\r\nhe\r\no\r\n", []byte("he\r\no")},
		{"$0\r\n\r\n", []byte{}},
		{"$-1\r\n", nil},
		{"*-1\r\n", nil},
		{"*0\r\n", []any{}},
		{"*3\r\n:1\r\n*2\r\n$1\r\na\r\n$-1\r\n-MOVED 1 x:1\r\n", []any{int64(1), []any{[]byte("a"), nil}, Error("MOVED 1 x:1")}},
	}
	for _, c := range cases {
		got, err := readReply(bufio.NewReader(strings.NewReader(c.in)))
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("readReply(%q) = %#v, %v; want %#v", c.in, got, err, c.want)
		}
	}
}

func TestReadReplyErrors(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		"",                 // EOF
		"+OK\n",            // no CR
		"$3\r\nab",         // truncated bulk
		"$3\r\nabcd\r\n",   // wrong length
		"$-2\r\n",          // bad length
		"$99999999999\r\n", // absurd length
		"*2\r\n:1\r\n",     // truncated array
		":x\r\n",           // bad integer
		"%1\r\n",           // RESP3 map: not supported
		"\r\n",             // empty line
	} {
		got, err := readReply(bufio.NewReader(strings.NewReader(in)))
		if err == nil {
			t.Errorf("readReply(%q) = %#v, want an error", in, got)
		}
		if in != "" && errors.Is(err, io.EOF) {
			t.Errorf("readReply(%q): bare io.EOF for a truncated reply", in)
		}
	}
}

func TestWriteCommand(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	w := bufio.NewWriter(&b)
	writeCommand(w, []string{"SET", "k", ""})
	w.Flush()
	if want := "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n"; b.String() != want {
		t.Errorf("writeCommand = %q, want %q", b.String(), want)
	}
}

func TestConfigQuoting(t *testing.T) {
	t.Parallel()
	s := &Server{port: 1234, dir: "/tmp/a b"}
	conf := s.config(nil, [][]string{{"save", ""}, {"requirepass", "p\"w\\d\n"}})
	for _, want := range []string{
		"port \"1234\"\n",
		"dir \"/tmp/a b\"\n",
		"save \"\"\n",
		"requirepass \"p\\\"w\\\\d\\x0a\"\n",
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("config lacks %q:\n%s", want, conf)
		}
	}
	if s.password != "p\"w\\d\n" {
		t.Errorf("password = %q", s.password)
	}
}
