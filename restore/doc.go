// Package restore writes keys read from RDB snapshots into a Redis, Valkey
// or KeyDB server or cluster.
//
// Dial connects to a target, learns its flavor, release, the RDB version it
// reads, its proto-max-bulk-len and whether it is a cluster (then the slot
// map, from CLUSTER SHARDS or CLUSTER SLOTS). Write queues one key at a
// time; a Writer pipelines RESTORE commands on one or more connections per
// master, bounded by a window of keys and bytes in flight, and Close waits
// for the acknowledgements and returns the Stats.
//
// Each key is prepared with rdb.Convert for the target: its raw value
// passes through when the target reads its encoding and is re-encoded
// otherwise; payloads are framed with the target's RDB version. A key whose
// payload exceeds the target's proto-max-bulk-len, or every key with
// CommandPathAlways, is written with plain commands (RPUSH, HSET, ZADD,
// XADD, …) in bounded batches into a temporary key in the same cluster slot,
// renamed over the real key at the end, so that readers do not see a value
// while it is being built and a retry converges. The batches are pipelined
// with the rename: if one of them fails (OOM, say) the rename still runs,
// and until a retry succeeds the key holds part of its value; a key that
// fails for good is reported as failed.
//
// Nothing is lost silently: every key given to Write ends as written,
// skipped (already expired, or existing under ExistingSkip) or failed, and
// each failure carries the database, the key, the node and the server's
// reply. Replies LOADING, BUSY, TRYAGAIN, CLUSTERDOWN, OOM and MASTERDOWN
// are retried with backoff; MOVED and ASK redirections are followed; a
// connection that drops is dialled again and every unacknowledged command
// resent.
package restore
