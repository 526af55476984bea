package transfer

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rdbferry/rdbferry/internal/resp"
	"github.com/rdbferry/rdbferry/internal/server"
	"github.com/rdbferry/rdbferry/rdb"
)

// ScanOptions configure a Scan source. The zero value is usable.
type ScanOptions struct {
	// DBs are the databases to read. Default: the database of the URL's
	// path (redis://host/3) if it has one, else every database holding
	// keys according to INFO keyspace (database 0 when INFO is refused).
	DBs []int
	// Match is pushed to the server as SCAN MATCH (glob syntax of KEYS).
	Match string
	// Type is pushed to the server as SCAN TYPE ("string", "list", "set",
	// "zset", "hash", "stream" or a module's type name). Servers before
	// Redis 6.0 refuse SCAN TYPE: the source then filters the payloads'
	// types itself (built-in types only), after DUMP.
	Type string
	// Count is SCAN's COUNT hint; default 1000.
	Count int
	// Pipeline bounds the keys whose DUMP and PEXPIRETIME are in flight;
	// default 256.
	Pipeline int
	// TLS configures rediss:// connections. Nil means the system's roots
	// and the URL's host as server name.
	TLS *tls.Config
	// DialTimeout bounds connecting, the TLS handshake, AUTH and the setup
	// queries; default 10 s.
	DialTimeout time.Duration
	// AllowDuplicates turns off the check that drops a key SCAN returns a
	// second time (SCAN may do so when the keyspace shrinks during the
	// scan). The check keeps a 64-bit hash of every key of the database
	// being read, about 16–20 bytes per key; without it, a key may be
	// emitted twice, which breaks an RDB file written from the records.
	AllowDuplicates bool
}

func (o ScanOptions) withDefaults() ScanOptions {
	if o.Count <= 0 {
		o.Count = 1000
	}
	if o.Pipeline <= 0 {
		o.Pipeline = 256
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = 10 * time.Second
	}
	return o
}

// Scan returns a source that reads a live server's keys with SCAN and
// pipelined DUMP + PEXPIRETIME (PTTL on servers without PEXPIRETIME, before
// Redis 7.0, or whose ACL refuses it), for servers that forbid SYNC and PSYNC (ElastiCache,
// MemoryDB…). It produces the same records as a file: a *rdb.SelectDB
// before the keys of each database, then one *rdb.Key per key, whose Raw
// is the DUMP payload's value (its CRC checked), Type and Version those of
// the payload, ExpireAt absolute (unix ms, 0 = none), Idle and Freq -1.
//
// The URL is redis://[user:password@]host[:port][/db] or rediss://… (TLS);
// redis+scan:// and rediss+scan:// are accepted as well. redis://password@host
// is a password without a user name.
//
// The snapshot is not atomic: keys written during the scan may or may not
// be read. A key SCAN returned but that is gone when DUMP reaches it
// (deleted or expired in between) is passed over without error, as is a key
// that did not exist yet when PEXPIRETIME ran but did when DUMP ran; both
// are counted in ScanStats.Skipped (see ScanReporter), not in Run's Stats.
// With PTTL, ExpireAt is the time the command was sent plus the TTL, exact
// to within the server's processing delay.
//
// Progress counts keys, not bytes: read is the number of distinct keys
// processed (read or skipped) and total the sum of the databases' sizes
// (INFO keyspace, as DBSIZE), or -1 when it is unknown or when Match or Type
// make it meaningless. Run's Stats.BytesRead then holds keys too.
//
// Values of KeyDB member expirations (EXPIREMEMBER) are not part of DUMP
// payloads and are not read. Cancelling the context given to Open closes
// the connection.
func Scan(rawURL string, opts ScanOptions) Source {
	return &scanSource{url: rawURL, opts: opts}
}

// ScanStats counts what a Scan source passed over.
type ScanStats struct {
	// Scanned is the number of distinct keys SCAN returned (those read
	// plus those skipped; with a client-side Type filter, those of other
	// types too).
	Scanned int64
	// Skipped counts keys that vanished between SCAN and DUMP (deleted or
	// expired), or appeared between PEXPIRETIME and DUMP.
	Skipped int64
	// Duplicates counts keys SCAN returned more than once, dropped.
	Duplicates int64
}

// ScanReporter is implemented by the Readers of Scan sources, and of
// Cluster sources (summed over the nodes whose Readers implement it).
// ScanStats may be called from any goroutine.
type ScanReporter interface {
	ScanStats() ScanStats
}

type scanSource struct {
	url  string
	opts ScanOptions

	forcePTTL bool // tests: behave as on a server without PEXPIRETIME
}

func (s *scanSource) String() string { return "scan " + server.Redact(s.url) }

// Open connects, logs in and learns the server's flavor, version and
// databases.
func (s *scanSource) Open(ctx context.Context) (Reader, error) {
	ep, err := server.ParseURL(s.url)
	if err != nil {
		return nil, fmt.Errorf("transfer: %w", err)
	}
	if ep.Variant != "" && ep.Variant != "scan" {
		return nil, fmt.Errorf("transfer: URL %s is not for a scan source (want redis, rediss, redis+scan or rediss+scan)", ep.Redacted)
	}
	opts := s.opts.withDefaults()
	name := "scan " + ep.Addr
	c, err := server.Connect(ctx, ep, ep.Addr, server.Options{TLS: opts.TLS, Timeout: opts.DialTimeout})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	r := &scanReader{
		name:     name,
		opts:     opts,
		c:        c,
		ctx:      ctx,
		pipeline: opts.Pipeline,
		dbi:      -1,
		seed:     maphash.MakeSeed(),
		info:     SourceInfo{Name: name},
	}
	r.stop = context.AfterFunc(ctx, func() { c.NC.Close() })
	if err := r.setup(ep, s.forcePTTL); err != nil {
		r.Close()
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return r, nil
}

// scanReader reads one server. Commands are pipelined on one connection:
// SCAN (one at a time, as each cursor comes from the previous reply) and,
// per key, PEXPIRETIME then DUMP. Replies are read in order; the DUMP
// reply is parsed in the resp.Reader's buffer, which the returned Key's Raw
// aliases until the next call to Next.
type scanReader struct {
	name     string
	opts     ScanOptions
	c        *server.Conn
	ctx      context.Context
	stop     func() bool
	pipeline int
	info     SourceInfo

	dbs      []int
	dbi      int // index in dbs of the database being read; -1 before the first
	curDB    int // database selected on the connection
	cursor   string
	scanning bool // a SCAN is in flight
	scanDone bool // the cursor came back to 0
	queue    [][]byte
	qhead    int
	inflight []scanEntry
	ihead    int
	keysOut  int // key entries in flight

	pexpiretime bool   // false: PTTL
	typeFilter  string // Type, checked here when the server refused SCAN TYPE
	seed        maphash.Seed
	seen        map[uint64]struct{}

	key      rdb.Key
	sel      rdb.SelectDB
	announce bool // a SelectDB is due before the next key
	held     bool // key is due, after sel
	err      error

	total      int64
	scanned    atomic.Int64
	skipped    atomic.Int64
	duplicates atomic.Int64
	closed     bool
}

// scanEntry is a command in flight: a SCAN, or the PEXPIRETIME + DUMP
// pair of key.
type scanEntry struct {
	scan bool
	key  []byte
	sent int64 // unix ms when written (for PTTL)
}

var (
	cmdDump        = []byte("DUMP")
	cmdPExpireTime = []byte("PEXPIRETIME")
	cmdPTTL        = []byte("PTTL")
)

func (r *scanReader) setup(ep server.Endpoint, forcePTTL bool) error {
	c := r.c
	c.NC.SetDeadline(time.Now().Add(r.opts.DialTimeout))
	defer c.NC.SetDeadline(time.Time{})

	info, err := c.Detect(context.Background())
	if err != nil {
		return err
	}
	r.info.Flavor = info.Flavor
	if t, err := rdb.TargetFor(info.Flavor, info.Release); err == nil {
		r.info.Version = t.Version // until the first payload tells
	}

	keyspace := map[int]int64{}
	x, err := c.Do(context.Background(), "INFO", "keyspace")
	haveKeyspace := err == nil
	if haveKeyspace {
		for k, v := range server.InfoFields(x.Str) {
			db, err := strconv.Atoi(strings.TrimPrefix(k, "db"))
			if !strings.HasPrefix(k, "db") || err != nil {
				continue
			}
			for _, f := range strings.Split(v, ",") {
				if n, ok := strings.CutPrefix(f, "keys="); ok {
					keyspace[db], _ = strconv.ParseInt(n, 10, 64)
				}
			}
		}
	}
	switch {
	case len(r.opts.DBs) > 0:
		r.dbs = append([]int(nil), r.opts.DBs...)
	case ep.HasDB:
		r.dbs = []int{ep.DB}
	case haveKeyspace:
		for db := range keyspace {
			r.dbs = append(r.dbs, db)
		}
		sort.Ints(r.dbs)
	default:
		r.dbs = []int{0}
	}
	for _, db := range r.dbs {
		if db < 0 {
			return fmt.Errorf("bad database %d", db)
		}
	}
	r.total = -1
	if haveKeyspace && r.opts.Match == "" && r.opts.Type == "" {
		r.total = 0
		for _, db := range r.dbs {
			r.total += keyspace[db]
		}
	}

	// PEXPIRETIME on a key that likely does not exist: -2, or MOVED in a
	// cluster, or NOPERM for the key, all of which show the command can run.
	r.pexpiretime = true
	if forcePTTL {
		r.pexpiretime = false
	} else if _, err := c.Do(context.Background(), "PEXPIRETIME", "rdbferry:probe:\x00"); err != nil {
		var se *resp.ServerError
		if !errors.As(err, &se) {
			return fmt.Errorf("PEXPIRETIME: %w", err)
		}
		if msg := strings.ToLower(se.Msg); strings.Contains(msg, "unknown command") ||
			strings.Contains(msg, "no permissions to run") {
			r.pexpiretime = false // before Redis 7.0, or refused by an ACL
		}
	}
	if !r.opts.AllowDuplicates {
		r.seen = map[uint64]struct{}{}
	}
	return nil
}

func (r *scanReader) Next() (rdb.Record, error) {
	if r.err != nil {
		return nil, r.err
	}
	if r.held {
		r.held = false
		return &r.key, nil
	}
	k, err := r.nextKey()
	if err != nil {
		if err != io.EOF {
			if r.ctx.Err() != nil {
				err = r.ctx.Err()
			}
			err = fmt.Errorf("%s: %w", r.name, err)
		}
		r.err = err
		return nil, err
	}
	if r.announce {
		// The SelectDB goes out once the database's first key has been
		// read, so that Info has the payloads' version by then.
		r.announce = false
		r.held = true
		r.sel = rdb.SelectDB{DB: k.DB}
		return &r.sel, nil
	}
	return k, nil
}

// nextKey returns the next key read, or io.EOF after the last database.
func (r *scanReader) nextKey() (*rdb.Key, error) {
	for {
		if r.dbi < 0 || r.scanDone && r.qhead == len(r.queue) && r.ihead == len(r.inflight) {
			if r.dbi+1 >= len(r.dbs) {
				return nil, io.EOF
			}
			r.dbi++
			if err := r.selectDB(r.dbs[r.dbi]); err != nil {
				return nil, err
			}
			continue
		}
		if err := r.fill(); err != nil {
			return nil, err
		}
		if r.c.W.Buffered() > 0 {
			if err := r.c.W.Flush(); err != nil {
				return nil, err
			}
		}
		e := r.inflight[r.ihead]
		r.inflight[r.ihead] = scanEntry{}
		r.ihead++
		if e.scan {
			if err := r.readScan(); err != nil {
				return nil, err
			}
			continue
		}
		r.keysOut--
		k, err := r.readKey(e)
		if err != nil {
			return nil, err
		}
		if k != nil {
			return k, nil
		}
	}
}

// selectDB starts reading database db (nothing is in flight).
func (r *scanReader) selectDB(db int) error {
	if db != r.curDB {
		if _, err := r.c.Do(context.Background(), "SELECT", strconv.Itoa(db)); err != nil {
			return fmt.Errorf("SELECT %d: %w", db, err)
		}
		r.curDB = db
	}
	r.cursor, r.scanDone, r.announce = "0", false, true
	r.queue, r.qhead = r.queue[:0], 0
	if len(r.seen) > 0 {
		r.seen = map[uint64]struct{}{}
	}
	return nil
}

// fill writes commands: the next SCAN when the queue of scanned keys runs
// low, and key pairs up to the pipeline depth once half of it has drained.
func (r *scanReader) fill() error {
	w := r.c.W
	if r.ihead > 0 && r.ihead*2 >= len(r.inflight) {
		n := copy(r.inflight, r.inflight[r.ihead:])
		clear(r.inflight[n:])
		r.inflight, r.ihead = r.inflight[:n], 0
	}
	if !r.scanning && !r.scanDone && len(r.queue)-r.qhead < r.pipeline {
		args := []string{"SCAN", r.cursor}
		if r.opts.Match != "" {
			args = append(args, "MATCH", r.opts.Match)
		}
		args = append(args, "COUNT", strconv.Itoa(r.opts.Count))
		if r.opts.Type != "" && r.typeFilter == "" {
			args = append(args, "TYPE", r.opts.Type)
		}
		w.WriteCommandStrings(args...)
		r.inflight = append(r.inflight, scanEntry{scan: true})
		r.scanning = true
	}
	if r.keysOut > r.pipeline/2 || r.qhead == len(r.queue) {
		return nil
	}
	cmdTTL := cmdPExpireTime
	var sent int64
	if !r.pexpiretime {
		cmdTTL, sent = cmdPTTL, time.Now().UnixMilli()
	}
	for r.keysOut < r.pipeline && r.qhead < len(r.queue) {
		key := r.queue[r.qhead]
		r.queue[r.qhead] = nil
		r.qhead++
		w.WriteCommand(cmdTTL, key)
		w.WriteCommand(cmdDump, key)
		r.inflight = append(r.inflight, scanEntry{key: key, sent: sent})
		r.keysOut++
	}
	return nil
}

// readScan reads a SCAN reply and queues its keys.
func (r *scanReader) readScan() error {
	r.scanning = false
	x, err := r.readReply()
	if err != nil {
		return err
	}
	if err := x.Err(); err != nil {
		if r.opts.Type != "" && r.typeFilter == "" && r.cursor == "0" {
			// Before Redis 6.0, SCAN has no TYPE: filter here instead.
			r.typeFilter = strings.ToLower(r.opts.Type)
			return nil
		}
		return fmt.Errorf("SCAN %s in db %d: %w", r.cursor, r.curDB, err)
	}
	if x.Kind != resp.Array || len(x.Elems) != 2 || x.Elems[0].Kind != resp.Bulk || x.Elems[1].Kind != resp.Array {
		return fmt.Errorf("SCAN %s in db %d: unexpected reply %.200s", r.cursor, r.curDB, x.String())
	}
	r.cursor = string(x.Elems[0].Str)
	if r.cursor == "0" {
		r.scanDone = true
	}
	if r.qhead > 0 {
		n := copy(r.queue, r.queue[r.qhead:])
		clear(r.queue[n:])
		r.queue, r.qhead = r.queue[:n], 0
	}
	keys := x.Elems[1].Elems
	n := 0
	for _, k := range keys {
		n += len(k.Str)
	}
	slab := make([]byte, 0, n)
	for _, k := range keys {
		if k.Kind != resp.Bulk {
			return fmt.Errorf("SCAN in db %d: unexpected key %.200s", r.curDB, k.String())
		}
		if r.seen != nil {
			h := maphash.Bytes(r.seed, k.Str)
			if _, dup := r.seen[h]; dup {
				r.duplicates.Add(1)
				continue
			}
			r.seen[h] = struct{}{}
		}
		i := len(slab)
		slab = append(slab, k.Str...)
		r.queue = append(r.queue, slab[i:len(slab):len(slab)])
	}
	return nil
}

// errConnClosed reports a connection the server closed in mid-scan.
var errConnClosed = errors.New("the server closed the connection")

// readReply reads the next reply. A connection closed between replies is
// an error here, never the io.EOF that would end the source cleanly.
func (r *scanReader) readReply() (resp.Reply, error) {
	x, err := r.c.R.ReadReply()
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		err = errConnClosed
	}
	return x, err
}

// readKey reads the replies of a key pair. It returns nil (and no error)
// for a key passed over.
func (r *scanReader) readKey(e scanEntry) (*rdb.Key, error) {
	r.scanned.Add(1)
	cmd := "PEXPIRETIME"
	if !r.pexpiretime {
		cmd = "PTTL"
	}
	x, err := r.readReply()
	if err != nil {
		return nil, err
	}
	if err := x.Err(); err != nil {
		return nil, fmt.Errorf("%s %s in db %d: %w", cmd, rdb.QuoteKey(e.key), r.curDB, err)
	}
	if x.Kind != resp.Int {
		return nil, fmt.Errorf("%s %s in db %d: unexpected reply %.200s", cmd, rdb.QuoteKey(e.key), r.curDB, x.String())
	}
	ttl := x.Int
	x, err = r.readReply()
	if err != nil {
		return nil, err
	}
	if err := x.Err(); err != nil {
		return nil, fmt.Errorf("DUMP %s in db %d: %w", rdb.QuoteKey(e.key), r.curDB, err)
	}
	if x.IsNil() || ttl == -2 {
		// Gone before DUMP, or created after PEXPIRETIME: SCAN may or may
		// not return keys changed during the scan.
		r.skipped.Add(1)
		return nil, nil
	}
	if x.Kind != resp.Bulk {
		return nil, fmt.Errorf("DUMP %s in db %d: unexpected reply %.200s", rdb.QuoteKey(e.key), r.curDB, x.String())
	}
	t, raw, version, err := rdb.ParseDumpPayload(x.Str)
	if err != nil {
		return nil, fmt.Errorf("DUMP %s in db %d: %w", rdb.QuoteKey(e.key), r.curDB, err)
	}
	if x.Str[0] == 0xF3 && version >= 13 && version < rdb.ValkeyMinVersion {
		return nil, fmt.Errorf("DUMP %s in db %d: payloads with key metadata (RDB %d) are not supported", rdb.QuoteKey(e.key), r.curDB, version)
	}
	if r.typeFilter != "" && t.Kind().String() != r.typeFilter {
		return nil, nil
	}
	var expireAt int64
	switch {
	case ttl < 0:
	case r.pexpiretime:
		expireAt = ttl
	default:
		expireAt = e.sent + ttl
	}
	if expireAt == 0 && ttl >= 0 {
		expireAt = 1 // expired at the epoch, not "no expiration"
	}
	if r.info.Version != version {
		r.info.Version = version
	}
	r.key = rdb.Key{DB: r.curDB, Key: e.key, Type: t, ExpireAt: expireAt, Idle: -1, Freq: -1, Raw: raw, Version: version}
	return &r.key, nil
}

// Progress returns the keys processed and the keys the databases held when
// the source was opened (or -1): see Scan.
func (r *scanReader) Progress() (int64, int64) {
	return r.scanned.Load(), r.total
}

func (r *scanReader) Info() SourceInfo { return r.info }

// ScanStats implements ScanReporter.
func (r *scanReader) ScanStats() ScanStats {
	return ScanStats{Scanned: r.scanned.Load(), Skipped: r.skipped.Load(), Duplicates: r.duplicates.Load()}
}

func (r *scanReader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	if !r.stop() {
		return nil // closed when the context was done
	}
	return r.c.NC.Close()
}

// Connections. These are minimal versions of restore's dialConn, client.do,
// infoFields, detect and parseURL (unexported there).
