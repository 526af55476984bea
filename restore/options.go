package restore

import (
	"crypto/tls"
	"fmt"
	"time"

	"github.com/rdbferry/rdbferry/rdb"
)

// ExistingPolicy says what happens when a key already exists on the target.
type ExistingPolicy uint8

// Policies for existing keys.
const (
	// ExistingFail reports the key as failed (the target's BUSYKEY reply).
	ExistingFail ExistingPolicy = iota
	// ExistingReplace overwrites the key (RESTORE … REPLACE).
	ExistingReplace
	// ExistingSkip leaves the existing key and counts the key as skipped.
	ExistingSkip
)

// ParseExistingPolicy parses "fail", "replace" or "skip".
func ParseExistingPolicy(s string) (ExistingPolicy, error) {
	switch s {
	case "fail":
		return ExistingFail, nil
	case "replace":
		return ExistingReplace, nil
	case "skip":
		return ExistingSkip, nil
	}
	return 0, fmt.Errorf("restore: unknown policy for existing keys %q (want fail, replace or skip)", s)
}

// CommandPathPolicy says when keys are written with plain commands (RPUSH,
// HSET, …) instead of RESTORE.
type CommandPathPolicy uint8

// Command path policies.
const (
	// CommandPathAuto uses commands only when no RESTORE payload fits: the
	// payload is larger than the target's proto-max-bulk-len.
	CommandPathAuto CommandPathPolicy = iota
	// CommandPathAlways writes every key with commands.
	CommandPathAlways
)

// Options configure a Writer. The zero value is usable.
type Options struct {
	// Existing is the policy for keys the target already has.
	Existing ExistingPolicy
	// KeepLRU passes the source's LRU idle time (IDLETIME) or LFU counter
	// (FREQ) to RESTORE.
	KeepLRU bool
	// Pipeline bounds the keys in flight (given to Write, not yet
	// acknowledged): Pipeline times Conns times the nodes found at Dial, in
	// all (one busy connection may use the whole allowance); default 512.
	Pipeline int
	// PipelineBytes bounds the bytes in flight the same way, in all;
	// default 16 MiB per connection. A single larger key is still sent,
	// alone.
	PipelineBytes int
	// Conns is the number of connections per node; default 1. A key always
	// travels on the same connection, so its commands stay in order.
	Conns int
	// Convert tunes how values are prepared for the target (see rdb.Convert).
	Convert rdb.ConvertOptions
	// CommandPath says when plain commands replace RESTORE.
	CommandPath CommandPathPolicy
	// BatchArgs and BatchBytes bound each command of the command path;
	// defaults 512 elements and 1 MiB.
	BatchArgs  int
	BatchBytes int
	// TLS configures rediss:// connections. Nil means the system's roots
	// and the URL's host as server name; verification stays on unless the
	// caller's config turns it off.
	TLS *tls.Config
	// DialTimeout bounds each connection attempt (for Dial, the whole
	// setup: connecting, logging in and learning the server); default 10 s.
	DialTimeout time.Duration
	// MaxRetries bounds the attempts for a key on retryable replies
	// (LOADING, BUSY, TRYAGAIN, CLUSTERDOWN, OOM, MASTERDOWN) and the
	// reconnections of a connection in a row; default 8.
	MaxRetries int
	// ReplyTimeout is how long a connection with commands outstanding may
	// go without any reply before it is considered dead, closed, and its
	// commands sent again on a new one; default 2 minutes (a server can
	// take a while over one huge RESTORE).
	ReplyTimeout time.Duration
	// RetryBackoff is the first wait before a retry, doubling each time up
	// to 2 s; default 50 ms.
	RetryBackoff time.Duration
	// OnFailure, if set, receives each failure as it happens, from the
	// Writer's goroutines: it must be safe for concurrent use and fast.
	OnFailure func(Failure)
	// MaxFailures bounds the failures kept for Failures; default 1000.
	// Every failure is counted whatever this limit.
	MaxFailures int
}

func (o Options) withDefaults() Options {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.Pipeline, 512)
	def(&o.PipelineBytes, 16<<20)
	def(&o.Conns, 1)
	def(&o.BatchArgs, 512)
	def(&o.BatchBytes, 1<<20)
	def(&o.MaxRetries, 8)
	def(&o.MaxFailures, 1000)
	if o.DialTimeout <= 0 {
		o.DialTimeout = 10 * time.Second
	}
	if o.ReplyTimeout <= 0 {
		o.ReplyTimeout = 2 * time.Minute
	}
	if o.RetryBackoff <= 0 {
		o.RetryBackoff = 50 * time.Millisecond
	}
	return o
}
