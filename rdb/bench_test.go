package rdb_test

// Parse benchmarks on a 16 MB generated file (internal/benchcmd/benchdata:
// every type, ~30 % of keys with a TTL), generated once into os.TempDir()
// and reused by later runs. `make bench` runs them after the side-by-side
// comparison of internal/benchcmd/parsebench on a 256 MB file; quick check:
//
//	go test -run '^$' -bench . -benchtime 1x ./rdb

import (
	"os"
	"runtime"
	"sync"
	"testing"

	"github.com/rdbferry/rdbferry/internal/benchcmd/benchdata"
	"github.com/rdbferry/rdbferry/rdb"
)

const benchFileSize = 16 << 20

var benchFile struct {
	once sync.Once
	info *benchdata.Info
	err  error
}

// benchInfo returns the verified benchmark file (in the page cache: Open
// reads it all to verify it).
func benchInfo(b *testing.B) *benchdata.Info {
	b.Helper()
	benchFile.once.Do(func() {
		benchFile.info, benchFile.err = benchdata.Open(benchFileSize, 1, nil)
	})
	if benchFile.err != nil {
		b.Fatal(benchFile.err)
	}
	return benchFile.info
}

// benchMethod runs method over the whole file b.N times, each time from a
// fresh unbuffered *os.File.
func benchMethod(b *testing.B, method func(f *os.File) (int64, error), countsKeys bool) {
	info := benchInfo(b)
	b.SetBytes(info.FileSize)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f, err := os.Open(info.Path)
		if err != nil {
			b.Fatal(err)
		}
		keys, err := method(f)
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
		if countsKeys && keys != info.Keys {
			b.Fatalf("read %d keys, the file has %d", keys, info.Keys)
		}
	}
	if countsKeys {
		b.ReportMetric(float64(info.Keys)*float64(b.N)/b.Elapsed().Seconds(), "keys/s")
	}
}

func scanFile(f *os.File) (int64, error)    { return benchdata.Scan(f) }
func decodeFile(f *os.File) (int64, error)  { return benchdata.Decode(f) }
func valueFile(f *os.File) (int64, error)   { return benchdata.DecodeEach(f) }
func hdtFile(f *os.File) (int64, error)     { return benchdata.Hdt3213(f) }
func noParseFile(f *os.File) (int64, error) { return benchdata.NoParse(f) }

// BenchmarkScan: Next over every record, touching Key and Raw, no decoding.
func BenchmarkScan(b *testing.B) { benchMethod(b, scanFile, true) }

// BenchmarkDecode: Next, and one Decoder decoding every key.
func BenchmarkDecode(b *testing.B) { benchMethod(b, decodeFile, true) }

// BenchmarkDecodeKeyValue: Next and Key.Value (new memory) for every key.
func BenchmarkDecodeKeyValue(b *testing.B) { benchMethod(b, valueFile, true) }

// BenchmarkHdt3213Decode: github.com/hdt3213/rdb v1.3.2
// core.NewDecoder(f).Parse(cb) (it buffers f itself, 4 KiB).
func BenchmarkHdt3213Decode(b *testing.B) { benchMethod(b, hdtFile, true) }

// BenchmarkNoParse: io.CopyBuffer to io.Discard in 256 KiB reads (rdb.Reader's
// read size): the I/O limit.
func BenchmarkNoParse(b *testing.B) { benchMethod(b, noParseFile, false) }

// BenchmarkScanAllocsPerKey reports the scan's heap allocations per key
// (runtime.MemStats.Mallocs), which should amortise to ~0.
func BenchmarkScanAllocsPerKey(b *testing.B) {
	info := benchInfo(b)
	b.ReportAllocs()
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f, err := os.Open(info.Path)
		if err != nil {
			b.Fatal(err)
		}
		_, err = benchdata.Scan(f)
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(info.Keys*int64(b.N)), "allocs/key")
}

// BenchmarkCRC64 measures the checksum every Reader computes over the whole
// input: a floor under BenchmarkScan's time per byte.
func BenchmarkCRC64(b *testing.B) {
	buf := make([]byte, 256<<10)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	b.SetBytes(int64(len(buf)))
	b.ResetTimer()
	var crc uint64
	for i := 0; i < b.N; i++ {
		crc = rdb.CRC64(crc, buf)
	}
	benchdata.Sink += int(crc)
}
