//go:build linux

// The live mode (-live) and the RSS mode (-rss-gb N).
//
//	go run ./internal/benchcmd/ingestbench -live -rounds 3
//	go run ./internal/benchcmd/ingestbench -rss-gb 1
//
// Live mode: the source is a redis-server that loaded the generated RDB
// file as its dump.rdb (started once, repl-diskless-sync-delay 0). Its own
// snapshot (taken once with redis-cli --rdb) is turned into a second RESP
// file of RESTORE commands: the payloads as this source serializes them —
// re-encoded and LZF-compressed by it — which is what PSYNC (or DUMP)
// carries and the target must load, and costs the target more CPU than the
// generated file's payloads. Each round first reads the source's snapshot
// into io.Discard (the source's part alone), then runs, in an order that
// rotates from round to round, each on a fresh target redis-server:
//
//	ours       a child process runs transfer.Run(PSYNC(source),
//	           Server(restore.Writer)) with ExistingReplace; the time is
//	           the child's, from before Run to after Run returns (the
//	           source's snapshot included); the peak RSS is the child's
//	           (rusage maxrss)
//	redis-cli  redis-cli --pipe < the RESTORE file of the source's
//	           payloads: the reference of the ratio
//	cli-file   redis-cli --pipe < the generated RESTORE file, as in the
//	           file mode (shown, no target)
//
// Every target must then hold the source's dataset (DBSIZE, DEBUG
// DIGEST). Targets: ours ≤ 1.2 × redis-cli, peak RSS ≤ 64 MiB + the
// largest value. Each run also reports CPU seconds: the target's, the
// client's and, for ours, the source's and its snapshot fork's. On a
// machine where the three processes of a live run share fewer cores than
// they keep busy, their sum over the number of CPUs is a floor no client
// can beat; the summary prints it.
//
// RSS mode: an RDB file of at least N GiB (100 000 keys of the mix, then
// 1 MB strings and lists of 100 000 elements, LZF-compressed to about
// 0.5 MB each) is generated into the temporary directory of the system,
// or reused from there (rdbferry-ingestbench-big-*; delete it to regenerate). A child
// process runs transfer.Run(File(path), ToWriter(io.Discard)) — every
// record read, CRC-checked and re-written — and a second one the same
// into a fresh redis-server (transfer.Server); each reports its peak RSS
// and throughput. Target: peak RSS ≤ 64 MiB + the largest value.

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rdbferry/rdbferry/rdb"
	"github.com/rdbferry/rdbferry/restore"
	"github.com/rdbferry/rdbferry/transfer"
)

const targetLiveRatio = 1.2 // live mode: ours / redis-cli

// transferResult is what the -child-live and -child-rss children report.
type transferResult struct {
	Seconds     float64 `json:"seconds"`
	KeysRead    int64   `json:"keys_read"`
	KeysWritten int64   `json:"keys_written"`
	KeysFailed  int64   `json:"keys_failed"`
	BytesRead   int64   `json:"bytes_read"`
	VmHWMBytes  int64   `json:"vmhwm"`
}

func report(st transfer.Stats, start time.Time) error {
	res := transferResult{Seconds: time.Since(start).Seconds(), KeysRead: st.KeysRead, KeysWritten: st.KeysWritten,
		KeysFailed: st.KeysFailed, BytesRead: st.BytesRead, VmHWMBytes: vmHWM()}
	return json.NewEncoder(os.Stdout).Encode(res)
}

// runChildLive is the live mode's "ours".
// With no dst, the snapshot goes to io.Discard: the time of the source's
// snapshot and of reading it.
func runChildLive(src, dst, cpuprofile string) error {
	stop, err := startProfile(cpuprofile)
	if err != nil {
		return err
	}
	defer stop()
	ctx := context.Background()
	sink, err := childSink(ctx, dst)
	if err != nil {
		return err
	}
	start := time.Now()
	st, err := transfer.Run(ctx, transfer.PSYNC(src, transfer.PSYNCOptions{}), sink)
	if err != nil {
		return err
	}
	return report(st, start)
}

// childSink returns the sink of a child: the server at url (replacing
// existing keys), or io.Discard when url is "".
func childSink(ctx context.Context, url string) (transfer.Sink, error) {
	if url == "" {
		return transfer.ToWriter(io.Discard, transfer.FileOptions{}), nil
	}
	w, err := restore.Dial(ctx, url, restore.Options{Existing: restore.ExistingReplace})
	if err != nil {
		return nil, err
	}
	return transfer.Server(w), nil
}

// runChildRSS reads path into io.Discard, or into the server at url.
func runChildRSS(path, url string) error {
	ctx := context.Background()
	sink, err := childSink(ctx, url)
	if err != nil {
		return err
	}
	start := time.Now()
	st, err := transfer.Run(ctx, transfer.File(path), sink)
	if err != nil {
		return err
	}
	return report(st, start)
}

// runTransferChild runs this binary with args and returns its report, its
// peak RSS (rusage maxrss) and its CPU seconds.
func runTransferChild(self string, args ...string) (res transferResult, rss int64, cpu float64, err error) {
	cmd := exec.Command(self, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	if err := cmd.Run(); err != nil {
		return res, 0, 0, fmt.Errorf("%v\n%s", err, out.Bytes())
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		return res, 0, 0, fmt.Errorf("%v in %q", err, out.Bytes())
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rss = ru.Maxrss << 10 // kB on Linux
	}
	return res, rss, childCPU(cmd.ProcessState), nil
}

// startSource starts a redis-server that loads path as its dump.rdb.
func startSource(bin, dir, path string) (*server, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if err := copyFile(filepath.Join(dir, "dump.rdb"), path); err != nil {
		return nil, err
	}
	s, err := startServerConf(bin, dir, "dbfilename dump.rdb\nrepl-diskless-sync-delay 0\n", 5*time.Minute)
	if err != nil {
		return nil, err
	}
	for deadline := time.Now().Add(5 * time.Minute); ; time.Sleep(50 * time.Millisecond) {
		x, err := s.do("INFO", "persistence")
		if err == nil && strings.Contains(string(x.Str), "loading:0") {
			return s, nil
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("source still loading after 5 minutes (%v)", err)
		}
	}
}

func copyFile(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func runLive(self, bin, dir string, src *server, d *dataset) (measurement, error) {
	s, err := startServer(bin, dir)
	if err != nil {
		return measurement{}, err
	}
	defer s.stop()
	cpu0, srcCPU0 := cpuSeconds(s.cmd.Process.Pid), sourceCPU(src)
	res, rss, cpu, err := runTransferChild(self, "-child-live", "-src", "redis://"+src.addr(), "-url", "redis://"+s.addr())
	if err != nil {
		return measurement{}, fmt.Errorf("ours: %w", err)
	}
	m := measurement{seconds: res.Seconds, rss: rss, hwm: res.VmHWMBytes, srvCPU: cpuSeconds(s.cmd.Process.Pid) - cpu0,
		clientCPU: cpu, srcCPU: sourceCPU(src) - srcCPU0}
	m.stats = restore.Stats{Written: res.KeysWritten, Failed: res.KeysFailed}
	if res.KeysRead != int64(d.keys) || res.KeysWritten != int64(d.keys) || res.KeysFailed != 0 {
		return m, fmt.Errorf("ours: %+v, want %d keys read and written", res, d.keys)
	}
	m.digest, err = check(s, d)
	return m, err
}

// sourceCPU returns the CPU seconds the source and its reaped forks have
// used, once no snapshot fork is running (so that a fork's CPU counts for
// the run that caused it).
func sourceCPU(src *server) float64 {
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		x, err := src.do("INFO", "persistence")
		if err != nil || !strings.Contains(string(x.Str), "rdb_bgsave_in_progress:1") || time.Now().After(deadline) {
			return cpuSecondsWithChildren(src.cmd.Process.Pid)
		}
	}
}

// sourcePayloads takes the source's snapshot with `redis-cli --rdb` and
// writes the RESTORE commands of its keys to respPath: the payloads exactly
// as PSYNC (or DUMP) carries them from this source, re-encoded and
// LZF-compressed by it, which is not how the generated file holds them.
func sourcePayloads(cli, dir string, src *server, respPath string) (keys int, err error) {
	snap := filepath.Join(dir, "source-snapshot.rdb")
	out, err := exec.Command(cli, "-h", "127.0.0.1", "-p", strconv.Itoa(src.port), "--rdb", snap).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("redis-cli --rdb: %v\n%s", err, out)
	}
	defer os.Remove(snap)
	in, err := os.Open(snap)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	f, err := os.Create(respPath)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	r := rdb.NewReader(in)
	var cmd, payload []byte
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return keys, fmt.Errorf("the source's snapshot: %w", err)
		}
		if k, ok := rec.(*rdb.Key); ok {
			cmd, payload = appendRestoreCommand(cmd[:0], payload, k, r.Version())
			if _, err := w.Write(cmd); err != nil {
				return keys, err
			}
			keys++
		}
	}
	if err := w.Flush(); err != nil {
		return keys, err
	}
	return keys, f.Close()
}

// liveRounds is the live mode.
func liveRounds(self, bin, cli, dir string, d *dataset, rounds int) error {
	t0 := time.Now()
	src, err := startSource(bin, filepath.Join(dir, "source"), d.rdbPath)
	if err != nil {
		return fmt.Errorf("live source: %w", err)
	}
	defer src.stop()
	digest, err := check(src, d)
	if err != nil {
		return fmt.Errorf("live source: %w", err)
	}
	logf("live: source redis-server on port %d loaded the RDB file in %.1fs, DEBUG DIGEST %s", src.port, time.Since(t0).Seconds(), digest)
	t0 = time.Now()
	fromSource := *d
	fromSource.respPath = filepath.Join(dir, "restore-source.resp")
	n, err := sourcePayloads(cli, dir, src, fromSource.respPath)
	if err != nil {
		return fmt.Errorf("live source: %w", err)
	}
	if n != d.keys {
		return fmt.Errorf("live source: its snapshot holds %d keys, want %d", n, d.keys)
	}
	defer os.Remove(fromSource.respPath)
	logf("live: the source's payloads (redis-cli --rdb, then a RESTORE command per key) written in %.1fs", time.Since(t0).Seconds())

	methods := []string{"ours-live", "redis-cli", "cli-file"}
	runs := map[string][]measurement{}
	var snapshots []float64
	for r := 0; r < rounds; r++ {
		// The source's part alone: its snapshot, read and discarded.
		res, _, _, err := runTransferChild(self, "-child-live", "-src", "redis://"+src.addr())
		if err != nil {
			return fmt.Errorf("live round %d, PSYNC → io.Discard: %w", r+1, err)
		}
		if res.KeysRead != int64(d.keys) {
			return fmt.Errorf("live round %d, PSYNC → io.Discard: %d keys read, want %d", r+1, res.KeysRead, d.keys)
		}
		snapshots = append(snapshots, res.Seconds)
		logf("live round %d %-9s %6.2fs  (PSYNC → io.Discard: the source's snapshot, read and parsed)", r+1, "snapshot", res.Seconds)
		for j := range methods {
			m := methods[(j+r)%len(methods)]
			var res measurement
			var err error
			sdir := filepath.Join(dir, fmt.Sprintf("live-r%d-%s", r, m))
			switch m {
			case "ours-live":
				res, err = runLive(self, bin, sdir, src, d)
			case "redis-cli":
				res, err = runCLI(cli, bin, sdir, &fromSource)
			default:
				res, err = runCLI(cli, bin, sdir, d)
			}
			if err != nil {
				return fmt.Errorf("live round %d, %s: %w", r+1, m, err)
			}
			runs[m] = append(runs[m], res)
			if res.digest != digest {
				return fmt.Errorf("live round %d, %s: DEBUG DIGEST %s, source %s: the datasets differ", r+1, m, res.digest, digest)
			}
			extra := fmt.Sprintf(", its client %.2fs", res.clientCPU)
			if m == "ours-live" {
				extra = fmt.Sprintf(", ours %.2fs, source %.2fs; peak RSS %.1f MiB (VmHWM %.1f MiB)", res.clientCPU, res.srcCPU, mib(res.rss), mib(res.hwm))
			}
			logf("live round %d %-9s %6.2fs  %9.0f keys/s  CPU: target redis-server %5.2fs%s", r+1, m, res.seconds, float64(d.keys)/res.seconds, res.srvCPU, extra)
			os.RemoveAll(sdir)
		}
	}
	oursT, cliT, peak := summarize(runs["ours-live"], runs["redis-cli"])
	med := func(m string, f func(measurement) float64) float64 {
		var xs []float64
		for _, x := range runs[m] {
			xs = append(xs, f(x))
		}
		return median(xs)
	}
	fileT := med("cli-file", func(m measurement) float64 { return m.seconds })
	srcCPU := med("ours-live", func(m measurement) float64 { return m.srcCPU })
	tgtCPU := med("ours-live", func(m measurement) float64 { return m.srvCPU })
	ourCPU := med("ours-live", func(m measurement) float64 { return m.clientCPU })
	cliTgtCPU := med("redis-cli", func(m measurement) float64 { return m.srvCPU })
	cliCPU := med("redis-cli", func(m measurement) float64 { return m.clientCPU })
	cpus := runtime.NumCPU()
	floor := (srcCPU + tgtCPU + ourCPU) / float64(cpus)
	ratio := oursT / cliT
	rssLimit := int64(targetRSSFix + d.largest)
	fmt.Println()
	fmt.Printf("live: %d keys, %.1f MB RDB file, medians of %d rounds, every target checked with DBSIZE and DEBUG DIGEST = source's %s\n", d.keys, float64(d.rdbSize)/1e6, rounds, digest)
	fmt.Printf("%-58s %8s %12s %s\n", "method", "seconds", "keys/s", "  CPU seconds")
	fmt.Printf("%-58s %8.2f %12.0f   source %.2f + target %.2f + ours %.2f\n", "ours (transfer.Run PSYNC → restore.Writer)", oursT, float64(d.keys)/oursT, srcCPU, tgtCPU, ourCPU)
	fmt.Printf("%-58s %8.2f %12.0f   target %.2f + redis-cli %.2f\n", "redis-cli --pipe, RESTORE of the source's payloads", cliT, float64(d.keys)/cliT, cliTgtCPU, cliCPU)
	fmt.Printf("%-58s %8.2f %12.0f   (no target: the generated file's payloads, not the source's)\n", "redis-cli --pipe, RESTORE of the generated file's payloads", fileT, float64(d.keys)/fileT)
	fmt.Printf("%-58s %8.2f %12.0f\n", "the source's snapshot alone (PSYNC → io.Discard)", median(snapshots), float64(d.keys)/median(snapshots))
	fmt.Printf("live ratio ours/redis-cli (the source's payloads): %.2f (target ≤ %.1f: %s)\n", ratio, targetLiveRatio, verdict(ratio <= targetLiveRatio))
	fmt.Printf("live CPU floor: the three processes of the live run need %.2f CPU-seconds; on %d CPUs no schedule finishes in under %.2fs = %.2f× redis-cli\n",
		srcCPU+tgtCPU+ourCPU, cpus, floor, floor/cliT)
	fmt.Printf("live peak RSS: %.1f MiB (target ≤ 64 MiB + largest payload %.1f KiB = %.1f MiB: %s)\n",
		mib(peak), float64(d.largest)/1024, mib(rssLimit), verdict(peak <= rssLimit))
	return nil
}

// bigMeta describes a generated big file, stored beside it for reuse.
type bigMeta struct {
	Keys    int   `json:"keys"`
	Largest int   `json:"largest"`
	Size    int64 `json:"size"`
}

// rssMode is the RSS mode.
func rssMode(self, bin, dir string, gb float64, seed int64) error {
	path := filepath.Join(os.TempDir(), fmt.Sprintf("rdbferry-ingestbench-big-%sGiB-seed%d.rdb", strconv.FormatFloat(gb, 'f', -1, 64), seed))
	var meta bigMeta
	fi, err := os.Stat(path)
	b, merr := os.ReadFile(path + ".json")
	if err == nil && merr == nil && json.Unmarshal(b, &meta) == nil && meta.Size == fi.Size() {
		logf("rss: reusing %s (%d keys, %.2f GiB, largest value %d bytes)", path, meta.Keys, float64(meta.Size)/(1<<30), meta.Largest)
	} else {
		t0 := time.Now()
		d, err := generateTo(filepath.Join(dir, "big"), bin, path, "", 100_000, seed, int64(gb*(1<<30)))
		if err != nil {
			os.Remove(path)
			return fmt.Errorf("generating the big file: %w", err)
		}
		meta = bigMeta{Keys: d.keys, Largest: d.largest, Size: d.rdbSize}
		b, _ := json.Marshal(meta)
		if err := os.WriteFile(path+".json", b, 0o644); err != nil {
			return err
		}
		logf("rss: generated %s in %.1fs: %d keys (%d strings of 1 MB, %d lists of 100 000 elements), %.2f GiB, largest value %d bytes",
			path, time.Since(t0).Seconds(), d.keys, d.counts[kindBigString], d.counts[kindHugeList], float64(d.rdbSize)/(1<<30), d.largest)
	}
	if f, err := os.Open(path); err == nil { // into the page cache
		io.Copy(io.Discard, f)
		f.Close()
	}
	rssLimit := int64(targetRSSFix + meta.Largest)
	line := func(what string, res transferResult, rss int64) {
		fmt.Printf("rss %-40s %6.2fs %8.1f MB/s  peak RSS %6.1f MiB (VmHWM %.1f MiB; target ≤ 64 MiB + largest value %.1f KiB = %.1f MiB: %s)\n",
			what, res.Seconds, float64(meta.Size)/1e6/res.Seconds, mib(rss), mib(res.VmHWMBytes),
			float64(meta.Largest)/1024, mib(rssLimit), verdict(rss <= rssLimit))
	}

	res, rss, _, err := runTransferChild(self, "-child-rss", "-file", path)
	if err != nil {
		return fmt.Errorf("rss: %w", err)
	}
	if res.KeysRead != int64(meta.Keys) || res.KeysWritten != int64(meta.Keys) || res.BytesRead != meta.Size {
		return fmt.Errorf("rss: %+v, want %d keys read and written, %d bytes", res, meta.Keys, meta.Size)
	}
	fmt.Println()
	fmt.Printf("rss: %d keys, %.2f GiB RDB file\n", meta.Keys, float64(meta.Size)/(1<<30))
	line("File → ToWriter(io.Discard)", res, rss)

	s, err := startServer(bin, filepath.Join(dir, "rss-target"))
	if err != nil {
		return err
	}
	defer s.stop()
	res, rss, _, err = runTransferChild(self, "-child-rss", "-file", path, "-url", "redis://"+s.addr())
	if err != nil {
		return fmt.Errorf("rss, into redis-server: %w", err)
	}
	if res.KeysWritten != int64(meta.Keys) || res.KeysFailed != 0 {
		return fmt.Errorf("rss, into redis-server: %+v, want %d keys written", res, meta.Keys)
	}
	x, err := s.do("DBSIZE")
	if err != nil {
		return err
	}
	if x.Int != int64(meta.Keys) {
		return fmt.Errorf("rss, into redis-server: DBSIZE %d, want %d", x.Int, meta.Keys)
	}
	line("File → Server(restore.Writer), DBSIZE ok", res, rss)
	return nil
}
