// Package transfer moves Redis-family datasets: it reads a snapshot from a
// Source (an RDB file, compressed or not, any io.Reader, a live server over
// PSYNC, or a server's keys through SCAN and DUMP), filters and transforms
// its keys, and writes them to a Sink (a server or cluster through the
// restore package, a new RDB file, or the caller's own).
//
//	w, err := restore.Dial(ctx, "redis://10.0.0.5:6379", restore.Options{Existing: restore.ExistingReplace})
//	…
//	stats, err := transfer.Run(ctx, transfer.File("dump.rdb.zst"), transfer.Server(w),
//		transfer.Match("user:*"), transfer.DB(0))
//
// Filters apply in order before any value is decoded. A Run that succeeds
// returns Stats in which every key read is accounted for — written,
// filtered, skipped (expired, or existing on the target) or failed, each
// failure naming its key — and checks that the counts add up.
package transfer
