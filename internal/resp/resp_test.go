package resp

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
)

// Reply constructors for expectations.
func st(s string) Reply   { return Reply{Kind: Status, Str: []byte(s)} }
func er(s string) Reply   { return Reply{Kind: Error, Str: []byte(s)} }
func in(n int64) Reply    { return Reply{Kind: Int, Int: n} }
func bl(s string) Reply   { return Reply{Kind: Bulk, Str: []byte(s)} }
func bo(b bool) Reply     { return Reply{Kind: Bool, Int: map[bool]int64{true: 1}[b]} }
func bn(s string) Reply   { return Reply{Kind: BigNumber, Str: []byte(s)} }
func ar(e ...Reply) Reply { return Reply{Kind: Array, Elems: e} }
func mp(e ...Reply) Reply { return Reply{Kind: Map, Elems: e} }
func se(e ...Reply) Reply { return Reply{Kind: Set, Elems: e} }
func pu(e ...Reply) Reply { return Reply{Kind: Push, Elems: e} }
func db(f float64, s string) Reply {
	return Reply{Kind: Double, Float: f, Str: []byte(s)}
}
func vb(format, s string) Reply {
	x := Reply{Kind: Verbatim, Str: []byte(s)}
	copy(x.Format[:], format)
	return x
}

var nl = Reply{Kind: Nil}

// equal compares replies by value; a Double's Str (its text) is ignored.
func equal(a, b Reply) bool {
	if a.Kind != b.Kind || a.Int != b.Int || a.Format != b.Format || len(a.Elems) != len(b.Elems) {
		return false
	}
	if a.Kind == Double {
		if a.Float != b.Float && !(math.IsNaN(a.Float) && math.IsNaN(b.Float)) {
			return false
		}
	} else if !bytes.Equal(a.Str, b.Str) {
		return false
	}
	for i := range a.Elems {
		if !equal(a.Elems[i], b.Elems[i]) {
			return false
		}
	}
	return true
}

var replyCases = []struct {
	wire string
	want Reply
}{
	// RESP2
	{"+OK\r\n", st("OK")},
	{"+\r\n", st("")},
	{"-ERR unknown command 'foo'\r\n", er("ERR unknown command 'foo'")},
	{":0\r\n", in(0)},
	{":-1\r\n", in(-1)},
	{":+7\r\n", in(7)},
	{":9223372036854775807\r\n", in(math.MaxInt64)},
	{":-9223372036854775808\r\n", in(math.MinInt64)},
	{"$3\r\nfoo\r\n", bl("foo")},
	{"$0\r\n\r\n", bl("")},
	{"$4\r\na\r\nb\r\n", bl("a\r\nb")},
	{"$-1\r\n", nl},
	{"*-1\r\n", nl},
	{"*0\r\n", ar()},
	{"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n", ar(bl("SET"), bl("k"), bl("v"))},
	{"*2\r\n*2\r\n:1\r\n:2\r\n*1\r\n$-1\r\n", ar(ar(in(1), in(2)), ar(nl))},
	{"*4\r\n+a\r\n-b\r\n:3\r\n*0\r\n", ar(st("a"), er("b"), in(3), ar())},
	// RESP3
	{"_\r\n", nl},
	{",1.5\r\n", db(1.5, "1.5")},
	{",-0.25\r\n", db(-0.25, "-0.25")},
	{",1e300\r\n", db(1e300, "1e300")},
	{",inf\r\n", db(math.Inf(1), "inf")},
	{",-inf\r\n", db(math.Inf(-1), "-inf")},
	{",nan\r\n", db(math.NaN(), "nan")},
	{",3\r\n", db(3, "3")},
	{"#t\r\n", bo(true)},
	{"#f\r\n", bo(false)},
	{"(3492890328409238509324850943850943825024385\r\n", bn("3492890328409238509324850943850943825024385")},
	{"(-12\r\n", bn("-12")},
	{"!21\r\nSYNTAX invalid syntax\r\n", er("SYNTAX invalid syntax")},
	{"!4\r\na\r\nb\r\n", er("a\r\nb")},
	{"=15\r\ntxt:Some string\r\n", vb("txt", "Some string")},
	{"=4\r\nmkd:\r\n", vb("mkd", "")},
	{"%2\r\n+first\r\n:1\r\n+second\r\n:2\r\n", mp(st("first"), in(1), st("second"), in(2))},
	{"%0\r\n", mp()},
	{"~3\r\n+a\r\n+b\r\n:1\r\n", se(st("a"), st("b"), in(1))},
	{">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n", pu(bl("message"), bl("ch"), bl("hi"))},
	{"%1\r\n$1\r\nk\r\n*2\r\n%1\r\n:1\r\n#t\r\n~0\r\n", mp(bl("k"), ar(mp(in(1), bo(true)), se()))},
	// Attributes are skipped, wherever they are.
	{"|1\r\n+key-popularity\r\n%2\r\n$1\r\na\r\n,0.1923\r\n$1\r\nb\r\n,0.0012\r\n*2\r\n:2039123\r\n:9543892\r\n",
		ar(in(2039123), in(9543892))},
	{"*3\r\n:1\r\n|1\r\n+ttl\r\n:3600\r\n:2\r\n:3\r\n", ar(in(1), in(2), in(3))},
	{"|0\r\n+OK\r\n", st("OK")},
	{"|1\r\n+a\r\n+b\r\n|1\r\n+c\r\n+d\r\n+OK\r\n", st("OK")},
	// An attribute whose value is annotated itself.
	{"|1\r\n+a\r\n|1\r\n+b\r\n+c\r\n+d\r\n:7\r\n", in(7)},
	{"*1\r\n|1\r\n+a\r\n*1\r\n|1\r\n+b\r\n+c\r\n:1\r\n:2\r\n", ar(in(2))},
	{"%1\r\n|1\r\n+x\r\n+y\r\n+k\r\n|1\r\n+x\r\n+y\r\n+v\r\n", mp(st("k"), st("v"))},
}

func TestReadReplyKinds(t *testing.T) {
	for _, c := range replyCases {
		r := NewReader(strings.NewReader(c.wire))
		got, err := r.ReadReply()
		if err != nil {
			t.Errorf("%q: %v", c.wire, err)
			continue
		}
		if !equal(got, c.want) {
			t.Errorf("%q: got %v (%s), want %v", c.wire, got, got.Kind, c.want)
		}
		if got.Kind == Double && string(got.Str) != strings.TrimSuffix(c.wire[1:], "\r\n") {
			t.Errorf("%q: Double text %q", c.wire, got.Str)
		}
		if r.Offset() != int64(len(c.wire)) {
			t.Errorf("%q: Offset %d, want %d", c.wire, r.Offset(), len(c.wire))
		}
		if _, err := r.ReadReply(); err != io.EOF {
			t.Errorf("%q: after the reply: %v, want io.EOF", c.wire, err)
		}
		// Round trip through AppendReply.
		enc := AppendReply(nil, got)
		again, err := NewReader(bytes.NewReader(enc)).ReadReply()
		if err != nil || !equal(again, c.want) {
			t.Errorf("%q: re-encoded as %q: got %v, %v", c.wire, enc, again, err)
		}
	}
}

func TestAppendReplyForms(t *testing.T) {
	for _, c := range []struct {
		in   Reply
		want string
	}{
		{nl, "$-1\r\n"},
		{Reply{}, "$-1\r\n"},
		{er("ERR x"), "-ERR x\r\n"},
		{er("a\nb"), "!3\r\na\nb\r\n"},
		{vb("", "hi"), "=6\r\ntxt:hi\r\n"},
		{db(2.5, ""), ",2.5\r\n"},
		{db(math.Inf(-1), ""), ",-inf\r\n"},
		{mp(st("k")), "%1\r\n+k\r\n$-1\r\n"},
		{bo(true), "#t\r\n"},
		{se(in(1)), "~1\r\n:1\r\n"},
		{pu(), ">0\r\n"},
	} {
		if got := string(AppendReply(nil, c.in)); got != c.want {
			t.Errorf("AppendReply(%v) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestReplyString(t *testing.T) {
	x := ar(st("OK"), er("ERR x"), in(3), bl("a\"b"), nl, db(1.5, ""), bo(true), bn("12"),
		mp(bl("k"), in(1), bl("j"), in(2)), se(in(1)), pu(bl("m")), vb("txt", "v"))
	want := `[OK, (error) ERR x, 3, "a\"b", (nil), 1.5, true, 12, {"k": 1, "j": 2}, ~[1], >["m"], "v"]`
	if got := x.String(); got != want {
		t.Errorf("String:\n got %s\nwant %s", got, want)
	}
	if Kind(99).String() != "Kind(99)" || Map.String() != "Map" {
		t.Error("Kind.String")
	}
}

// stream is every case's wire form, concatenated.
func stream() (string, []Reply) {
	var b strings.Builder
	var want []Reply
	for _, c := range replyCases {
		b.WriteString(c.wire)
		want = append(want, c.want)
	}
	return b.String(), want
}

func TestPipeline(t *testing.T) {
	one, want1 := stream()
	var wire string
	var want []Reply
	for i := 0; i < 40; i++ {
		wire += one
		want = append(want, want1...)
	}
	readers := map[string]func() io.Reader{
		"whole":   func() io.Reader { return strings.NewReader(wire) },
		"onebyte": func() io.Reader { return iotest.OneByteReader(strings.NewReader(wire)) },
		"half":    func() io.Reader { return iotest.HalfReader(strings.NewReader(wire)) },
		"dataerr": func() io.Reader { return iotest.DataErrReader(strings.NewReader(wire)) },
	}
	for name, mk := range readers {
		for _, size := range []int{0, 64, 65, 100, 4096} {
			r := NewReaderSize(mk(), size)
			for i, w := range want {
				got, err := r.ReadReply()
				if err != nil {
					t.Fatalf("%s/%d: reply %d: %v", name, size, i, err)
				}
				if !equal(got, w) {
					t.Fatalf("%s/%d: reply %d: got %v, want %v", name, size, i, got, w)
				}
			}
			if _, err := r.ReadReply(); err != io.EOF {
				t.Fatalf("%s/%d: at the end: %v", name, size, err)
			}
			if r.Offset() != int64(len(wire)) {
				t.Fatalf("%s/%d: Offset %d, want %d", name, size, r.Offset(), len(wire))
			}
		}
	}
}

func TestTruncated(t *testing.T) {
	wire, want := stream()
	// Offsets at which a reply ends.
	ends := map[int]bool{0: true}
	off := 0
	for _, c := range replyCases {
		off += len(c.wire)
		ends[off] = true
	}
	for cut := 0; cut < len(wire); cut++ {
		for _, oneByte := range []bool{false, true} {
			var src io.Reader = strings.NewReader(wire[:cut])
			if oneByte {
				src = iotest.OneByteReader(src)
			}
			r := NewReaderSize(src, 64)
			n := 0
			var err error
			for {
				var x Reply
				x, err = r.ReadReply()
				if err != nil {
					break
				}
				if !equal(x, want[n]) {
					t.Fatalf("cut %d: reply %d: got %v, want %v", cut, n, x, want[n])
				}
				n++
			}
			if ends[cut] {
				if err != io.EOF {
					t.Fatalf("cut %d at a reply boundary: %v, want io.EOF", cut, err)
				}
			} else if err != io.ErrUnexpectedEOF {
				t.Fatalf("cut %d: %v, want io.ErrUnexpectedEOF", cut, err)
			}
		}
	}
}

func TestProtocolErrors(t *testing.T) {
	deep := strings.Repeat("*1\r\n", MaxDepth+1) + ":1\r\n"
	for _, c := range []struct {
		wire   string
		offset int64
		msg    string
	}{
		{"?\r\n", 0, `invalid reply type byte '?'`},
		{"\n", 0, `invalid reply type byte '\n'`},
		{"+OK\r\n+OK\n", 5, `'+' line terminated by LF without CR`},
		{"+\n", 0, `LF without CR`},
		{"$3\r\nabcXY", 7, `'$' string of 3 bytes not terminated by CRLF`},
		{"$3\r\nabc\n\r", 7, `not terminated by CRLF`},
		{"$-2\r\n", 0, `'$' with negative length "-2"`},
		{"*-5\r\n", 0, `'*' with negative length "-5"`},
		{"%-1\r\n", 0, `'%' with length -1`},
		{"!-1\r\n", 0, `'!' with length -1`},
		{"$abc\r\n", 0, `'$' with invalid length "abc"`},
		{"$\r\n", 0, `'$' with invalid length ""`},
		{"$+3\r\nabc\r\n", 0, `invalid length`},
		{"$99999999999999999999\r\n", 0, `invalid length`},
		{":12a\r\n", 0, `invalid integer "12a"`},
		{":\r\n", 0, `invalid integer`},
		{":99999999999999999999\r\n", 0, `invalid integer`},
		{":9223372036854775808\r\n", 0, `invalid integer`},
		{"#x\r\n", 0, `invalid boolean "x"`},
		{"#tt\r\n", 0, `invalid boolean`},
		{"_x\r\n", 0, `null with content "x"`},
		{",abc\r\n", 0, `invalid double "abc"`},
		{",0x1p3\r\n", 0, `invalid double`},
		{",\r\n", 0, `invalid double`},
		{"(12a\r\n", 0, `invalid big number`},
		{"(\r\n", 0, `invalid big number`},
		{"=3\r\ntxt\r\n", 0, `verbatim string of 3 bytes is shorter`},
		{"=5\r\ntxtab\r\n", 4, `without "xxx:" format prefix`},
		{"*2\r\n:1\r\n?\r\n", 8, `invalid reply type byte '?'`},
		{"$?\r\n", 0, `streamed RESP3 '$' (length "?") not supported`},
		{"*?\r\n", 0, `streamed`},
		{deep, 4 * MaxDepth, `nested deeper than 64`},
		{"*16777217\r\n", 0, `'*' aggregate of 16777217 elements exceeds the limit of 16777216`},
		{"%8388609\r\n", 0, `'%' map of 8388609 pairs exceeds the limit`},
		{"*1000000000\r\n", 0, `exceeds the limit`},
		{"$1073741825\r\n", 0, `'$' length 1073741825 exceeds the limit of 1073741824 bytes`},
		{"$2147483647\r\n", 0, `exceeds the limit`},
		{"+OK\r\n*1\r\n$x\r\n", 9, `invalid length "x"`},
	} {
		r := NewReader(strings.NewReader(c.wire))
		var err error
		for err == nil {
			_, err = r.ReadReply()
		}
		var pe *ProtocolError
		if !errors.As(err, &pe) {
			t.Errorf("%q: %v, want a *ProtocolError", c.wire, err)
			continue
		}
		if pe.Offset != c.offset || !strings.Contains(pe.Msg, c.msg) {
			t.Errorf("%q: got offset %d %q, want offset %d containing %q", c.wire, pe.Offset, pe.Msg, c.offset, c.msg)
		}
		if !strings.HasPrefix(err.Error(), fmt.Sprintf("resp: protocol error at offset %d: ", c.offset)) {
			t.Errorf("%q: Error() = %q", c.wire, err)
		}
		// The error repeats: the bad reply is not consumed.
		if _, err2 := r.ReadReply(); err2 == nil || err2.Error() != err.Error() {
			t.Errorf("%q: second read: %v, want %v", c.wire, err2, err)
		}
	}
	// Exactly MaxDepth levels are fine.
	ok := strings.Repeat("*1\r\n", MaxDepth) + ":1\r\n"
	if _, err := NewReader(strings.NewReader(ok)).ReadReply(); err != nil {
		t.Errorf("%d levels: %v", MaxDepth, err)
	}
}

func TestLimits(t *testing.T) {
	r := NewReader(strings.NewReader("$5\r\nhello\r\n$6\r\nhello!\r\n"))
	r.SetMaxBulk(5)
	if x, err := r.ReadReply(); err != nil || string(x.Str) != "hello" {
		t.Fatalf("5 bytes: %v %v", x, err)
	}
	var pe *ProtocolError
	if _, err := r.ReadReply(); !errors.As(err, &pe) || pe.Offset != 11 {
		t.Fatalf("6 bytes with limit 5: %v", err)
	}
	r = NewReader(strings.NewReader("*2\r\n:1\r\n:2\r\n*3\r\n"))
	r.SetMaxElements(2)
	if _, err := r.ReadReply(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.ReadReply(); !errors.As(err, &pe) {
		t.Fatalf("3 elements with limit 2: %v", err)
	}
	r.SetMaxElements(0)
	r.SetMaxBulk(0)
	if r.maxElems != DefaultMaxElements || r.maxBulk != DefaultMaxBulk {
		t.Fatal("defaults not restored")
	}
	// Lines are limited by the bulk limit too.
	r = NewReader(strings.NewReader("+" + strings.Repeat("x", 200) + "\r\n"))
	r.SetMaxBulk(100)
	if _, err := r.ReadReply(); !errors.As(err, &pe) || !strings.Contains(pe.Msg, "line longer") {
		t.Fatalf("long line: %v", err)
	}
}

// TestForgedLengths checks that lengths the input does not back allocate
// nothing like them.
func TestForgedLengths(t *testing.T) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for _, c := range []struct {
		wire    string
		maxBulk int64
		want    error
	}{
		{"$1073741824\r\nabc", 0, io.ErrUnexpectedEOF},
		{"$2147483647\r\nabc", 1 << 32, io.ErrUnexpectedEOF},
		{"!1073741824\r\nabc", 0, io.ErrUnexpectedEOF},
		{"*16777216\r\n:1\r\n", 0, io.ErrUnexpectedEOF},
		{"%8388608\r\n:1\r\n", 0, io.ErrUnexpectedEOF},
		{strings.Repeat("*16777216\r\n", MaxDepth) + ":1\r\n", 0, io.ErrUnexpectedEOF},
		{"*1000000000\r\n", 0, nil},
		{"$2147483647\r\n", 0, nil},
	} {
		r := NewReader(strings.NewReader(c.wire))
		r.SetMaxBulk(c.maxBulk)
		_, err := r.ReadReply()
		var pe *ProtocolError
		if c.want == nil && !errors.As(err, &pe) || c.want != nil && err != c.want {
			t.Errorf("%.20q: %v, want %v", c.wire, err, c.want)
		}
	}
	runtime.ReadMemStats(&after)
	if d := after.TotalAlloc - before.TotalAlloc; d > 1<<20 {
		t.Errorf("forged lengths allocated %d bytes", d)
	}

	// Data that does arrive grows the buffer by doubling, never to the
	// announced length.
	data := "$1000000000\r\n" + strings.Repeat("x", 100000)
	r := NewReaderSize(iotest.HalfReader(strings.NewReader(data)), 4096)
	if _, err := r.ReadReply(); err != io.ErrUnexpectedEOF {
		t.Fatalf("%v", err)
	}
	if len(r.buf) > 2*len(data) {
		t.Errorf("buffer grew to %d bytes for %d bytes of input", len(r.buf), len(data))
	}
}

func TestBigBulkAndShrink(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789"), 300000) // 3 MB
	wire := AppendReply(nil, bl(string(big)))
	wire = append(wire, "+OK\r\n"...)
	r := NewReaderSize(iotest.HalfReader(bytes.NewReader(wire)), 4096)
	x, err := r.ReadReply()
	if err != nil || !bytes.Equal(x.Str, big) {
		t.Fatalf("big bulk: %v", err)
	}
	if len(r.buf) > 2*len(wire) {
		t.Errorf("buffer %d for a %d-byte reply", len(r.buf), len(wire))
	}
	kept := x.Clone()
	if x, err := r.ReadReply(); err != nil || string(x.Str) != "OK" {
		t.Fatalf("after big bulk: %v %v", x, err)
	}
	if len(r.buf) != 4096 {
		t.Errorf("buffer not shrunk: %d", len(r.buf))
	}
	if !bytes.Equal(kept.Str, big) {
		t.Error("clone changed")
	}
}

func TestAliasingAndClone(t *testing.T) {
	r := NewReaderSize(strings.NewReader("*2\r\n$3\r\nabc\r\n+x\r\n*2\r\n$3\r\nXYZ\r\n+y\r\n"), 64)
	a, err := r.ReadReply()
	if err != nil {
		t.Fatal(err)
	}
	if cap(a.Elems[0].Str) != 3 {
		t.Errorf("Str has spare capacity %d: appending to it would overwrite the buffer", cap(a.Elems[0].Str))
	}
	c := a.Clone()
	if _, err := r.ReadReply(); err != nil {
		t.Fatal(err)
	}
	if !equal(c, ar(bl("abc"), st("x"))) {
		t.Errorf("clone changed by the next read: %v", c)
	}
	// The original may have changed (its elements are reused): that is the
	// documented contract, so only check the clone shares nothing.
	c.Elems[0].Str[0] = 'Q'
	if cap(c.Elems[0].Str) != 3 || string(c.Elems[1].Str) != "x" {
		t.Error("clone strings overlap")
	}
	if z := (Reply{}).Clone(); z.Kind != 0 || z.Str != nil || z.Elems != nil {
		t.Error("zero clone")
	}
}

func TestServerError(t *testing.T) {
	for _, c := range []struct {
		msg, code, text string
	}{
		{"ERR unknown command 'foo'", "ERR", "unknown command 'foo'"},
		{"BUSYKEY Target key name already exists.", "BUSYKEY", "Target key name already exists."},
		{"WRONGTYPE Operation against a key holding the wrong kind of value", "WRONGTYPE", "Operation against a key holding the wrong kind of value"},
		{"MOVED 3999 127.0.0.1:6381", "MOVED", "3999 127.0.0.1:6381"},
		{"ASK 3999 127.0.0.1:6381", "ASK", "3999 127.0.0.1:6381"},
		{"LOADING Redis is loading the dataset in memory", "LOADING", "Redis is loading the dataset in memory"},
		{"BUSY Redis is busy running a script.", "BUSY", "Redis is busy running a script."},
		{"TRYAGAIN Multiple keys request during rehashing of slot", "TRYAGAIN", "Multiple keys request during rehashing of slot"},
		{"CLUSTERDOWN The cluster is down", "CLUSTERDOWN", "The cluster is down"},
		{"OOM command not allowed when used memory > 'maxmemory'.", "OOM", "command not allowed when used memory > 'maxmemory'."},
		{"NOPERM this user has no permissions", "NOPERM", "this user has no permissions"},
		{"MASTERDOWN Link with MASTER is down", "MASTERDOWN", "Link with MASTER is down"},
		{"NOAUTH Authentication required.", "NOAUTH", "Authentication required."},
		{"WRONGPASS invalid username-password pair", "WRONGPASS", "invalid username-password pair"},
		{"NOSCRIPT No matching script.", "NOSCRIPT", "No matching script."},
		{"ERR", "ERR", ""},
		{"Error: something", "", "Error: something"},
		{"user_script:1: oops", "", "user_script:1: oops"},
		{"", "", ""},
		{"A-B x", "", "A-B x"},
		{"NO_REPLICAS x", "NO_REPLICAS", "x"},
	} {
		err := er(c.msg).Err()
		var se *ServerError
		if !errors.As(err, &se) {
			t.Fatalf("%q: Err() = %T", c.msg, err)
		}
		if se.Error() != c.msg || se.Code() != c.code || se.Text() != c.text {
			t.Errorf("%q: Error %q Code %q Text %q, want code %q text %q", c.msg, se.Error(), se.Code(), se.Text(), c.code, c.text)
		}
	}
	if st("OK").Err() != nil || nl.Err() != nil {
		t.Error("Err of a non-error reply")
	}
}

func TestRedirect(t *testing.T) {
	for _, c := range []struct {
		msg        string
		moved, ask bool
		slot       int
		addr       string
	}{
		{"MOVED 3999 127.0.0.1:6381", true, false, 3999, "127.0.0.1:6381"},
		{"ASK 3999 127.0.0.1:6381", false, true, 3999, "127.0.0.1:6381"},
		{"MOVED 0 10.0.0.1:7000", true, false, 0, "10.0.0.1:7000"},
		{"MOVED 16383 ::1:7000", true, false, 16383, "::1:7000"},
		{"MOVED 12 :7000", true, false, 12, ":7000"},
		{"MOVED 12 ?:7000", true, false, 12, "?:7000"},
		{"ASK 5 redis-1.example:6379", false, true, 5, "redis-1.example:6379"},
		{"MOVED 16384 h:1", false, false, 0, ""},
		{"MOVED -1 h:1", false, false, 0, ""},
		{"MOVED 12", false, false, 0, ""},
		{"MOVED 12 ", false, false, 0, ""},
		{"MOVED 12 host", false, false, 0, ""},
		{"MOVED  12 h:1", false, false, 0, ""},
		{"MOVED 1x h:1", false, false, 0, ""},
		{"MOVED 999999 h:1", false, false, 0, ""},
		{"MOVED 1 h:1 extra", false, false, 0, ""},
		{"ERR MOVED 1 h:1", false, false, 0, ""},
		{"ASKING 1 h:1", false, false, 0, ""},
	} {
		e := &ServerError{Msg: c.msg}
		slot, addr, ok := e.Moved()
		if ok != c.moved || c.moved && (slot != c.slot || addr != c.addr) {
			t.Errorf("%q: Moved() = %d %q %v", c.msg, slot, addr, ok)
		}
		slot, addr, ok = e.Ask()
		if ok != c.ask || c.ask && (slot != c.slot || addr != c.addr) {
			t.Errorf("%q: Ask() = %d %q %v", c.msg, slot, addr, ok)
		}
	}
}

func TestReadLine(t *testing.T) {
	wire := "\n\n+FULLRESYNC 8de1787ba490483314a4d30f1c628bc5025eb761 0\r\n\r\n\n$EOF:" +
		strings.Repeat("a", 40) + "\r\nRDB" + "+OK\r\nlast"
	r := NewReaderSize(iotest.OneByteReader(strings.NewReader(wire)), 64)
	var lines []string
	for i := 0; i < 6; i++ {
		l, err := r.ReadLine()
		if err != nil {
			t.Fatal(err)
		}
		if cap(l) != len(l) {
			t.Error("line with spare capacity")
		}
		lines = append(lines, string(l))
	}
	want := []string{"", "", "+FULLRESYNC 8de1787ba490483314a4d30f1c628bc5025eb761 0", "", "", "$EOF:" + strings.Repeat("a", 40)}
	if fmt.Sprint(lines) != fmt.Sprint(want) {
		t.Fatalf("lines %q, want %q", lines, want)
	}
	p := make([]byte, 3)
	if _, err := io.ReadFull(r, p); err != nil || string(p) != "RDB" {
		t.Fatalf("raw read %q %v", p, err)
	}
	if x, err := r.ReadReply(); err != nil || string(x.Str) != "OK" {
		t.Fatalf("reply after raw: %v %v", x, err)
	}
	if l, err := r.ReadLine(); err != io.ErrUnexpectedEOF {
		t.Fatalf("unterminated last line: %q %v", l, err)
	}
	if _, err := NewReader(strings.NewReader("")).ReadLine(); err != io.EOF {
		t.Fatalf("empty stream: %v", err)
	}
	r = NewReaderSize(strings.NewReader(strings.Repeat("x", 300)+"\n"), 64)
	r.SetMaxBulk(100)
	var pe *ProtocolError
	if _, err := r.ReadLine(); !errors.As(err, &pe) {
		t.Fatalf("long line: %v", err)
	}
}

func TestRawAccess(t *testing.T) {
	payload := bytes.Repeat([]byte("payload-"), 5000) // 40000 bytes
	wire := append([]byte("$40000\r\n"), payload...)
	wire = append(wire, "*1\r\n$4\r\nPING\r\n"...)
	r := NewReaderSize(bytes.NewReader(wire), 4096)
	l, err := r.ReadLine()
	if err != nil || string(l) != "$40000" {
		t.Fatalf("preamble %q %v", l, err)
	}
	if r.Buffered() == 0 || r.Offset() != 8 {
		t.Fatalf("Buffered %d Offset %d", r.Buffered(), r.Offset())
	}
	got, err := io.ReadAll(r.LimitedBulk(40000))
	if err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("LimitedBulk: %d bytes, %v", len(got), err)
	}
	if r.Offset() != int64(len(wire)-len("*1\r\n$4\r\nPING\r\n")) {
		t.Fatalf("Offset %d", r.Offset())
	}
	x, err := r.ReadReply()
	if err != nil || !equal(x, ar(bl("PING"))) {
		t.Fatalf("command after payload: %v %v", x, err)
	}
	if r.Offset() != int64(len(wire)) {
		t.Fatalf("Offset %d", r.Offset())
	}

	// Short payload.
	r = NewReader(strings.NewReader("abc"))
	if got, err := io.ReadAll(r.LimitedBulk(5)); err != io.ErrUnexpectedEOF || string(got) != "abc" {
		t.Fatalf("short LimitedBulk: %q %v", got, err)
	}
	if got, err := io.ReadAll(NewReader(strings.NewReader("abc")).LimitedBulk(0)); err != nil || len(got) != 0 {
		t.Fatalf("empty LimitedBulk: %q %v", got, err)
	}

	// Peek and Discard.
	r = NewReaderSize(iotest.OneByteReader(strings.NewReader("0123456789+OK\r\n")), 64)
	if p, err := r.Peek(4); err != nil || string(p) != "0123" {
		t.Fatalf("Peek %q %v", p, err)
	}
	if n, err := r.Discard(10); n != 10 || err != nil {
		t.Fatalf("Discard %d %v", n, err)
	}
	if x, err := r.ReadReply(); err != nil || string(x.Str) != "OK" {
		t.Fatalf("after Discard: %v %v", x, err)
	}
	if p, err := r.Peek(1); err != io.EOF || len(p) != 0 {
		t.Fatalf("Peek at EOF: %q %v", p, err)
	}
	if n, err := r.Discard(1); n != 0 || err != io.EOF {
		t.Fatalf("Discard at EOF: %d %v", n, err)
	}
	r = NewReaderSize(strings.NewReader("abc"), 64)
	if p, err := r.Peek(5); err != io.EOF || string(p) != "abc" {
		t.Fatalf("short Peek %q %v", p, err)
	}
	if p, err := r.Peek(200); err == nil || string(p) != "abc" {
		t.Fatalf("Peek beyond the buffer at EOF %q %v", p, err)
	}
	// Peek grows the buffer when asked for more than it holds.
	r = NewReaderSize(strings.NewReader(strings.Repeat("z", 1000)), 64)
	if p, err := r.Peek(1000); err != nil || len(p) != 1000 {
		t.Fatalf("big Peek %d %v", len(p), err)
	}
	if _, err := r.Peek(-1); err == nil {
		t.Fatal("Peek(-1)")
	}
	if _, err := r.Discard(-1); err == nil {
		t.Fatal("Discard(-1)")
	}
	// A big Read with an empty buffer bypasses it.
	r = NewReaderSize(strings.NewReader(strings.Repeat("y", 1000)), 64)
	p := make([]byte, 1000)
	if n, err := r.Read(p); n != 1000 || err != nil || r.Offset() != 1000 {
		t.Fatalf("direct Read %d %v offset %d", n, err, r.Offset())
	}
	if n, err := r.Read(nil); n != 0 || err != nil {
		t.Fatalf("Read(nil) %d %v", n, err)
	}
	if n, err := r.Read(p); n != 0 || err != io.EOF {
		t.Fatalf("Read at EOF %d %v", n, err)
	}
}

func TestReadErrorRetry(t *testing.T) {
	// A timeout in the middle of a reply keeps what was read; the next
	// call completes the reply.
	errTimeout := errors.New("timeout")
	src := &scriptReader{steps: []step{{data: "*2\r\n$3\r\nab"}, {err: errTimeout}, {data: "c\r\n:5\r\n"}}}
	r := NewReader(src)
	if _, err := r.ReadReply(); err != errTimeout {
		t.Fatalf("first: %v", err)
	}
	x, err := r.ReadReply()
	if err != nil || !equal(x, ar(bl("abc"), in(5))) {
		t.Fatalf("retry: %v %v", x, err)
	}
}

type step struct {
	data string
	err  error
}

// scriptReader returns its steps one per Read.
type scriptReader struct{ steps []step }

func (s *scriptReader) Read(p []byte) (int, error) {
	if len(s.steps) == 0 {
		return 0, io.EOF
	}
	st := &s.steps[0]
	if st.err != nil {
		err := st.err
		s.steps = s.steps[1:]
		return 0, err
	}
	n := copy(p, st.data)
	st.data = st.data[n:]
	if st.data == "" {
		s.steps = s.steps[1:]
	}
	return n, nil
}

func TestNoProgress(t *testing.T) {
	r := NewReader(zeroReader{})
	if _, err := r.ReadReply(); err != io.ErrNoProgress {
		t.Fatalf("%v", err)
	}
}

type zeroReader struct{}

func (zeroReader) Read([]byte) (int, error) { return 0, nil }

// chunkReader returns its chunks one per Read (split further if p is
// small), and tells how much is left.
type chunkReader struct{ chunks [][]byte }

func (c *chunkReader) Read(p []byte) (int, error) {
	for len(c.chunks) > 0 && len(c.chunks[0]) == 0 {
		c.chunks = c.chunks[1:]
	}
	if len(c.chunks) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.chunks[0])
	c.chunks[0] = c.chunks[0][n:]
	return n, nil
}

func (c *chunkReader) rest() []byte { return bytes.Join(c.chunks, nil) }

// markSources returns readers of src's bytes for EOFMarkReader (the
// generic path, *Reader and *bufio.Reader) and a function returning what
// is left after the mark.
func markSources(chunks [][]byte) map[string]func() (io.Reader, func() []byte) {
	cp := func() *chunkReader {
		c := &chunkReader{}
		for _, ch := range chunks {
			c.chunks = append(c.chunks, append([]byte(nil), ch...))
		}
		return c
	}
	return map[string]func() (io.Reader, func() []byte){
		"generic": func() (io.Reader, func() []byte) {
			c := cp()
			return c, c.rest
		},
		"Reader": func() (io.Reader, func() []byte) {
			r := NewReaderSize(cp(), 64)
			return r, func() []byte { b, _ := io.ReadAll(r); return b }
		},
		"bufio": func() (io.Reader, func() []byte) {
			r := bufio.NewReaderSize(cp(), 64)
			return r, func() []byte { b, _ := io.ReadAll(r); return b }
		},
	}
}

func TestEOFMarkReader(t *testing.T) {
	mark := []byte("7c2ee1b5c1d5e96a2a06cf8f4ab1e17d7ae3f01d")
	rng := rand.New(rand.NewSource(1))
	var payload []byte
	for i := 0; i < 50; i++ {
		payload = append(payload, byte(rng.Intn(256)))
	}
	// Decoys: partial marks inside the payload, one right before the mark.
	payload = append(payload, mark[:39]...)
	payload = append(payload, 'x')
	payload = append(payload, mark[:1]...)
	payload = append(payload, "-REDIS"...)
	payload = append(payload, mark[:20]...)
	trailer := []byte("*1\r\n$4\r\nPING\r\n")
	wire := append(append(append([]byte(nil), payload...), mark...), trailer...)

	for split := 0; split <= len(wire); split++ {
		chunks := [][]byte{wire[:split], wire[split:]}
		for name, mk := range markSources(chunks) {
			for _, oneByte := range []bool{false, true} {
				src, rest := mk()
				var er io.Reader = EOFMarkReader(src, mark)
				if oneByte {
					er = iotest.OneByteReader(er)
				}
				got, err := io.ReadAll(er)
				if err != nil || !bytes.Equal(got, payload) {
					t.Fatalf("split %d %s onebyte=%v: got %d bytes (%v), want %d", split, name, oneByte, len(got), err, len(payload))
				}
				if r := rest(); !bytes.Equal(r, trailer) {
					t.Fatalf("split %d %s onebyte=%v: left %q, want %q", split, name, oneByte, r, trailer)
				}
			}
		}
	}
	// Split into three at every pair of positions around the mark.
	start := len(payload) - 5
	for i := start; i <= len(payload)+len(mark); i++ {
		for j := i; j <= len(payload)+len(mark)+1; j++ {
			chunks := [][]byte{wire[:i], wire[i:j], wire[j:]}
			for name, mk := range markSources(chunks) {
				src, rest := mk()
				got, err := io.ReadAll(EOFMarkReader(src, mark))
				if err != nil || !bytes.Equal(got, payload) || !bytes.Equal(rest(), trailer) {
					t.Fatalf("splits %d,%d %s: %d bytes, %v", i, j, name, len(got), err)
				}
			}
		}
	}
}

func TestEOFMarkReaderErrors(t *testing.T) {
	mark := []byte("0123456789012345678901234567890123456789")
	for name, mk := range markSources([][]byte{[]byte("payload and half a mark 01234567890")}) {
		src, _ := mk()
		got, err := io.ReadAll(EOFMarkReader(src, mark))
		if err != io.ErrUnexpectedEOF || string(got) != "payload and half a mark " {
			t.Errorf("%s: EOF before the mark: %q %v", name, got, err)
		}
	}
	for name, mk := range markSources(nil) {
		src, _ := mk()
		if _, err := io.ReadAll(EOFMarkReader(src, mark)); err != io.ErrUnexpectedEOF {
			t.Errorf("%s: empty: %v", name, err)
		}
	}
	// An error of the underlying reader is passed on.
	boom := errors.New("boom")
	if _, err := io.ReadAll(EOFMarkReader(iotest.ErrReader(boom), mark)); err != boom {
		t.Errorf("generic error: %v", err)
	}
	if _, err := io.ReadAll(EOFMarkReader(NewReader(iotest.ErrReader(boom)), mark)); err != boom {
		t.Errorf("peek error: %v", err)
	}
	// The mark is copied.
	m := append([]byte(nil), mark...)
	er := EOFMarkReader(strings.NewReader("abc"+string(mark)), m)
	m[0] = 'X'
	if got, err := io.ReadAll(er); err != nil || string(got) != "abc" {
		t.Errorf("mark not copied: %q %v", got, err)
	}
	// Empty mark.
	if got, err := io.ReadAll(EOFMarkReader(strings.NewReader("abc"), nil)); err != nil || len(got) != 0 {
		t.Errorf("empty mark: %q %v", got, err)
	}
	// Mark at the very start.
	if got, err := io.ReadAll(EOFMarkReader(NewReader(bytes.NewReader(mark)), mark)); err != nil || len(got) != 0 {
		t.Errorf("mark first: %q %v", got, err)
	}
}

// TestEOFMarkReaderRandom checks self-overlapping marks over a two-letter
// alphabet against bytes.Index, with random chunking and read sizes.
func TestEOFMarkReaderRandom(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	marks := []string{"aab", "abab", "aaaa", "abaab", "ababaabab", "b"}
	for iter := 0; iter < 3000; iter++ {
		mark := []byte(marks[rng.Intn(len(marks))])
		n := rng.Intn(40)
		wire := make([]byte, n)
		for i := range wire {
			wire[i] = "ab"[rng.Intn(2)]
		}
		idx := bytes.Index(wire, mark)
		var chunks [][]byte
		for rest := wire; len(rest) > 0; {
			k := 1 + rng.Intn(len(rest))
			chunks = append(chunks, rest[:k])
			rest = rest[k:]
		}
		for name, mk := range markSources(chunks) {
			src, rest := mk()
			er := EOFMarkReader(src, mark)
			var got []byte
			var err error
			for {
				p := make([]byte, 1+rng.Intn(8))
				var k int
				k, err = er.Read(p)
				got = append(got, p[:k]...)
				if err != nil {
					break
				}
			}
			if idx < 0 {
				if err != io.ErrUnexpectedEOF {
					t.Fatalf("%q in %q (%s): %v, want io.ErrUnexpectedEOF", mark, wire, name, err)
				}
				continue
			}
			if err != io.EOF || !bytes.Equal(got, wire[:idx]) {
				t.Fatalf("%q in %q (%s): got %q %v, want %q", mark, wire, name, got, err, wire[:idx])
			}
			if r := rest(); !bytes.Equal(r, wire[idx+len(mark):]) {
				t.Fatalf("%q in %q (%s): left %q, want %q", mark, wire, name, r, wire[idx+len(mark):])
			}
		}
	}
}

// recWriter records the size of every Write.
type recWriter struct {
	bytes.Buffer
	writes []int
}

func (w *recWriter) Write(p []byte) (int, error) {
	w.writes = append(w.writes, len(p))
	return w.Buffer.Write(p)
}

func TestWriter(t *testing.T) {
	var out recWriter
	w := NewWriterSize(&out, 64)
	big := bytes.Repeat([]byte("B"), 1000)
	args := [][]byte{[]byte("SET"), []byte("key"), big}
	if err := w.WriteCommand(args...); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteCommandStrings("GET", "key", string(big)); err != nil {
		t.Fatal(err)
	}
	// RESTORE with the payload streamed in pieces.
	payload := [][]byte{{0}, bytes.Repeat([]byte("v"), 500), []byte("\x0a\x00footer..")}
	size := 0
	for _, p := range payload {
		size += len(p)
	}
	payload = payload[1:] // the type byte is written with WriteByte
	w.WriteArrayHeader(5)
	w.WriteBulkString("RESTORE")
	w.WriteBulk([]byte("key"))
	w.WriteBulkInt(0)
	w.WriteBulkHeader(size)
	w.WriteByte(0)
	for _, p := range payload {
		if err := w.WriteRaw(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.WriteBulkEnd(); err != nil {
		t.Fatal(err)
	}
	w.WriteBulkString("REPLACE")
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if w.Buffered() != 0 || w.Available() != 64 {
		t.Errorf("after Flush: Buffered %d Available %d", w.Buffered(), w.Available())
	}
	want := AppendCommand(nil, args...)
	want = AppendCommandStrings(want, "GET", "key", string(big))
	want = AppendCommand(want, []byte("RESTORE"), []byte("key"), []byte("0"), append([]byte{0}, bytes.Join(payload, nil)...), []byte("REPLACE"))
	if !bytes.Equal(out.Bytes(), want) {
		t.Fatalf("wrote\n%q\nwant\n%q", out.Bytes(), want)
	}
	// The big []byte argument went to the underlying writer mostly
	// uncopied: one write of more than the buffer size.
	direct := false
	for _, n := range out.writes {
		if n > 64 {
			direct = true
		}
	}
	if !direct {
		t.Errorf("no direct write of the big argument: %v", out.writes)
	}
	// And it reads back.
	r := NewReader(bytes.NewReader(out.Bytes()))
	for i := 0; i < 3; i++ {
		x, err := r.ReadReply()
		if err != nil || x.Kind != Array {
			t.Fatalf("command %d: %v %v", i, x, err)
		}
	}
}

func TestWriterIntegers(t *testing.T) {
	var b bytes.Buffer
	w := NewWriter(&b)
	for _, n := range []int64{0, 9, 10, -1, math.MaxInt64, math.MinInt64} {
		w.WriteBulkInt(n)
	}
	w.Flush()
	r := NewReader(&b)
	for _, n := range []int64{0, 9, 10, -1, math.MaxInt64, math.MinInt64} {
		x, err := r.ReadReply()
		if err != nil || string(x.Str) != fmt.Sprint(n) {
			t.Fatalf("%d: %v %v", n, x, err)
		}
	}
	if got := string(AppendCommandStrings(nil, "PING")); got != "*1\r\n$4\r\nPING\r\n" {
		t.Fatalf("%q", got)
	}
}

func TestWriterFraming(t *testing.T) {
	var b bytes.Buffer
	w := NewWriter(&b)
	if err := w.WriteCommand(); err == nil {
		t.Error("empty command accepted")
	}
	if err := w.WriteCommandStrings(); err == nil {
		t.Error("empty command accepted")
	}
	if err := w.WriteArrayHeader(-1); err == nil {
		t.Error("negative array")
	}
	if err := w.WriteBulkHeader(-1); err == nil {
		t.Error("negative bulk")
	}
	if err := w.WriteCommandStrings("PING"); err != nil {
		t.Fatalf("non-sticky errors stuck: %v", err)
	}

	sticky := func(name string, f func(w *Writer) error) {
		t.Helper()
		w := NewWriter(io.Discard)
		if err := f(w); err == nil {
			t.Errorf("%s: no error", name)
			return
		}
		if err := w.WriteCommandStrings("PING"); err == nil {
			t.Errorf("%s: error not sticky", name)
		}
		if err := w.Flush(); err == nil {
			t.Errorf("%s: Flush after the error", name)
		}
		w.Reset(io.Discard)
		if err := w.WriteCommandStrings("PING"); err != nil {
			t.Errorf("%s: after Reset: %v", name, err)
		}
	}
	sticky("too many bytes", func(w *Writer) error {
		w.WriteBulkHeader(3)
		return w.WriteRaw([]byte("abcd"))
	})
	sticky("too few bytes", func(w *Writer) error {
		w.WriteBulkHeader(3)
		w.WriteRaw([]byte("ab"))
		return w.WriteBulkEnd()
	})
	sticky("byte too many", func(w *Writer) error {
		w.WriteBulkHeader(1)
		w.WriteByte('a')
		return w.WriteByte('b')
	})
	sticky("end without header", func(w *Writer) error { return w.WriteBulkEnd() })
	sticky("command inside a bulk", func(w *Writer) error {
		w.WriteBulkHeader(3)
		return w.WriteCommandStrings("PING")
	})
	sticky("header inside a bulk", func(w *Writer) error {
		w.WriteBulkHeader(3)
		return w.WriteBulkHeader(3)
	})

	// Raw writes outside a bulk are not counted.
	b.Reset()
	w = NewWriter(&b)
	w.WriteRaw([]byte("PING\r\n"))
	w.WriteReply(st("OK"))
	w.Flush()
	if b.String() != "PING\r\n+OK\r\n" {
		t.Errorf("%q", b.String())
	}
	// A Flush in the middle of a bulk is fine.
	b.Reset()
	w.WriteBulkHeader(2)
	w.WriteRaw([]byte("a"))
	w.Flush()
	w.WriteRaw([]byte("b"))
	w.WriteBulkEnd()
	w.Flush()
	if b.String() != "$2\r\nab\r\n" {
		t.Errorf("%q", b.String())
	}
}

type errWriter struct {
	n   int // bytes accepted before failing
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if len(p) <= e.n {
		e.n -= len(p)
		return len(p), nil
	}
	n := e.n
	e.n = 0
	return n, e.err
}

type shortWriter struct{}

func (shortWriter) Write(p []byte) (int, error) { return len(p) / 2, nil }

func TestWriterErrors(t *testing.T) {
	boom := errors.New("boom")
	w := NewWriterSize(&errWriter{n: 10, err: boom}, 64)
	w.WriteCommandStrings("SET", "k", "v")
	if err := w.Flush(); err != boom {
		t.Fatalf("Flush: %v", err)
	}
	if w.Buffered() != len(AppendCommandStrings(nil, "SET", "k", "v"))-10 {
		t.Errorf("Buffered after a partial write: %d", w.Buffered())
	}
	if err := w.WriteCommandStrings("PING"); err != boom {
		t.Errorf("sticky: %v", err)
	}
	if _, err := w.Write([]byte("x")); err != boom {
		t.Errorf("sticky Write: %v", err)
	}
	w = NewWriterSize(shortWriter{}, 64)
	w.WriteCommandStrings("PING")
	if err := w.Flush(); err != io.ErrShortWrite {
		t.Errorf("short write: %v", err)
	}
	// A failing direct write of a big argument.
	w = NewWriterSize(&errWriter{n: 0, err: boom}, 64)
	if err := w.WriteRaw(make([]byte, 1000)); err != boom {
		t.Errorf("direct write: %v", err)
	}
	w = NewWriterSize(shortWriter{}, 64)
	if err := w.WriteRaw(make([]byte, 1000)); err != io.ErrShortWrite {
		t.Errorf("short direct write: %v", err)
	}
}

// loopReader returns data over and over.
type loopReader struct {
	data []byte
	off  int
}

func (l *loopReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		k := copy(p[n:], l.data[l.off:])
		n += k
		l.off = (l.off + k) % len(l.data)
	}
	return n, nil
}

func repeat(s string, n int) []byte { return bytes.Repeat([]byte(s), n) }

func TestNoAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("AllocsPerRun")
	}
	for _, c := range []string{
		"+OK\r\n",
		":1\r\n",
		"$5\r\nhello\r\n",
		"-ERR x\r\n",
		"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n",
		"%1\r\n+k\r\n*2\r\n:1\r\n#t\r\n",
		"|1\r\n+a\r\n+b\r\n+OK\r\n",
	} {
		r := NewReader(&loopReader{data: repeat(c, 1000)})
		r.ReadReply()
		if n := testing.AllocsPerRun(1000, func() {
			if _, err := r.ReadReply(); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("%q: %v allocations per ReadReply", c, n)
		}
	}
	w := NewWriter(io.Discard)
	set, k, v := []byte("SET"), []byte("key"), []byte("value")
	if n := testing.AllocsPerRun(1000, func() {
		w.WriteCommand(set, k, v)
		w.WriteCommandStrings("GET", "key")
		w.WriteArrayHeader(2)
		w.WriteBulkInt(123456)
		w.WriteBulkHeader(4)
		w.WriteByte(0)
		w.WriteRaw(v[:3])
		w.WriteBulkEnd()
	}); n != 0 {
		t.Errorf("%v allocations per command", n)
	}
}

func benchRead(b *testing.B, reply string) {
	r := NewReader(&loopReader{data: repeat(reply, 4096)})
	b.SetBytes(int64(len(reply)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := r.ReadReply(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadStatus(b *testing.B) { benchRead(b, "+OK\r\n") }
func BenchmarkReadInt(b *testing.B)    { benchRead(b, ":12345\r\n") }
func BenchmarkReadBulk(b *testing.B)   { benchRead(b, "$10\r\n0123456789\r\n") }
func BenchmarkReadCommand(b *testing.B) {
	benchRead(b, "*3\r\n$3\r\nSET\r\n$10\r\nkey:000001\r\n$20\r\nvalue:00000000000001\r\n")
}
func BenchmarkReadBulk64K(b *testing.B) {
	benchRead(b, string(AppendReply(nil, bl(strings.Repeat("x", 64<<10)))))
}

func BenchmarkWriteCommand(b *testing.B) {
	w := NewWriter(io.Discard)
	k, v := []byte("key:000001"), []byte("value:00000000000001")
	set := []byte("SET")
	b.SetBytes(int64(len(AppendCommand(nil, set, k, v))))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		w.WriteCommand(set, k, v)
	}
	w.Flush()
}

func BenchmarkWriteRestoreStreamed(b *testing.B) {
	w := NewWriter(io.Discard)
	key := []byte("key:000001")
	value := bytes.Repeat([]byte("v"), 1000)
	footer := []byte("\x0a\x00\x01\x02\x03\x04\x05\x06\x07\x08")
	b.SetBytes(int64(1 + len(value) + len(footer)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		w.WriteArrayHeader(5)
		w.WriteBulkString("RESTORE")
		w.WriteBulk(key)
		w.WriteBulkInt(0)
		w.WriteBulkHeader(1 + len(value) + len(footer))
		w.WriteByte(0)
		w.WriteRaw(value)
		w.WriteRaw(footer)
		w.WriteBulkEnd()
		w.WriteBulkString("REPLACE")
	}
	w.Flush()
}

func BenchmarkAppendCommand(b *testing.B) {
	k, v := []byte("key:000001"), []byte("value:00000000000001")
	set := []byte("SET")
	buf := make([]byte, 0, 128)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		buf = AppendCommand(buf[:0], set, k, v)
	}
}

func BenchmarkEOFMarkReader(b *testing.B) {
	mark := []byte("7c2ee1b5c1d5e96a2a06cf8f4ab1e17d7ae3f01d")
	payload := make([]byte, 1<<20)
	rand.New(rand.NewSource(3)).Read(payload)
	wire := append(append([]byte(nil), payload...), mark...)
	buf := make([]byte, 32<<10)
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		r := NewReaderSize(bytes.NewReader(wire), 64<<10)
		if _, err := io.CopyBuffer(struct{ io.Writer }{io.Discard}, EOFMarkReader(r, mark), buf); err != nil {
			b.Fatal(err)
		}
	}
}

func TestReset(t *testing.T) {
	r := NewReaderSize(strings.NewReader("+a\r\n+b\r\n"), 64)
	r.SetMaxBulk(10)
	if _, err := r.ReadReply(); err != nil {
		t.Fatal(err)
	}
	r.Reset(strings.NewReader("$-1\r\n"))
	x, err := r.ReadReply()
	if err != nil || !x.IsNil() || r.Offset() != 5 || r.maxBulk != 10 {
		t.Fatalf("after Reset: %v %v offset %d", x, err, r.Offset())
	}
	if _, ok := in(1).BigInt(); ok {
		t.Error("BigInt of an Int")
	}
	var b bytes.Buffer
	w := NewWriterSize(&b, 0)
	if w.Available() != minBufferSize {
		t.Errorf("minimum size %d", w.Available())
	}
}
