// Package server holds what every part of rdbferry that talks to a live
// Redis-family server needs: parsing redis:// URLs, connecting (TCP, TLS,
// AUTH), one-command round trips, learning what the server is, and reading
// a cluster's slot map.
package server

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/rdbferry/rdbferry/internal/resp"
	"github.com/rdbferry/rdbferry/rdb"
)

// Endpoint is what a URL redis[s][+variant]://[user:password@]host[:port][/db]
// says about reaching and logging into a server.
type Endpoint struct {
	Addr     string // host:port
	Host     string
	TLS      bool   // rediss
	Variant  string // after '+' in the scheme, e.g. "scan"
	Username string
	Password string
	HasAuth  bool
	DB       int
	HasDB    bool
	Redacted string // the URL with its password hidden, for messages
}

// ParseURL parses a server URL. The port defaults to 6379; a user part
// without a password (redis://secret@host) is a password.
func ParseURL(raw string) (Endpoint, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Endpoint{}, fmt.Errorf("bad URL: %w", errors.Unwrap(err))
	}
	e := Endpoint{Redacted: u.Redacted()}
	base, variant, _ := strings.Cut(u.Scheme, "+")
	e.Variant = variant
	switch base {
	case "redis":
	case "rediss":
		e.TLS = true
	default:
		return Endpoint{}, fmt.Errorf("URL %s: the scheme must be redis or rediss", e.Redacted)
	}
	e.Host = u.Hostname()
	if e.Host == "" {
		return Endpoint{}, fmt.Errorf("URL %s has no host", e.Redacted)
	}
	port := u.Port()
	if port == "" {
		port = "6379"
	}
	e.Addr = net.JoinHostPort(e.Host, port)
	if u.User != nil {
		e.HasAuth = true
		e.Username = u.User.Username()
		if p, set := u.User.Password(); set {
			e.Password = p
		} else {
			e.Username, e.Password = "", u.User.Username()
		}
	}
	if p := strings.TrimLeft(u.Path, "/"); p != "" {
		db, err := strconv.Atoi(p)
		if err != nil || db < 0 {
			return Endpoint{}, fmt.Errorf("URL %s: bad database %q", e.Redacted, p)
		}
		e.DB, e.HasDB = db, true
	}
	return e, nil
}

// Redact returns raw with its password hidden, for messages.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(bad URL)"
	}
	return u.Redacted()
}

// Options tune connections.
type Options struct {
	// TLS configures rediss connections; nil means the system's roots. The
	// server name defaults to the address's host.
	TLS *tls.Config
	// Timeout bounds the TCP connection, the TLS handshake and AUTH.
	Timeout time.Duration
}

func (o Options) timeout() time.Duration {
	if o.Timeout <= 0 {
		return 10 * time.Second
	}
	return o.Timeout
}

// DialTLS opens a TCP connection to addr, wrapped in TLS for rediss
// endpoints. It does not log in.
func DialTLS(ctx context.Context, ep Endpoint, addr string, o Options) (net.Conn, error) {
	d := net.Dialer{Timeout: o.timeout(), KeepAlive: 30 * time.Second}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil || !ep.TLS {
		return nc, err
	}
	cfg := &tls.Config{}
	if o.TLS != nil {
		cfg = o.TLS.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName, _, _ = net.SplitHostPort(addr)
	}
	tc := tls.Client(nc, cfg)
	hctx, cancel := context.WithTimeout(ctx, o.timeout())
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		nc.Close()
		return nil, fmt.Errorf("TLS handshake: %w", err)
	}
	return tc, nil
}

// Conn is a connection for setup queries and pipelines. Its Writer and
// Reader are the caller's to use directly for pipelining.
type Conn struct {
	NC net.Conn
	W  *resp.Writer
	R  *resp.Reader
}

// Connect dials addr (TLS for rediss) and logs in with the endpoint's
// credentials (AUTH [user] password).
func Connect(ctx context.Context, ep Endpoint, addr string, o Options) (*Conn, error) {
	nc, err := DialTLS(ctx, ep, addr, o)
	if err != nil {
		return nil, err
	}
	c := &Conn{NC: nc, W: resp.NewWriter(nc), R: resp.NewReaderSize(nc, 64<<10)}
	if ep.HasAuth {
		args := []string{"AUTH", ep.Password}
		if ep.Username != "" {
			args = []string{"AUTH", ep.Username, ep.Password}
		}
		actx, cancel := context.WithTimeout(ctx, o.timeout())
		_, err := c.Do(actx, args...)
		cancel()
		if err != nil {
			nc.Close()
			return nil, fmt.Errorf("AUTH: %w", err)
		}
	}
	return c, nil
}

// Close closes the connection.
func (c *Conn) Close() error { return c.NC.Close() }

// Do sends one command and returns its reply, deep-copied; an error reply
// is returned as a *resp.ServerError. ctx's deadline bounds the round trip
// and cancelling ctx interrupts it.
func (c *Conn) Do(ctx context.Context, args ...string) (resp.Reply, error) {
	if dl, ok := ctx.Deadline(); ok {
		c.NC.SetDeadline(dl)
		defer c.NC.SetDeadline(time.Time{})
	}
	stop := context.AfterFunc(ctx, func() { c.NC.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	ctxErr := func(err error) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	}
	if err := c.W.WriteCommandStrings(args...); err != nil {
		return resp.Reply{}, ctxErr(err)
	}
	if err := c.W.Flush(); err != nil {
		return resp.Reply{}, ctxErr(err)
	}
	x, err := c.R.ReadReply()
	if err != nil {
		return resp.Reply{}, ctxErr(err)
	}
	if err := x.Err(); err != nil {
		return resp.Reply{}, err
	}
	return x.Clone(), nil
}

// InfoFields parses an INFO reply into its key:value lines.
func InfoFields(b []byte) map[string]string {
	m := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if k, v, ok := strings.Cut(line, ":"); ok && !strings.HasPrefix(line, "#") {
			m[k] = v
		}
	}
	return m
}

// Info is what a server says it is.
type Info struct {
	Flavor  rdb.Flavor
	Release string // e.g. "7.0.15"
	Cluster bool
}

// Detect learns the server's flavor, release and cluster mode: Valkey by
// INFO's valkey_version or server_name, KeyDB by its EXPIREMEMBER command.
func (c *Conn) Detect(ctx context.Context) (Info, error) {
	var info Info
	x, err := c.Do(ctx, "INFO", "server")
	if err != nil {
		return info, fmt.Errorf("INFO server: %w", err)
	}
	f := InfoFields(x.Str)
	info.Flavor, info.Release = rdb.FlavorRedis, f["redis_version"]
	if v := f["valkey_version"]; v != "" || f["server_name"] == "valkey" {
		info.Flavor = rdb.FlavorValkey
		if v != "" {
			info.Release = v
		}
	} else if x, err := c.Do(ctx, "COMMAND", "INFO", "EXPIREMEMBER"); err == nil && len(x.Elems) > 0 && !x.Elems[0].IsNil() {
		info.Flavor = rdb.FlavorKeyDB
	}
	if info.Release == "" {
		return info, errors.New("INFO server reports no version")
	}
	if x, err := c.Do(ctx, "INFO", "cluster"); err == nil && InfoFields(x.Str)["cluster_enabled"] == "1" {
		info.Cluster = true
	}
	return info, nil
}

// SlotRange is a range of slots served by a master.
type SlotRange struct {
	First, Last int
	Addr        string
}

// ErrNotCluster is returned by Slots for a server without cluster mode.
var ErrNotCluster = errors.New("not a cluster")

// Slots reads the slot map: CLUSTER SHARDS (Redis 7.0+), else CLUSTER
// SLOTS. Nodes that do not know their host ("" or "?") get the endpoint's;
// rediss endpoints use the nodes' TLS ports.
func (c *Conn) Slots(ctx context.Context, ep Endpoint) ([]SlotRange, error) {
	x, err := c.Do(ctx, "CLUSTER", "SHARDS")
	if err == nil {
		return ShardRanges(x, ep)
	}
	if clusterDisabled(err) {
		return nil, ErrNotCluster
	}
	if !isServerError(err) {
		return nil, err
	}
	x, err = c.Do(ctx, "CLUSTER", "SLOTS")
	if clusterDisabled(err) {
		return nil, ErrNotCluster
	}
	if err != nil {
		return nil, fmt.Errorf("CLUSTER SLOTS: %w", err)
	}
	return SlotsRanges(x, ep)
}

func isServerError(err error) bool {
	var se *resp.ServerError
	return errors.As(err, &se)
}

func clusterDisabled(err error) bool {
	return isServerError(err) && strings.Contains(err.Error(), "cluster support disabled")
}

func nodeAddr(host string, port int64, ep Endpoint) string {
	if host == "" || host == "?" {
		host = ep.Host
	}
	return net.JoinHostPort(host, strconv.FormatInt(port, 10))
}

// ShardRanges reads the masters' slot ranges from a CLUSTER SHARDS reply.
func ShardRanges(x resp.Reply, ep Endpoint) ([]SlotRange, error) {
	var out []SlotRange
	for _, sh := range x.Elems {
		var slots, nodes []resp.Reply
		for i := 0; i+1 < len(sh.Elems); i += 2 {
			switch string(sh.Elems[i].Str) {
			case "slots":
				slots = sh.Elems[i+1].Elems
			case "nodes":
				nodes = sh.Elems[i+1].Elems
			}
		}
		if len(slots) < 2 {
			continue // a shard without slots holds no keys
		}
		addr, failed := "", ""
		for _, n := range nodes {
			f := map[string]resp.Reply{}
			for i := 0; i+1 < len(n.Elems); i += 2 {
				f[string(n.Elems[i].Str)] = n.Elems[i+1]
			}
			if string(f["role"].Str) != "master" {
				continue
			}
			host := string(f["endpoint"].Str)
			if host == "" || host == "?" {
				host = string(f["ip"].Str)
			}
			port := f["port"].Int
			if tp := f["tls-port"].Int; tp != 0 && (ep.TLS || port == 0) {
				port = tp
			}
			if string(f["health"].Str) == "fail" {
				failed += " " + nodeAddr(host, port, ep) + " (health fail)"
				continue
			}
			addr = nodeAddr(host, port, ep)
		}
		if addr == "" {
			return nil, fmt.Errorf("CLUSTER SHARDS: the shard of slot %d has no healthy master:%s", slots[0].Int, failed)
		}
		for i := 0; i+1 < len(slots); i += 2 {
			out = append(out, SlotRange{int(slots[i].Int), int(slots[i+1].Int), addr})
		}
	}
	return out, nil
}

// SlotsRanges reads the masters' slot ranges from a CLUSTER SLOTS reply.
func SlotsRanges(x resp.Reply, ep Endpoint) ([]SlotRange, error) {
	var out []SlotRange
	for _, e := range x.Elems {
		if len(e.Elems) < 3 || len(e.Elems[2].Elems) < 2 {
			return nil, fmt.Errorf("CLUSTER SLOTS: unexpected entry %.200s", e.String())
		}
		m := e.Elems[2]
		out = append(out, SlotRange{int(e.Elems[0].Int), int(e.Elems[1].Int), nodeAddr(string(m.Elems[0].Str), m.Elems[1].Int, ep)})
	}
	return out, nil
}

// Masters returns the distinct addresses of ranges, in the order of their
// first slots.
func Masters(ranges []SlotRange) []string {
	sorted := append([]SlotRange(nil), ranges...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].First < sorted[j].First })
	var out []string
	seen := map[string]bool{}
	for _, r := range sorted {
		if !seen[r.Addr] {
			seen[r.Addr] = true
			out = append(out, r.Addr)
		}
	}
	return out
}
