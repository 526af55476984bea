package transfer

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rdbferry/rdbferry/internal/resp"
	"github.com/rdbferry/rdbferry/internal/server"
	"github.com/rdbferry/rdbferry/rdb"
)

// PSYNCOptions configure a [PSYNC] source.
type PSYNCOptions struct {
	// TLS configures rediss:// connections (nil: the system roots, with
	// the URL's host as server name).
	TLS *tls.Config
	// DialTimeout bounds connecting, including the TLS handshake
	// (default 10 s).
	DialTimeout time.Duration
	// RDBOnly sends "REPLCONF rdb-only 1", which servers that know it
	// (Redis ≥ 6.2, Valkey, KeyDB) answer by closing the connection right
	// after the snapshot instead of keeping a replica link (and its
	// replication buffer) open. Servers that do not know it are asked for
	// a normal full sync.
	RDBOnly bool
	// Tee, if set, receives every byte of the RDB payload as it arrives
	// (uncompressed, exactly as the server sent it), so that a backup file
	// is written while migrating. An error writing to Tee stops the
	// transfer.
	Tee io.Writer
	// AckInterval is how often "REPLCONF ACK <offset>" is sent while the
	// snapshot is read, so that the master keeps the link (default 1 s).
	// No ACK is sent to a master that accepted RDBOnly: it closes the
	// connection after the snapshot, and an ACK crossing that close would
	// make it reset the connection, losing the end of the snapshot.
	AckInterval time.Duration
	// ListeningPort is the port announced with "REPLCONF listening-port"
	// (shown in the master's INFO replication; default 0).
	ListeningPort int
}

// Timeouts of a PSYNC source besides PSYNCOptions.DialTimeout.
const (
	psyncDefaultDialTimeout = 10 * time.Second
	psyncDefaultAckInterval = time.Second
	// psyncReplyTimeout bounds the wait for each reply of the handshake
	// before PSYNC.
	psyncReplyTimeout = 30 * time.Second
	// psyncIdleTimeout is how long the master may send nothing at all
	// after PSYNC (Redis's own repl-timeout default). Masters send "\n"
	// every second while a snapshot is being prepared, so only a dead
	// link stays silent that long.
	psyncIdleTimeout = 60 * time.Second
	// psyncEOFMarkLen is the length of the "$EOF:<mark>" delimiter.
	psyncEOFMarkLen = 40
)

// PSYNC returns a source that takes a snapshot of a live server as a replica would:
// it connects, authenticates, announces itself (REPLCONF listening-port, capa eof psync2),
// asks for a full resynchronisation (PSYNC ? -1) and streams the RDB the server sends
// straight into the reader (no disk spool).
//
// rawURL is redis://[[user]:password@]host[:port] or rediss://… for TLS; a
// database number in the path is ignored (a snapshot holds every
// database). The master's replication id and offset at the snapshot are
// in the reader's SourceInfo. Both framings of the payload are read:
// "$<length>" (disk-based sync) and "$EOF:<mark>" (diskless). Servers that
// refuse replication, such as managed services that disable PSYNC, give
// an error that suggests the SCAN source instead.
func PSYNC(rawURL string, opts PSYNCOptions) Source {
	return &psyncSource{raw: rawURL, opts: opts}
}

type psyncSource struct {
	raw  string
	opts PSYNCOptions
}

// parsePSYNCURL parses the URL of a PSYNC source: redis:// or rediss://.
func parsePSYNCURL(raw string) (server.Endpoint, error) {
	e, err := server.ParseURL(raw)
	if err != nil {
		return e, fmt.Errorf("psync: %w", err)
	}
	if e.Variant != "" {
		return e, fmt.Errorf("psync: URL %q: scheme must be redis:// or rediss://", e.Redacted)
	}
	return e, nil
}

func (s *psyncSource) String() string {
	e, err := parsePSYNCURL(s.raw)
	if err != nil {
		if u, uerr := url.Parse(s.raw); uerr == nil {
			return "psync " + u.Redacted()
		}
		return "psync (bad URL)"
	}
	return "psync " + e.Addr
}

// Open connects, performs the replica handshake and returns a Reader of
// the snapshot once the server has announced its payload.
func (s *psyncSource) Open(ctx context.Context) (Reader, error) {
	ep, err := parsePSYNCURL(s.raw)
	if err != nil {
		return nil, err
	}
	name := "psync " + ep.Addr
	opts := s.opts
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = psyncDefaultDialTimeout
	}
	if opts.AckInterval <= 0 {
		opts.AckInterval = psyncDefaultAckInterval
	}

	nc, err := server.DialTLS(ctx, ep, ep.Addr, server.Options{TLS: opts.TLS, Timeout: opts.DialTimeout})
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return nil, fmt.Errorf("%s: %w", name, cerr)
		}
		return nil, fmt.Errorf("%s: cannot connect: %w", name, err)
	}
	c := &psyncConn{nc: nc, stopAck: make(chan struct{})}
	c.in = &psyncDeadlineReader{nc: nc, timeout: psyncReplyTimeout}
	c.rd = resp.NewReaderSize(c.in, 64<<10)
	c.rd.SetMaxBulk(64 << 10) // handshake lines are short
	// Cancelling ctx closes the connection, which unblocks every read
	// and write, during the handshake and while the snapshot is read.
	c.stopCancel = context.AfterFunc(ctx, func() { nc.Close() })

	h := &psyncHandshake{ctx: ctx, c: c, ep: ep, name: name}
	info, err := h.run(opts)
	if err != nil {
		c.Close()
		return nil, err
	}

	var frame io.Reader
	total := int64(-1)
	if info.mark != nil {
		frame = resp.EOFMarkReader(c.rd, info.mark)
	} else {
		frame = c.rd.LimitedBulk(info.length)
		total = info.length
	}
	if opts.Tee != nil {
		frame = io.TeeReader(frame, opts.Tee)
	}
	c.frame = frame
	if !info.rdbOnly {
		// No ACK to a master that accepted rdb-only: it never takes such
		// a replica online (so needs none to keep it), and it closes the
		// connection right after the payload; an ACK unread or arriving
		// then makes its kernel answer with a TCP reset, which discards
		// the end of the payload still unread in ours (observed with
		// Redis 7.0: snapshots cut short by "connection reset by peer").
		c.startAcks(opts.AckInterval, info.offset)
	}

	sr, err := newStreamReader(name, c, total)
	if err != nil {
		c.Close()
		return nil, err
	}
	sr.info.ReplID = info.replID
	sr.info.ReplOffset = info.offset
	return &psyncReader{sr: sr, c: c, ctx: ctx, name: name, eofFraming: info.mark != nil}, nil
}

// psyncDeadlineReader reads from the connection with a deadline renewed
// before each read: an idle timeout rather than a total one.
type psyncDeadlineReader struct {
	nc      net.Conn
	timeout time.Duration // changed only by the reading goroutine
}

func (d *psyncDeadlineReader) Read(p []byte) (int, error) {
	if d.timeout > 0 {
		d.nc.SetReadDeadline(time.Now().Add(d.timeout))
	}
	return d.nc.Read(p)
}

// psyncConn is the replica connection. As the io.ReadCloser under the
// stream reader it reads the framed RDB payload; Close stops the ACK
// goroutine and closes the connection.
type psyncConn struct {
	nc    net.Conn
	in    *psyncDeadlineReader
	rd    *resp.Reader
	frame io.Reader // the payload: LimitedBulk or EOFMarkReader over rd (teed)

	wmu sync.Mutex // serializes writes: the handshake, then the ACK goroutine

	stopCancel func() bool // undoes the context.AfterFunc
	stopAck    chan struct{}
	ackDone    sync.WaitGroup
	closeOnce  sync.Once
}

func (c *psyncConn) Read(p []byte) (int, error) { return c.frame.Read(p) }

// send writes one command.
func (c *psyncConn) send(args ...string) error {
	b := resp.AppendCommandStrings(nil, args...)
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.nc.SetWriteDeadline(time.Now().Add(psyncReplyTimeout))
	_, err := c.nc.Write(b)
	return err
}

// startAcks sends "REPLCONF ACK <offset>" every interval until Close.
// The offset stays the one of +FULLRESYNC: nothing of the replication
// stream is consumed. Write errors end the goroutine quietly: a broken
// connection is reported by the reads.
func (c *psyncConn) startAcks(interval time.Duration, offset int64) {
	c.ackDone.Add(1)
	go func() {
		defer c.ackDone.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		off := strconv.FormatInt(offset, 10)
		for {
			select {
			case <-c.stopAck:
				return
			case <-t.C:
			}
			if err := c.send("REPLCONF", "ACK", off); err != nil {
				return
			}
		}
	}()
}

func (c *psyncConn) Close() error {
	var err error
	c.closeOnce.Do(func() {
		close(c.stopAck)
		c.stopCancel()
		err = c.nc.Close()
		c.ackDone.Wait()
	})
	return err
}

// psyncHandshake runs the replica side of the handshake.
type psyncHandshake struct {
	ctx  context.Context
	c    *psyncConn
	ep   server.Endpoint
	name string
}

// psyncPayload is what the master announced.
type psyncPayload struct {
	replID string
	offset int64
	length int64  // "$<length>" framing
	mark   []byte // "$EOF:<mark>" framing
	// rdbOnly: the server accepted "REPLCONF rdb-only 1".
	rdbOnly bool
}

// psyncScanHint is appended to errors of servers that refuse replication.
const psyncScanHint = "; if replication is not available on this server (managed services often disable or rename SYNC/PSYNC), read its keys with the SCAN source instead (redis+scan://…)"

func (h *psyncHandshake) run(opts PSYNCOptions) (psyncPayload, error) {
	var p psyncPayload
	if h.ep.HasAuth {
		args := []string{"AUTH", h.ep.Password}
		if h.ep.Username != "" {
			args = []string{"AUTH", h.ep.Username, h.ep.Password}
		}
		if _, err := h.do("AUTH", args...); err != nil {
			return p, err
		}
	}
	if _, err := h.do("PING", "PING"); err != nil {
		return p, err
	}
	if _, err := h.do("REPLCONF listening-port", "REPLCONF", "listening-port", strconv.Itoa(opts.ListeningPort)); err != nil {
		return p, err
	}
	// KeyDB answers "+OK active-replica" (and more) to capa: any status
	// reply is fine.
	if _, err := h.do("REPLCONF capa", "REPLCONF", "capa", "eof", "capa", "psync2"); err != nil {
		return p, err
	}
	if opts.RDBOnly {
		if _, err := h.do("REPLCONF rdb-only", "REPLCONF", "rdb-only", "1"); err != nil {
			var se *resp.ServerError
			if !errors.As(err, &se) || !strings.Contains(se.Msg, "Unrecognized REPLCONF option") {
				return p, err
			}
			// An older server: a normal full sync, closed by us.
		} else {
			p.rdbOnly = true
		}
	}
	if err := h.c.send("PSYNC", "?", "-1"); err != nil {
		return p, h.ioErr("sending PSYNC", err)
	}
	// The reply may take long: the master sends "\n" every second while
	// it waits for a BGSAVE, so the idle timeout applies.
	h.c.in.timeout = psyncIdleTimeout
	line, err := h.line("waiting for the reply to PSYNC")
	if err != nil {
		return p, err
	}
	switch {
	case strings.HasPrefix(line, "+FULLRESYNC "):
		f := strings.Fields(line[1:])
		if len(f) != 3 || !psyncIsReplID(f[1]) {
			return p, fmt.Errorf("%s: malformed PSYNC reply %q", h.name, psyncTrunc(line))
		}
		off, err := strconv.ParseInt(f[2], 10, 64)
		if err != nil {
			return p, fmt.Errorf("%s: malformed offset in PSYNC reply %q", h.name, psyncTrunc(line))
		}
		p.replID, p.offset = f[1], off
	case strings.HasPrefix(line, "-"):
		return p, h.refused("PSYNC", &resp.ServerError{Msg: line[1:]})
	case strings.HasPrefix(line, "+CONTINUE"):
		return p, fmt.Errorf("%s: the server offered a partial resync (%q) to a full sync request", h.name, psyncTrunc(line))
	default:
		return p, fmt.Errorf("%s: unexpected reply to PSYNC: %q", h.name, psyncTrunc(line))
	}

	line, err = h.line("waiting for the snapshot after +FULLRESYNC")
	if err != nil {
		return p, err
	}
	switch {
	case strings.HasPrefix(line, "$EOF:"):
		mark := line[len("$EOF:"):]
		if len(mark) != psyncEOFMarkLen {
			return p, fmt.Errorf("%s: EOF mark of %d bytes in %q, want %d", h.name, len(mark), psyncTrunc(line), psyncEOFMarkLen)
		}
		p.mark = []byte(mark)
	case strings.HasPrefix(line, "$"):
		n, err := strconv.ParseInt(line[1:], 10, 64)
		if err != nil || n < 0 {
			return p, fmt.Errorf("%s: malformed snapshot header %q", h.name, psyncTrunc(line))
		}
		p.length = n
	case strings.HasPrefix(line, "-"):
		return p, fmt.Errorf("%s: the master failed to send its snapshot: %s", h.name, line[1:])
	default:
		return p, fmt.Errorf("%s: unexpected snapshot header %q", h.name, psyncTrunc(line))
	}
	return p, nil
}

// do sends one command of the handshake and reads its reply: a status
// reply is success, an error reply an error explaining the refusal.
func (h *psyncHandshake) do(step string, args ...string) (resp.Reply, error) {
	if err := h.c.send(args...); err != nil {
		return resp.Reply{}, h.ioErr("sending "+step, err)
	}
	x, err := h.c.rd.ReadReply()
	if err != nil {
		return resp.Reply{}, h.ioErr(step, err)
	}
	if serr := x.Err(); serr != nil {
		return x, h.refused(step, serr) // wraps the *resp.ServerError
	}
	if x.Kind != resp.Status {
		return x, fmt.Errorf("%s: unexpected reply to %s: %v", h.name, step, x)
	}
	return x, nil
}

// line reads the next non-empty line, skipping the bare "\n" keep-alives
// a master sends while it prepares the snapshot.
func (h *psyncHandshake) line(doing string) (string, error) {
	for {
		b, err := h.c.rd.ReadLine()
		if err != nil {
			return "", h.ioErr(doing, err)
		}
		if len(b) > 0 {
			return string(b), nil
		}
	}
}

// ioErr explains a failed read or write of the handshake.
func (h *psyncHandshake) ioErr(doing string, err error) error {
	if cerr := h.ctx.Err(); cerr != nil {
		return fmt.Errorf("%s: %s: %w", h.name, doing, cerr)
	}
	var ne net.Error
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		// Never io.EOF, which a caller could take for a complete snapshot.
		return fmt.Errorf("%s: %s: connection closed by the server: %w", h.name, doing, io.ErrUnexpectedEOF)
	case errors.As(err, &ne) && ne.Timeout():
		return fmt.Errorf("%s: %s: no answer from the server: %w", h.name, doing, err)
	}
	return fmt.Errorf("%s: %s: %w", h.name, doing, err)
}

// refused explains an error reply to a handshake command.
func (h *psyncHandshake) refused(step string, err error) error {
	var se *resp.ServerError
	if !errors.As(err, &se) {
		return fmt.Errorf("%s: %s: %w", h.name, step, err)
	}
	user := "the default user"
	if h.ep.Username != "" {
		user = fmt.Sprintf("user %q", h.ep.Username)
	}
	switch se.Code() {
	case "NOAUTH":
		return fmt.Errorf("%s: %s: the server requires authentication: give the password (and user) in the URL, redis://user:password@host:port: %w", h.name, step, err)
	case "WRONGPASS", "INVALIDPASSWORD":
		return fmt.Errorf("%s: %s: authentication failed for %s: %w", h.name, step, user, err)
	case "NOPERM":
		return fmt.Errorf("%s: %s: %s is not allowed to replicate (it needs the psync, replconf and ping commands, e.g. ACL SETUSER <user> +psync +replconf +ping): %w%s", h.name, step, user, err, psyncScanHint)
	case "NOMASTERLINK", "MASTERDOWN":
		return fmt.Errorf("%s: %s: the server is a replica whose link to its master is down, so it cannot serve a snapshot; read from its master, or wait until the replica is in sync again: %w", h.name, step, err)
	case "LOADING":
		return fmt.Errorf("%s: %s: the server is still loading its dataset; retry once it is done: %w", h.name, step, err)
	}
	if step == "AUTH" {
		return fmt.Errorf("%s: AUTH failed for %s: %w", h.name, user, err)
	}
	if strings.HasPrefix(step, "PSYNC") || strings.HasPrefix(step, "REPLCONF") ||
		strings.Contains(strings.ToLower(se.Msg), "unknown command") {
		return fmt.Errorf("%s: the server refused %s: %w%s", h.name, step, err, psyncScanHint)
	}
	return fmt.Errorf("%s: %s: %w", h.name, step, err)
}

// psyncIsReplID reports whether s is a 40-character hexadecimal replication id.
func psyncIsReplID(s string) bool {
	if len(s) != 40 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') && (c < 'A' || c > 'F') {
			return false
		}
	}
	return true
}

func psyncTrunc(s string) string {
	if len(s) > 100 {
		return s[:100] + "…"
	}
	return s
}

// psyncReader reads the records of the snapshot through the stream reader
// shared with files, and checks that the payload ends where the RDB does.
type psyncReader struct {
	sr         *streamReader
	c          *psyncConn
	ctx        context.Context
	name       string
	eofFraming bool
	err        error // sticky
}

func (r *psyncReader) Next() (rdb.Record, error) {
	if r.err != nil {
		return nil, r.err
	}
	rec, err := r.sr.Next()
	if err == nil {
		return rec, nil
	}
	if err == io.EOF {
		err = r.checkEnd()
		if err == nil {
			r.err = io.EOF
			return nil, io.EOF
		}
	} else {
		err = r.explain(err)
	}
	r.err = err
	return nil, err
}

// checkEnd verifies, after the RDB's end (EOF opcode and checksum), that
// the payload announced by the master ends there too: no byte left in a
// "$<length>" payload, the EOF mark right after the RDB.
func (r *psyncReader) checkEnd() error {
	// Bytes taken from the payload but not consumed by the RDB parser.
	extra := r.sr.count.n.Load() - r.sr.rdb.Offset()
	n, err := io.CopyN(io.Discard, r.sr.count, 1)
	extra += n
	if err != nil && err != io.EOF {
		return r.explain(fmt.Errorf("%s: after the end of the RDB: %w", r.name, err))
	}
	if extra > 0 {
		framing := "its announced length"
		if r.eofFraming {
			framing = "the EOF mark"
		}
		return fmt.Errorf("%s: the RDB ends at byte %d but the payload goes on to %s", r.name, r.sr.rdb.Offset(), framing)
	}
	return nil
}

// explain adds what happened to the connection and where to an error
// of the stream.
func (r *psyncReader) explain(err error) error {
	read, total := r.sr.Progress()
	of := ""
	if total >= 0 {
		of = fmt.Sprintf(" of %d", total)
	}
	if cerr := r.ctx.Err(); cerr != nil {
		return fmt.Errorf("%s: snapshot read cancelled after %d%s RDB bytes: %w", r.name, read, of, cerr)
	}
	var ne net.Error
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w (the master closed the connection after %d%s RDB bytes)", err, read, of)
	case errors.As(err, &ne) && ne.Timeout():
		return fmt.Errorf("%w (the master sent nothing for %v, after %d%s RDB bytes)", err, psyncIdleTimeout, read, of)
	}
	if errors.As(err, &ne) {
		return fmt.Errorf("%w (the connection failed after %d%s RDB bytes)", err, read, of)
	}
	return fmt.Errorf("%w (after %d%s RDB bytes)", err, read, of)
}

func (r *psyncReader) Progress() (int64, int64) { return r.sr.Progress() }

func (r *psyncReader) Info() SourceInfo { return r.sr.Info() }

func (r *psyncReader) Close() error { return r.sr.Close() }
