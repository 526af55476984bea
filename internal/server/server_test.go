package server

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/rdbferry/rdbferry/internal/redistest"
	"github.com/rdbferry/rdbferry/internal/resp"
	"github.com/rdbferry/rdbferry/rdb"
)

func TestParseURL(t *testing.T) {
	for raw, want := range map[string]string{
		"redis://h":                 "h:6379 tls=false variant= auth=false user= pass= db=0/false",
		"rediss+scan://u:p@h:7/3":   "h:7 tls=true variant=scan auth=true user=u pass=p db=3/true",
		"redis://secret@[::1]:6380": "[::1]:6380 tls=false variant= auth=true user= pass=secret db=0/false",
	} {
		e, err := ParseURL(raw)
		got := fmt.Sprintf("%s tls=%v variant=%s auth=%v user=%s pass=%s db=%d/%v", e.Addr, e.TLS, e.Variant, e.HasAuth, e.Username, e.Password, e.DB, e.HasDB)
		if err != nil || got != want {
			t.Errorf("ParseURL(%q) = %s, %v; want %s", raw, got, err, want)
		}
	}
	for _, raw := range []string{"http://h", "redis://", "redis://h/x", "redis://h/-1", ":"} {
		if _, err := ParseURL(raw); err == nil {
			t.Errorf("ParseURL(%q) accepted", raw)
		}
	}
	if _, err := ParseURL("redis://u:hunter2@h/x"); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error leaks the password: %v", err)
	}
}

func TestClusterReplies(t *testing.T) {
	ep, err := ParseURL("rediss+scan://u:p@seed.example:7000")
	if err != nil {
		t.Fatal(err)
	}
	str := func(s string) resp.Reply { return resp.Reply{Kind: resp.Bulk, Str: []byte(s)} }
	num := func(n int64) resp.Reply { return resp.Reply{Kind: resp.Int, Int: n} }
	arr := func(e ...resp.Reply) resp.Reply { return resp.Reply{Kind: resp.Array, Elems: e} }
	node := func(ip, endpoint string, port, tlsPort int64, role, health string) resp.Reply {
		return arr(str("id"), str("x"), str("port"), num(port), str("tls-port"), num(tlsPort), str("ip"), str(ip),
			str("endpoint"), str(endpoint), str("role"), str(role), str("health"), str(health))
	}
	shards := arr(
		arr(str("slots"), arr(num(10923), num(16383)), str("nodes"), arr(
			node("10.0.0.3", "node3.example", 0, 6380, "master", "online"),
			node("10.0.0.4", "node4.example", 0, 6380, "replica", "online"))),
		arr(str("slots"), arr(num(5461), num(10922), num(0), num(100)), str("nodes"), arr(
			node("10.0.0.2", "?", 6379, 6380, "master", "online"))),
		arr(str("slots"), arr(), str("nodes"), arr(node("10.0.0.9", "", 6379, 0, "master", "online"))),
	)
	ranges, err := ShardRanges(shards, ep)
	if want := "[10.0.0.2:6380 node3.example:6380]"; err != nil || fmt.Sprint(Masters(ranges)) != want || len(ranges) != 3 {
		t.Errorf("SHARDS: %v, %v; want masters %s", ranges, err, want)
	}
	slots := arr(
		arr(num(5461), num(10922), arr(str("10.0.0.2"), num(7001), str("id2")), arr(str("10.0.0.5"), num(7004), str("id5"))),
		arr(num(0), num(5460), arr(str(""), num(7000), str("id1"))),
		arr(num(10923), num(16383), arr(str("?"), num(7002), str("id3"))),
	)
	ranges, err = SlotsRanges(slots, ep)
	if want := "[seed.example:7000 10.0.0.2:7001 seed.example:7002]"; err != nil || fmt.Sprint(Masters(ranges)) != want {
		t.Errorf("SLOTS: %v, %v; want %s", ranges, err, want)
	}
	if _, err := SlotsRanges(arr(arr(num(0))), ep); err == nil {
		t.Error("malformed SLOTS accepted")
	}
	failed := arr(arr(str("slots"), arr(num(0), num(16383)), str("nodes"), arr(node("10.0.0.1", "", 6379, 0, "master", "fail"))))
	if _, err := ShardRanges(failed, ep); err == nil {
		t.Error("a shard without a healthy master accepted")
	}
}

func TestDetectAndSlots(t *testing.T) {
	srv := redistest.Start(t, redistest.Config("requirepass", "pw"))
	ep, err := ParseURL(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	c, err := Connect(context.Background(), ep, ep.Addr, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	info, err := c.Detect(context.Background())
	if err != nil || info.Flavor != rdb.FlavorRedis || info.Release != srv.Version() || info.Cluster {
		t.Fatalf("Detect = %+v, %v", info, err)
	}
	if _, err := c.Slots(context.Background(), ep); err != ErrNotCluster {
		t.Errorf("Slots on a standalone server: %v", err)
	}
	ep.Password = "wrong"
	if _, err := Connect(context.Background(), ep, ep.Addr, Options{}); err == nil || !strings.Contains(err.Error(), "AUTH") {
		t.Errorf("wrong password: %v", err)
	}

	cluster := redistest.StartCluster(t, 3)
	cep, _ := ParseURL(cluster.Nodes()[2].URL())
	cc, err := Connect(context.Background(), cep, cep.Addr, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ranges, err := cc.Slots(context.Background(), cep)
	if err != nil || len(Masters(ranges)) != 3 {
		t.Fatalf("Slots = %v, %v", ranges, err)
	}
	covered := 0
	for _, r := range ranges {
		covered += r.Last - r.First + 1
	}
	if covered != 16384 {
		t.Errorf("%d slots covered", covered)
	}
}
