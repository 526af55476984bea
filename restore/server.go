package restore

import (
	"context"
	"strconv"

	"github.com/rdbferry/rdbferry/internal/server"
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

func serverOptions(o *Options) server.Options {
	return server.Options{TLS: o.TLS, Timeout: o.DialTimeout}
}

// detect learns the server's flavor, release, the RDB version it reads, its
// proto-max-bulk-len (CONFIG GET when allowed, else the default) and
// whether it is a cluster.
func detect(ctx context.Context, c *server.Conn) (ServerInfo, error) {
	si, err := c.Detect(ctx)
	if err != nil {
		return ServerInfo{}, err
	}
	info := ServerInfo{Flavor: si.Flavor, Version: si.Release, Cluster: si.Cluster, ProtoMaxBulkLen: defaultProtoMaxBulkLen}
	if info.Target, err = rdb.TargetFor(info.Flavor, info.Version); err != nil {
		return info, err
	}
	if x, err := c.Do(ctx, "CONFIG", "GET", "proto-max-bulk-len"); err == nil && len(x.Elems) == 2 {
		if n, err := strconv.ParseInt(string(x.Elems[1].Str), 10, 64); err == nil && n > 0 {
			info.ProtoMaxBulkLen = n
		}
	}
	return info, nil
}
