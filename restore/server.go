package restore

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/rdbferry/rdbferry/internal/resp"
	"github.com/rdbferry/rdbferry/rdb"
)

// ServerInfo is what Dial learned about the target.
type ServerInfo struct {
	Flavor  rdb.Flavor
	Version string     // the server's release, e.g. "7.0.15"
	Target  rdb.Target // the RDB version it reads, framing every payload
	// ProtoMaxBulkLen is the largest argument the server accepts: payloads
	// above it go through the command path.
	ProtoMaxBulkLen int64
	Cluster         bool
	Nodes           []string // addresses of the masters written to
}

// defaultProtoMaxBulkLen is Redis's default proto-max-bulk-len (512 MB).
const defaultProtoMaxBulkLen = 512 << 20

func joinHostPort(host, port string) string { return net.JoinHostPort(host, port) }

// client is a synchronous connection for setup queries.
type client struct {
	nc net.Conn
	w  *resp.Writer
	r  *resp.Reader
}

// dialConn opens a connection to addr and logs in.
func dialConn(ctx context.Context, ep endpoint, addr string, opts *Options) (net.Conn, *resp.Writer, *resp.Reader, error) {
	d := net.Dialer{Timeout: opts.DialTimeout, KeepAlive: 30 * time.Second}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, nil, nil, err
	}
	if ep.tls {
		cfg := &tls.Config{}
		if opts.TLS != nil {
			cfg = opts.TLS.Clone()
		}
		if cfg.ServerName == "" {
			host, _, _ := net.SplitHostPort(addr)
			cfg.ServerName = host
		}
		tc := tls.Client(nc, cfg)
		hctx, cancel := context.WithTimeout(ctx, opts.DialTimeout)
		err := tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			nc.Close()
			return nil, nil, nil, fmt.Errorf("TLS handshake: %w", err)
		}
		nc = tc
	}
	w, r := resp.NewWriter(nc), resp.NewReader(nc)
	if ep.hasAuth {
		args := []string{"AUTH", ep.password}
		if ep.username != "" {
			args = []string{"AUTH", ep.username, ep.password}
		}
		c := &client{nc, w, r}
		if _, err := c.do(ctx, args...); err != nil {
			nc.Close()
			return nil, nil, nil, fmt.Errorf("AUTH: %w", err)
		}
	}
	return nc, w, r, nil
}

// do sends one command and returns its reply; an error reply is an error.
func (c *client) do(ctx context.Context, args ...string) (resp.Reply, error) {
	if dl, ok := ctx.Deadline(); ok {
		c.nc.SetDeadline(dl)
		defer c.nc.SetDeadline(time.Time{})
	}
	// A context cancelled without a deadline interrupts the round trip too.
	stop := context.AfterFunc(ctx, func() { c.nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	ctxErr := func(err error) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	}
	if err := c.w.WriteCommandStrings(args...); err != nil {
		return resp.Reply{}, ctxErr(err)
	}
	if err := c.w.Flush(); err != nil {
		return resp.Reply{}, ctxErr(err)
	}
	x, err := c.r.ReadReply()
	if err != nil {
		return resp.Reply{}, ctxErr(err)
	}
	if err := x.Err(); err != nil {
		return resp.Reply{}, err
	}
	return x.Clone(), nil
}

// infoFields parses an INFO reply into its key:value lines.
func infoFields(b []byte) map[string]string {
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

// detect learns the server's flavor, version, limits and cluster mode.
func (c *client) detect(ctx context.Context) (ServerInfo, error) {
	var info ServerInfo
	x, err := c.do(ctx, "INFO", "server")
	if err != nil {
		return info, fmt.Errorf("INFO server: %w", err)
	}
	f := infoFields(x.Str)
	info.Flavor, info.Version = rdb.FlavorRedis, f["redis_version"]
	if v := f["valkey_version"]; v != "" || f["server_name"] == "valkey" {
		info.Flavor = rdb.FlavorValkey
		if v != "" {
			info.Version = v
		}
	} else if x, err := c.do(ctx, "COMMAND", "INFO", "EXPIREMEMBER"); err == nil && len(x.Elems) > 0 && !x.Elems[0].IsNil() {
		info.Flavor = rdb.FlavorKeyDB // the EXPIREMEMBER command exists only in KeyDB
	}
	if info.Version == "" {
		return info, errors.New("INFO server reports no version")
	}
	if info.Target, err = rdb.TargetFor(info.Flavor, info.Version); err != nil {
		return info, err
	}
	info.ProtoMaxBulkLen = defaultProtoMaxBulkLen
	if x, err := c.do(ctx, "CONFIG", "GET", "proto-max-bulk-len"); err == nil && len(x.Elems) == 2 {
		if n, err := strconv.ParseInt(string(x.Elems[1].Str), 10, 64); err == nil && n > 0 {
			info.ProtoMaxBulkLen = n
		}
	}
	if x, err := c.do(ctx, "INFO", "cluster"); err == nil && infoFields(x.Str)["cluster_enabled"] == "1" {
		info.Cluster = true
	}
	return info, nil
}

// slotRange is a range of slots served by a master.
type slotRange struct {
	first, last int
	addr        string
}

// clusterSlots reads the slot map: CLUSTER SHARDS (Redis 7.0+), else
// CLUSTER SLOTS.
func (c *client) clusterSlots(ctx context.Context) ([]slotRange, error) {
	if x, err := c.do(ctx, "CLUSTER", "SHARDS"); err == nil {
		return parseShards(x)
	}
	x, err := c.do(ctx, "CLUSTER", "SLOTS")
	if err != nil {
		return nil, fmt.Errorf("CLUSTER SLOTS: %w", err)
	}
	var out []slotRange
	for _, e := range x.Elems {
		if len(e.Elems) < 3 || len(e.Elems[2].Elems) < 2 {
			return nil, fmt.Errorf("CLUSTER SLOTS: unexpected entry %v", e)
		}
		m := e.Elems[2]
		out = append(out, slotRange{int(e.Elems[0].Int), int(e.Elems[1].Int), joinHostPort(string(m.Elems[0].Str), strconv.FormatInt(m.Elems[1].Int, 10))})
	}
	return out, nil
}

// parseShards reads the masters' slot ranges from a CLUSTER SHARDS reply.
func parseShards(x resp.Reply) ([]slotRange, error) {
	var out []slotRange
	for _, shard := range x.Elems {
		var slots []resp.Reply
		var nodes []resp.Reply
		for i := 0; i+1 < len(shard.Elems); i += 2 {
			switch string(shard.Elems[i].Str) {
			case "slots":
				slots = shard.Elems[i+1].Elems
			case "nodes":
				nodes = shard.Elems[i+1].Elems
			}
		}
		addr := ""
		for _, n := range nodes {
			fields := map[string]resp.Reply{}
			for i := 0; i+1 < len(n.Elems); i += 2 {
				fields[string(n.Elems[i].Str)] = n.Elems[i+1]
			}
			if string(fields["role"].Str) != "master" || string(fields["health"].Str) == "fail" {
				continue
			}
			host := string(fields["ip"].Str)
			if host == "" {
				host = string(fields["endpoint"].Str)
			}
			port := fields["port"].Int
			if p, ok := fields["tls-port"]; ok && port == 0 {
				port = p.Int
			}
			addr = joinHostPort(host, strconv.FormatInt(port, 10))
		}
		if addr == "" && len(slots) > 0 {
			return nil, errors.New("CLUSTER SHARDS: a shard with slots has no healthy master")
		}
		for i := 0; i+1 < len(slots); i += 2 {
			out = append(out, slotRange{int(slots[i].Int), int(slots[i+1].Int), addr})
		}
	}
	return out, nil
}
