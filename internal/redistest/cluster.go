package redistest

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/rdbferry/rdbferry/internal/keyslot"
)

// NumSlots is the number of hash slots of a Redis cluster.
const NumSlots = keyslot.NumSlots

// Cluster is a Redis cluster of masters without replicas, started by
// [StartCluster].
type Cluster struct {
	nodes []*Server
	first []int // node i owns slots first[i] .. first[i+1]-1
}

// StartCluster starts masters redis-server processes with cluster-enabled
// (each with its own nodes.conf in its directory and its bus on port+10000),
// joins them with CLUSTER MEET, splits the 16384 slots evenly into one
// contiguous range per node (in node order, the same ranges as redis-cli
// --cluster create: 0-5460, 5461-10922, 10923-16383 for three) and returns once every node reports cluster_state:ok, knows all nodes
// and shows the same slot map in CLUSTER SLOTS. Options apply to every node;
// [WithRDB] is not supported.
func StartCluster(t testing.TB, masters int, opts ...Option) *Cluster {
	t.Helper()
	if masters < 1 || masters > NumSlots {
		t.Fatalf("redistest: StartCluster: %d masters", masters)
	}
	o := newOptions(opts)
	if o.rdb != "" {
		t.Fatalf("redistest: StartCluster: WithRDB is not supported")
	}
	extra := [][]string{
		{"cluster-enabled", "yes"},
		{"cluster-config-file", "nodes.conf"},
	}
	c := &Cluster{}
	for i := 0; i < masters; i++ {
		c.nodes = append(c.nodes, start(t, o, extra, true))
		c.first = append(c.first, (2*i*NumSlots+masters)/(2*masters)) // round(i*16384/masters)
	}
	c.first = append(c.first, NumSlots)

	// Distinct config epochs up front spare the nodes a collision round.
	// Best effort: the command is refused once a node knows others.
	for i, n := range c.nodes {
		_, _ = n.Do("CLUSTER", "SET-CONFIG-EPOCH", strconv.Itoa(i+1))
	}
	for _, n := range c.nodes[1:] {
		c.nodes[0].MustDo(t, "CLUSTER", "MEET", "127.0.0.1", strconv.Itoa(n.port))
	}
	for i, n := range c.nodes {
		lo, hi := c.first[i], c.first[i+1]-1
		_, err := n.Do("CLUSTER", "ADDSLOTSRANGE", strconv.Itoa(lo), strconv.Itoa(hi))
		if err != nil && strings.Contains(strings.ToLower(err.Error()), "unknown subcommand") {
			// Before Redis 7.0: one argument per slot.
			args := []string{"CLUSTER", "ADDSLOTS"}
			for s := lo; s <= hi; s++ {
				args = append(args, strconv.Itoa(s))
			}
			_, err = n.Do(args...)
		}
		if err != nil {
			t.Fatalf("redistest: %s: assigning slots %d-%d: %v", n.Addr(), lo, hi, err)
		}
	}

	timeout := 3 * o.timeout
	err := poll(timeout, func() (bool, error) {
		for _, n := range c.nodes {
			if err := c.check(n); err != nil {
				return false, err
			}
		}
		return true, nil
	})
	if err != nil {
		var b strings.Builder
		for _, n := range c.nodes {
			v, _ := n.Do("CLUSTER", "NODES")
			fmt.Fprintf(&b, "--- CLUSTER NODES on %s:\n%s", n.Addr(), asString(v))
		}
		t.Fatalf("redistest: cluster of %d not ready within %v: %v\n%s", masters, timeout, err, b.String())
	}
	return c
}

// check returns nil when n reports cluster_state:ok, knows every node and
// shows the expected slot map.
func (c *Cluster) check(n *Server) error {
	info, err := n.Do("CLUSTER", "INFO")
	if err != nil {
		return fmt.Errorf("%s: CLUSTER INFO: %w", n.Addr(), err)
	}
	m := parseInfo(asBytes(info))
	want := map[string]string{
		"cluster_state":          "ok",
		"cluster_known_nodes":    strconv.Itoa(len(c.nodes)),
		"cluster_slots_assigned": strconv.Itoa(NumSlots),
		"cluster_slots_ok":       strconv.Itoa(NumSlots),
	}
	for k, v := range want {
		if m[k] != v {
			return fmt.Errorf("%s: %s:%s, want %s", n.Addr(), k, m[k], v)
		}
	}
	v, err := n.Do("CLUSTER", "SLOTS")
	if err != nil {
		return fmt.Errorf("%s: CLUSTER SLOTS: %w", n.Addr(), err)
	}
	ranges, _ := v.([]any)
	if len(ranges) != len(c.nodes) {
		return fmt.Errorf("%s: CLUSTER SLOTS has %d ranges, want %d", n.Addr(), len(ranges), len(c.nodes))
	}
	seen := make(map[int]bool)
	for _, r := range ranges {
		e, _ := r.([]any)
		if len(e) < 3 {
			return fmt.Errorf("%s: CLUSTER SLOTS: malformed entry %v", n.Addr(), r)
		}
		lo, _ := e[0].(int64)
		hi, _ := e[1].(int64)
		master, _ := e[2].([]any)
		if len(master) < 2 {
			return fmt.Errorf("%s: CLUSTER SLOTS: malformed entry %v", n.Addr(), r)
		}
		port, _ := master[1].(int64)
		owner := c.NodeForSlot(int(lo))
		if owner == nil || int64(owner.port) != port || c.first[c.index(owner)] != int(lo) ||
			c.first[c.index(owner)+1]-1 != int(hi) || seen[owner.port] {
			return fmt.Errorf("%s: CLUSTER SLOTS shows %d-%d on port %d, which is not the assigned map", n.Addr(), lo, hi, port)
		}
		seen[owner.port] = true
	}
	return nil
}

func (c *Cluster) index(n *Server) int {
	for i, m := range c.nodes {
		if m == n {
			return i
		}
	}
	return -1
}

// Nodes returns the cluster's nodes, in the order of their slot ranges.
func (c *Cluster) Nodes() []*Server { return append([]*Server(nil), c.nodes...) }

// Addrs returns the nodes' addresses ("127.0.0.1:port"), in the order of
// Nodes.
func (c *Cluster) Addrs() []string {
	addrs := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		addrs[i] = n.Addr()
	}
	return addrs
}

// NodeForSlot returns the node that owns slot (as assigned by StartCluster),
// or nil when slot is outside 0..16383.
func (c *Cluster) NodeForSlot(slot int) *Server {
	if slot < 0 || slot >= NumSlots {
		return nil
	}
	for i := range c.nodes {
		if slot < c.first[i+1] {
			return c.nodes[i]
		}
	}
	return nil
}

// NodeForKey returns the node that owns key's hash slot (see keyslot.Slot).
func (c *Cluster) NodeForKey(key string) *Server { return c.NodeForSlot(keyslot.SlotString(key)) }

// Stop stops every node (the test's cleanup does this too).
func (c *Cluster) Stop() {
	for i := len(c.nodes) - 1; i >= 0; i-- {
		c.nodes[i].Stop()
	}
}

func asBytes(v any) []byte {
	switch v := v.(type) {
	case []byte:
		return v
	case string:
		return []byte(v)
	}
	return nil
}

func asString(v any) string { return string(asBytes(v)) }
