// Command parsebench measures how fast rdb.Reader reads an RDB file, side by
// side with github.com/hdt3213/rdb v1.3.2 and with reading the file without
// parsing it, in one run on the same file. `make bench` runs it.
//
// README
//
//	go run ./internal/benchcmd/parsebench                # 256MB generated file, 5 rounds
//	go run ./internal/benchcmd/parsebench -size 1GB -rounds 7
//	go run ./internal/benchcmd/parsebench -file dump.rdb # an existing file
//
// The file is generated once (deterministically, from -seed) with
// hdt3213/rdb's encoder into os.TempDir() and reused while it matches its
// sidecar's size and SHA-256; see internal/benchcmd/benchdata for the
// dataset. Every file, generated, cached or given, is first read to io.EOF
// with rdb.Reader, decoding every value; any error stops the command.
//
// Four methods each read the whole file from a fresh, unbuffered *os.File
// (the file sits in the page cache: it is read before measuring):
//
//	no-parse   io.CopyBuffer to io.Discard with a 256 KiB buffer, the size
//	           of rdb.Reader's reads: the I/O limit
//	scan       rdb.Reader.Next over every record, touching Key and Raw of
//	           every *rdb.Key (no decoding)
//	decode     Next, then rdb.Decoder.Decode for every key: every value
//	           decoded into plain Go types, in memory reused from key to key
//	value      Next, then Key.Value for every key: the same, each value in
//	           new memory (shown for comparison; no target)
//	hdt3213    hdt3213/rdb v1.3.2 core.NewDecoder(f).Parse(cb): it wraps
//	           the file in a 4 KiB bufio.Reader itself
//	cat |      no-parse and scan again, reading the standard output of
//	           `cat FILE` (a pipe) instead of the file: input as it comes
//	           from a pipe or a socket
//
// The issue states its target "raw scan within 2× of the no-parse read" as
// "≥ 600 MB/s", its no-parse reference being `cat` at ~1.2 GB/s. Reading the
// page cache into a 256 KiB buffer is a memcpy (10–20 GB/s here), which no
// reader that computes a CRC over every byte can approach; the table shows
// that ratio without a target, and checks the scan against 600 MB/s and
// against the same pipe read without parsing.
//
// The machines this runs on are noisy, so the methods are interleaved: each
// round runs all of them, in an order that rotates from round to round, and
// the table shows each method's median over the rounds and the ratios of
// the medians. MB are 10^6 bytes; allocs/key is the growth of
// runtime.MemStats.Mallocs during a run divided by the keys read.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/rdbferry/rdbferry/internal/benchcmd/benchdata"
)

// Targets (from the issue).
const (
	targetScanVsNoParse = 0.5  // raw scan within 2× of the no-parse read
	targetScanMBps      = 600  // … which the issue puts at ≥ 600 MB/s
	targetScanVsHdt     = 8.0  // raw scan ≥ 8× hdt3213
	targetDecodeVsHdt   = 3.0  // full decode ≥ 3× hdt3213
	targetScanAllocs    = 0.01 // "amortised to ~0": under one per 100 keys
)

type method struct {
	name, short, desc string
	run               func(f *os.File) (keys int64, err error)
}

func noParse(f *os.File) (int64, error) { return benchdata.NoParse(f) }
func scan(f *os.File) (int64, error)    { return benchdata.Scan(f) }
func decode(f *os.File) (int64, error)  { return benchdata.Decode(f) }
func hdt(f *os.File) (int64, error)     { return benchdata.Hdt3213(f) }
func value(f *os.File) (int64, error)   { return benchdata.DecodeEach(f) }

// throughCat runs `cat FILE` and hands its standard output (a pipe) to
// read: the input as a program gets it from a pipe or a socket.
func throughCat(read func(io.Reader) (int64, error)) func(f *os.File) (int64, error) {
	return func(f *os.File) (int64, error) {
		cmd := exec.Command("cat", f.Name())
		out, err := cmd.StdoutPipe()
		if err != nil {
			return 0, err
		}
		growPipe(out)
		if err := cmd.Start(); err != nil {
			return 0, err
		}
		keys, err := read(out)
		if err != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			return keys, err
		}
		return keys, cmd.Wait()
	}
}

const hdtIndex = 3 // methods[hdtIndex] is hdt3213

var methods = []method{
	{"no-parse read", "noparse", "io.CopyBuffer(io.Discard, *os.File, 256 KiB buffer)", noParse},
	{"raw scan", "scan", "rdb.Reader: Next, touch Key and Raw", scan},
	{"full decode", "decode", "rdb.Reader: Next + rdb.Decoder.Decode (memory reused)", decode},
	{"hdt3213 decode", "hdt3213", "hdt3213/rdb v1.3.2 core.NewDecoder(f).Parse", hdt},
	{"Key.Value", "value", "rdb.Reader: Next + Key.Value() (new memory per value)", value},
	{"cat | no-parse", "catread", "`cat FILE` read through a pipe, as no-parse read", throughCat(benchdata.NoParse)},
	{"cat | scan", "catscan", "`cat FILE` read through a pipe, as raw scan", throughCat(benchdata.Scan)},
}

// Methods that count no keys.
func countsNoKeys(i int) bool { return i == 0 || i == 5 }

type result struct {
	seconds     float64
	keys        int64
	mallocs     uint64
	allocBytes  uint64
	mbps, keysS float64
}

func measure(path string, m method, size int64) (result, error) {
	f, err := os.Open(path)
	if err != nil {
		return result{}, err
	}
	defer f.Close()
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	t0 := time.Now()
	keys, err := m.run(f)
	el := time.Since(t0).Seconds()
	runtime.ReadMemStats(&after)
	if err != nil {
		return result{}, fmt.Errorf("%s: %w", m.name, err)
	}
	return result{
		seconds:    el,
		keys:       keys,
		mallocs:    after.Mallocs - before.Mallocs,
		allocBytes: after.TotalAlloc - before.TotalAlloc,
		mbps:       float64(size) / 1e6 / el,
		keysS:      float64(keys) / el,
	}, nil
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func main() {
	sizeFlag := flag.String("size", "256MB", "size of the generated file (KB/MB/GB are 1024-based)")
	rounds := flag.Int("rounds", 5, "rounds; each runs every method once, in rotating order")
	file := flag.String("file", "", "measure this RDB file instead of a generated one")
	seed := flag.Int64("seed", 1, "seed of the generated dataset")
	flag.Parse()
	if err := run(*sizeFlag, *rounds, *file, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "parsebench:", err)
		os.Exit(1)
	}
}

func run(sizeFlag string, rounds int, file string, seed int64) error {
	if rounds < 1 {
		return errors.New("-rounds must be at least 1")
	}
	logf := func(format string, args ...any) { fmt.Printf("# "+format+"\n", args...) }
	var path string
	var keys int64
	var dataset string
	if file != "" {
		path = file
		t0 := time.Now()
		v, err := benchdata.Verify(path)
		if err != nil {
			return fmt.Errorf("%s does not parse with rdb.Reader: %w", path, err)
		}
		logf("verified %s with rdb.Reader (every record to io.EOF, every value decoded) in %.1fs", path, time.Since(t0).Seconds())
		keys = v.Keys
		var kinds []string
		for k, n := range v.Kinds {
			kinds = append(kinds, fmt.Sprintf("%v %d", k, n))
		}
		sort.Strings(kinds)
		dataset = fmt.Sprintf("%d keys (%s), %.1f%% with TTL", v.Keys, strings.Join(kinds, ", "), pct(v.TTLKeys, v.Keys))
	} else {
		size, err := benchdata.ParseSize(sizeFlag)
		if err != nil {
			return err
		}
		info, err := benchdata.Open(size, seed, logf)
		if err != nil {
			return err
		}
		path, keys = info.Path, info.Keys
		var kinds []string
		for i, n := range info.Counts {
			kinds = append(kinds, fmt.Sprintf("%s %d", benchdata.KindNames[i], n))
		}
		dataset = fmt.Sprintf("%d keys, %.1f%% with TTL, dbs %v\n#   %s", info.Keys, pct(info.TTLKeys, info.Keys), info.DBKeys, strings.Join(kinds, ", "))
		if info.Generated {
			dataset += fmt.Sprintf("\n#   generated in %.1fs, verified in %.1fs", info.GenSeconds, info.VerifyTime.Seconds())
		} else {
			dataset += fmt.Sprintf("\n#   reused from the cache (it took %.1fs to generate), verified in %.1fs", info.GenSeconds, info.VerifyTime.Seconds())
		}
	}
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	size := st.Size()

	// Into the page cache.
	if _, err := measure(path, methods[0], size); err != nil {
		return err
	}

	fmt.Printf("# file: %s, %s\n# dataset: %s\n", path, benchdata.Human(size), dataset)
	fmt.Printf("# %s/%s, %d CPUs (GOMAXPROCS %d), %s, %s\n", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), cpuModel())
	fmt.Printf("# %d rounds, methods interleaved in rotating order, page cache warm; medians; MB = 10^6 bytes\n", rounds)
	fmt.Printf("# every method reads a fresh unbuffered *os.File; hdt3213's core.NewDecoder buffers it itself (bufio.NewReader, 4 KiB), so it gets no extra bufio.Reader\n")

	res := make([][]result, len(methods))
	hdtFailed := ""
	for round := 0; round < rounds; round++ {
		var order []string
		for j := range methods {
			i := (j + round) % len(methods)
			if i == hdtIndex && hdtFailed != "" {
				continue
			}
			r, err := measure(path, methods[i], size)
			if err == nil && !countsNoKeys(i) && r.keys != keys {
				err = fmt.Errorf("%s read %d keys, the file has %d", methods[i].name, r.keys, keys)
			}
			if err != nil {
				// A file given with -file may hold what hdt3213 cannot
				// read: measure the rest. Anything else is fatal.
				if i != hdtIndex || file == "" {
					return err
				}
				hdtFailed = err.Error()
				fmt.Printf("# %s fails on this file, left out: %v\n", methods[i].name, err)
				continue
			}
			r.keys, r.keysS = keys, float64(keys)/r.seconds
			res[i] = append(res[i], r)
			order = append(order, fmt.Sprintf("%s %.0f", methods[i].short, r.mbps))
		}
		fmt.Printf("# round %d: %s MB/s\n", round+1, strings.Join(order, ", "))
	}

	med := make([]float64, len(methods))
	fmt.Println()
	fmt.Printf("%-15s %9s %12s %11s %12s  %s\n", "method", "MB/s", "keys/s", "allocs/key", "alloc B/key", "MB/s per round")
	for i, m := range methods {
		if len(res[i]) == 0 {
			fmt.Printf("%-15s %9s  (failed: %s)\n", m.name, "-", hdtFailed)
			continue
		}
		var mbps, ks, al, ab, per []float64
		for _, r := range res[i] {
			mbps = append(mbps, r.mbps)
			ks = append(ks, r.keysS)
			al = append(al, float64(r.mallocs)/float64(keys))
			ab = append(ab, float64(r.allocBytes)/float64(keys))
			per = append(per, r.mbps)
		}
		med[i] = median(mbps)
		var ps []string
		for _, p := range per {
			ps = append(ps, fmt.Sprintf("%.0f", p))
		}
		keysCol := fmt.Sprintf("%.0f", median(ks))
		if countsNoKeys(i) {
			keysCol = "-"
		}
		fmt.Printf("%-15s %9.1f %12s %11.4f %12.1f  %s\n", m.name, med[i], keysCol, median(al), median(ab), strings.Join(ps, " "))
	}
	for _, m := range methods {
		fmt.Printf("  %-15s %s\n", m.name+":", m.desc)
	}

	noparse, scanM, decodeM, hdtM := med[0], med[1], med[2], med[3]
	var scanAllocs []float64
	for _, r := range res[1] {
		scanAllocs = append(scanAllocs, float64(r.mallocs)/float64(keys))
	}
	sa := median(scanAllocs)
	fmt.Println()
	fmt.Printf("%-28s %9s  %-26s %s\n", "ratio (of medians)", "value", "target", "")
	row := func(name string, v float64, target string, ok bool) {
		fmt.Printf("%-28s %9s  %-26s %s\n", name, fmt.Sprintf("%.2f×", v), target, metStr(ok))
	}
	fmt.Printf("%-28s %9s  %-26s %s\n", "raw scan MB/s", fmt.Sprintf("%.0f", scanM), "≥ 600", metStr(scanM >= targetScanMBps))
	row("cat | scan / cat | no-parse", med[6]/med[5], "≥ 0.50× (within 2×)", med[6]/med[5] >= targetScanVsNoParse)
	if hdtFailed == "" {
		row("raw scan / hdt3213", scanM/hdtM, "≥ 8×", scanM/hdtM >= targetScanVsHdt)
		row("full decode / hdt3213", decodeM/hdtM, "≥ 3×", decodeM/hdtM >= targetDecodeVsHdt)
	}
	fmt.Printf("%-28s %9.4f  %-26s %s\n", "raw scan allocs/key", sa, "~0 (< 0.01)", metStr(sa < targetScanAllocs))
	fmt.Printf("%-28s %9s\n", "full decode / no-parse read", fmt.Sprintf("%.2f×", decodeM/noparse))
	fmt.Printf("%-28s %9s\n", "full decode / raw scan", fmt.Sprintf("%.2f×", decodeM/scanM))
	if hdtFailed == "" {
		fmt.Printf("%-28s %9s\n", "Key.Value / hdt3213", fmt.Sprintf("%.2f×", med[4]/hdtM))
	}
	fmt.Printf("%-28s %9s\n", "raw scan / no-parse read", fmt.Sprintf("%.2f×", scanM/noparse))
	return nil
}

func metStr(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT MET"
}

func pct(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "cpu unknown"
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if k, v, ok := strings.Cut(s.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "cpu unknown"
}
