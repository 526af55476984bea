package restore

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rdbferry/rdbferry/internal/keyslot"
	"github.com/rdbferry/rdbferry/internal/rdbtest"
	"github.com/rdbferry/rdbferry/internal/redistest"
	"github.com/rdbferry/rdbferry/rdb"
)

func parseInfo(s string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			m[k] = v
		}
	}
	return m
}

// migrateSlots moves slots from src to dst the way redis-cli --cluster
// reshard does, a batch at a time: IMPORTING on dst and MIGRATING on src
// for each slot, a pause (writes to the slots meet ASK), MIGRATE of the
// slots' keys in batches, then SETSLOT NODE on dst, src and every other
// node. It returns the number of keys moved.
func migrateSlots(slots []int, src, dst *redistest.Server, srcID, dstID string, all []*redistest.Server) (int, error) {
	do := func(n *redistest.Server, args ...string) (any, error) {
		v, err := n.Do(args...)
		if err != nil {
			return nil, fmt.Errorf("%s %q: %w", n.Addr(), args, err)
		}
		return v, nil
	}
	for _, slot := range slots {
		s := strconv.Itoa(slot)
		if _, err := do(dst, "CLUSTER", "SETSLOT", s, "IMPORTING", srcID); err != nil {
			return 0, err
		}
		if _, err := do(src, "CLUSTER", "SETSLOT", s, "MIGRATING", dstID); err != nil {
			return 0, err
		}
	}
	time.Sleep(20 * time.Millisecond)
	moved := 0
	for _, slot := range slots {
		for {
			v, err := do(src, "CLUSTER", "GETKEYSINSLOT", strconv.Itoa(slot), "50")
			if err != nil {
				return moved, err
			}
			keys, _ := v.([]any)
			if len(keys) == 0 {
				break
			}
			args := []string{"MIGRATE", "127.0.0.1", strconv.Itoa(dst.Port()), "", "0", "5000", "KEYS"}
			for _, k := range keys {
				args = append(args, string(k.([]byte)))
			}
			// No REPLACE: a key on both nodes would be a duplicate, and fails.
			if _, err := do(src, args...); err != nil {
				return moved, err
			}
			moved += len(keys)
		}
	}
	order := []*redistest.Server{dst, src}
	for _, n := range all {
		if n != src && n != dst {
			order = append(order, n)
		}
	}
	for _, slot := range slots {
		for _, n := range order {
			if _, err := do(n, "CLUSTER", "SETSLOT", strconv.Itoa(slot), "NODE", dstID); err != nil {
				return moved, err
			}
		}
	}
	return moved, nil
}

// TestReshardWhileWriting writes 30 000 keys into a 3-master cluster while
// 300 slots move from the first master to the second: the Writer follows
// the ASK and MOVED redirections, and the union of the nodes equals the
// source, each key once, on the node that serves its slot.
func TestReshardWhileWriting(t *testing.T) {
	d := newDataset(t, 30000, "rs:", nil)
	cluster := redistest.StartCluster(t, 3)
	nodes := cluster.Nodes()
	ids := make([]string, len(nodes))
	for i, n := range nodes {
		ids[i] = string(n.MustDo(t, "CLUSTER", "MYID").([]byte))
	}
	src, dst := nodes[0], nodes[1]
	const firstSlot, numSlots, batch = 2000, 300, 20 // owned by nodes[0] (0-5460)
	if cluster.NodeForSlot(firstSlot) != src || cluster.NodeForSlot(firstSlot+numSlots-1) != src {
		t.Fatal("unexpected slot map")
	}

	before := runtime.NumGoroutine()
	w, err := Dial(context.Background(), nodes[2].URL(), Options{Existing: ExistingFail, RetryBackoff: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}

	// The migration starts once a fifth of the keys are queued; from then
	// on the writes do not run ahead of it, so that keys of every migrated
	// slot arrive before, during and after its move.
	var slotsDone, keysMoved atomic.Int64
	migrated := make(chan error, 1)
	startAt := d.keys / 5
	ctx := context.Background()
	i := 0
	start := time.Now()
	d.each(t, func(k *rdb.Key) {
		if i == startAt {
			go func() {
				for s := firstSlot; s < firstSlot+numSlots; s += batch {
					var slots []int
					for i := s; i < s+batch && i < firstSlot+numSlots; i++ {
						slots = append(slots, i)
					}
					n, err := migrateSlots(slots, src, dst, ids[0], ids[1], nodes)
					keysMoved.Add(int64(n))
					if err != nil {
						migrated <- fmt.Errorf("slots %d-%d: %w", slots[0], slots[len(slots)-1], err)
						return
					}
					slotsDone.Add(int64(len(slots)))
				}
				migrated <- nil
			}()
		}
		if i > startAt {
			share := float64(i-startAt) / float64(d.keys-startAt)
			for slotsDone.Load() < numSlots && share*numSlots > float64(slotsDone.Load()+batch) {
				time.Sleep(100 * time.Microsecond)
			}
		}
		i++
		if err := w.Write(ctx, k); err != nil {
			t.Fatalf("Write %q: %v", k.Key, err)
		}
	})
	if err := <-migrated; err != nil {
		t.Fatal(err)
	}
	st, err := w.Close(ctx)
	t.Logf("%v: %d keys moved by MIGRATE; stats %+v", time.Since(start), keysMoved.Load(), st)
	if err != nil {
		t.Fatalf("Close: %v", err)
	}
	if st.Written != int64(d.keys) || st.Failed != 0 || st.Retries == 0 {
		t.Errorf("stats %+v: want %d written, none failed, some redirections; failures %v", st, d.keys, w.Failures())
	}
	if keysMoved.Load() == 0 {
		t.Errorf("MIGRATE moved no key: the writes did not overlap the move")
	}
	waitGoroutines(t, before)
	asking := parseInfo(string(dst.MustDo(t, "INFO", "commandstats").([]byte)))["cmdstat_asking"]
	t.Logf("ASKING on the importing node: %s", asking)
	if asking == "" {
		t.Errorf("no ASK redirection followed")
	}

	// Every node agrees on the new owner of the migrated slots.
	for _, n := range nodes {
		for _, s := range []int{firstSlot, firstSlot + numSlots - 1} {
			v := n.MustDo(t, "CLUSTER", "SLOTS")
			owner := ""
			for _, r := range v.([]any) {
				e := r.([]any)
				if int(e[0].(int64)) <= s && s <= int(e[1].(int64)) {
					owner = strconv.FormatInt(e[2].([]any)[1].(int64), 10)
				}
			}
			if owner != strconv.Itoa(dst.Port()) {
				t.Fatalf("%s: slot %d served by port %s, want %d", n.Addr(), s, owner, dst.Port())
			}
		}
	}

	// The union of the nodes, each key once and where its slot lives.
	// MIGRATE carries a TTL relative to its own clock, so the keys it moved
	// may expire a few milliseconds later than the source says.
	want := d.want(t)
	got := map[string]rdbtest.Entry{}
	for _, n := range nodes {
		for k, e := range serverContents(t, n, true) {
			if _, dup := got[k]; dup {
				t.Errorf("key %q on two nodes", k)
			}
			got[k] = e
			name := strings.TrimPrefix(k, "0/")
			slot := keyslot.SlotString(name)
			owner := cluster.NodeForSlot(slot)
			if slot >= firstSlot && slot < firstSlot+numSlots {
				owner = dst
			}
			if owner != n {
				t.Errorf("key %q (slot %d) on %s, which does not serve its slot", name, slot, n.Addr())
			}
			if w, ok := want[k]; ok && owner == dst && slot >= firstSlot && e.ExpireAt != w.ExpireAt &&
				w.ExpireAt != 0 && e.ExpireAt-w.ExpireAt >= -1000 && e.ExpireAt-w.ExpireAt <= 1000 {
				e.ExpireAt = w.ExpireAt
				got[k] = e
			}
		}
	}
	rdbtest.Compare(t, got, want)
}
