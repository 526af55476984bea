package rdb_test

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"log"

	"github.com/rdbferry/rdbferry/rdb"
)

// snapshot is a file saved by redis-server 7.0 (RDB 10) holding a string
// with an expiration, a list, an intset and a listpack hash.
func snapshot() io.Reader {
	b, err := hex.DecodeString("524544495330303130fa0972656469732d76657206372e302e3135fa0a72656469732d62697473c040fa056374696d65c2c246066bfa08757365642d6d656dc2d0381000fa08616f662d62617365c000fe00fb040112057175657565010210100000000300816102816202816302fffc00d8c32cbb03000000086772656574696e670568656c6c6f0b04746167730e02000000030000000100020003001006757365723a311c1c0000000400846e616d65058341646104846c616e670582476f03ffffc1b0781855035911")
	if err != nil {
		panic(err)
	}
	return bytes.NewReader(b)
}

func ExampleReader() {
	r := rdb.NewReader(snapshot())
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break // the end marker and the checksum have been read and verified
		}
		if err != nil {
			log.Fatal(err)
		}
		switch rec := rec.(type) {
		case *rdb.Aux:
			if rec.Key == "redis-ver" {
				fmt.Println("written by Redis", rec.Value, "in RDB version", r.Version())
			}
		case *rdb.Key:
			fmt.Printf("db %d %s: %v, %d bytes, expires %d\n", rec.DB, rec.Key, rec.Type, len(rec.Raw), rec.ExpireAt)
		}
	}
	// Output:
	// written by Redis 7.0.15 in RDB version 10
	// db 0 queue: list-quicklist2, 19 bytes, expires 0
	// db 0 greeting: string, 6 bytes, expires 4102444800000
	// db 0 tags: set-intset, 15 bytes, expires 0
	// db 0 user:1: hash-listpack, 29 bytes, expires 0
}

func ExampleKey_Value() {
	r := rdb.NewReader(snapshot())
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			log.Fatal(err)
		}
		k, ok := rec.(*rdb.Key)
		if !ok {
			continue
		}
		v, err := k.Value()
		if err != nil {
			log.Fatal(err)
		}
		switch v := v.(type) {
		case rdb.String:
			fmt.Printf("%s = %q\n", k.Key, v)
		case rdb.List:
			fmt.Printf("%s = %q\n", k.Key, v)
		case rdb.Set:
			fmt.Printf("%s = %q\n", k.Key, v)
		case rdb.Hash:
			for _, f := range v {
				fmt.Printf("%s.%s = %q\n", k.Key, f.Field, f.Value)
			}
		}
	}
	// Output:
	// queue = ["a" "b" "c"]
	// greeting = "hello"
	// tags = ["1" "2" "3"]
	// user:1.name = "Ada"
	// user:1.lang = "Go"
}

// Decode every value of a snapshot with one Decoder: each value is used
// before the next is decoded, so their memory is reused instead of
// collected.
func ExampleDecoder() {
	r := rdb.NewReader(snapshot())
	var d rdb.Decoder
	elements := 0
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			log.Fatal(err)
		}
		k, ok := rec.(*rdb.Key)
		if !ok {
			continue
		}
		v, err := d.Decode(k) // valid until the next Decode
		if err != nil {
			log.Fatal(err)
		}
		switch v := v.(type) {
		case rdb.List:
			elements += len(v)
		case rdb.Set:
			elements += len(v)
		case rdb.Hash:
			elements += len(v)
		case rdb.String:
			elements++
		}
	}
	fmt.Println(elements, "elements")
	// Output:
	// 9 elements
}

// Convert a Redis 7.0 snapshot for Redis 6.2 (RDB 9), which reads neither
// listpacks nor quicklists of listpacks, and frame RESTORE payloads.
func ExampleConvert() {
	target, err := rdb.TargetFor(rdb.FlavorRedis, "6.2.14")
	if err != nil {
		log.Fatal(err)
	}
	r := rdb.NewReader(snapshot())
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			log.Fatal(err)
		}
		k, ok := rec.(*rdb.Key)
		if !ok {
			continue
		}
		c, err := rdb.Convert(k, target, rdb.ConvertOptions{}, nil)
		if err != nil {
			log.Fatal(err)
		}
		payload := rdb.AppendDumpPayload(nil, c.Type, c.Raw, target.Version)
		fmt.Printf("%s: %v -> %v (re-encoded %v), %d-byte payload\n", k.Key, k.Type, c.Type, c.Reencoded, len(payload))
	}
	// Output:
	// queue: list-quicklist2 -> list-quicklist (re-encoded true), 33-byte payload
	// greeting: string -> string (re-encoded false), 17-byte payload
	// tags: set-intset -> set-intset (re-encoded false), 26-byte payload
	// user:1: hash-listpack -> hash-ziplist (re-encoded true), 44-byte payload
}

// Rewrite a snapshot as an RDB 9 file that Redis 5.0 to 6.2 (and KeyDB) load.
func ExampleWriter() {
	target := rdb.Target{Flavor: rdb.FlavorRedis, Version: 9}
	var out bytes.Buffer
	w := rdb.NewWriter(&out, rdb.WriterOptions{Version: target.Version})
	r := rdb.NewReader(snapshot())
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			log.Fatal(err)
		}
		if k, ok := rec.(*rdb.Key); ok {
			c, err := rdb.Convert(k, target, rdb.ConvertOptions{}, nil)
			if err != nil {
				log.Fatal(err)
			}
			k.Type, k.Raw = c.Type, c.Raw
		}
		if err := w.WriteRecord(rec); err != nil {
			log.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%q\n", out.Bytes()[:9])
	// Output: "REDIS0009"
}
