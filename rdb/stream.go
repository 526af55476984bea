package rdb

import (
	"encoding/binary"
	"fmt"
	"strconv"
)

// StreamID is a stream entry id.
type StreamID struct {
	Ms  uint64
	Seq uint64
}

// String formats the id as Redis does: "ms-seq".
func (id StreamID) String() string {
	return strconv.FormatUint(id.Ms, 10) + "-" + strconv.FormatUint(id.Seq, 10)
}

// Stream is a decoded stream value. Fields that older encodings do not store
// are zero: FirstID, MaxDeletedID and EntriesAdded before type 19
// (Redis 7.0); consumer ActiveTime is -1 before type 21 (Redis 7.2).
type Stream struct {
	Entries      []StreamEntry
	Length       uint64 // number of entries as the file records it
	LastID       StreamID
	FirstID      StreamID
	MaxDeletedID StreamID
	EntriesAdded uint64
	Groups       []StreamGroup
	// IDMP holds the idempotent-producer state of type 26 (Redis 8.6), or nil.
	IDMP *StreamIDMP
}

// StreamIDMP is a stream's idempotent-producer (XADD IDMP) state.
type StreamIDMP struct {
	Duration       uint64 // seconds an IID is remembered
	MaxEntries     uint64
	Producers      []StreamProducer
	IIDsAdded      uint64
	IIDsDuplicates uint64
}

// StreamProducer is one producer's remembered IIDs, oldest first.
type StreamProducer struct {
	PID     []byte
	Entries []StreamIID
}

// StreamIID maps an idempotency id to the entry it added.
type StreamIID struct {
	IID []byte
	ID  StreamID
}

// StreamEntry is one entry: its id and its fields and values, alternating.
type StreamEntry struct {
	ID     StreamID
	Fields [][]byte // field, value, field, value, …
}

// StreamGroup is a consumer group.
type StreamGroup struct {
	Name        []byte
	LastID      StreamID
	EntriesRead int64 // -1 when unknown; 0 before type 19
	Pending     []StreamPending
	Consumers   []StreamConsumer
}

// StreamPending is an entry of a group's pending entries list.
type StreamPending struct {
	ID            StreamID
	DeliveryTime  int64 // unix ms of the last delivery
	DeliveryCount uint64
	Consumer      []byte // the consumer owning it, nil if none claims it
}

// StreamConsumer is a consumer of a group.
type StreamConsumer struct {
	Name       []byte
	SeenTime   int64 // unix ms of the last interaction
	ActiveTime int64 // unix ms of the last successful read (type 21+), or -1
	Pending    []StreamID
}

// Kind implements Value.
func (*Stream) Kind() Kind { return KindStream }

// Flags of a stream listpack entry.
const (
	streamItemDeleted    = 1
	streamItemSameFields = 2
)

func (r *Reader) readStreamID() (StreamID, error) {
	ms, err := r.readLength()
	if err != nil {
		return StreamID{}, err
	}
	seq, err := r.readLength()
	return StreamID{ms, seq}, err
}

func (r *Reader) readRawStreamID() (StreamID, error) {
	b, err := r.readN(16)
	if err != nil {
		return StreamID{}, err
	}
	return StreamID{binary.BigEndian.Uint64(b), binary.BigEndian.Uint64(b[8:])}, nil
}

func (r *Reader) decodeStream(t Type) (Value, error) {
	s := &Stream{}
	nodes, err := r.readCount()
	if err != nil {
		return nil, err
	}
	for i := 0; i < nodes; i++ {
		key, err := r.str()
		if err != nil {
			return nil, err
		}
		if len(key) != 16 {
			return nil, corruptf("stream node %d: master id of %d bytes, want 16", i, len(key))
		}
		master := StreamID{binary.BigEndian.Uint64(key), binary.BigEndian.Uint64(key[8:])}
		lp, err := r.str()
		if err != nil {
			return nil, err
		}
		if s.Entries, err = r.appendStreamNode(s.Entries, master, lp); err != nil {
			return nil, fmt.Errorf("stream node %d (master id %v): %w", i, master, err)
		}
	}
	if s.Length, err = r.readLength(); err != nil {
		return nil, err
	}
	if s.LastID, err = r.readStreamID(); err != nil {
		return nil, err
	}
	if t >= TypeStreamListpacks2 {
		if s.FirstID, err = r.readStreamID(); err != nil {
			return nil, err
		}
		if s.MaxDeletedID, err = r.readStreamID(); err != nil {
			return nil, err
		}
		if s.EntriesAdded, err = r.readLength(); err != nil {
			return nil, err
		}
	}
	groups, err := r.readCount()
	if err != nil {
		return nil, err
	}
	for g := 0; g < groups; g++ {
		grp, err := r.decodeStreamGroup(t)
		if err != nil {
			return nil, fmt.Errorf("consumer group %d: %w", g, err)
		}
		s.Groups = append(s.Groups, grp)
	}
	if t >= TypeStreamListpacks4 {
		if s.IDMP, err = r.decodeStreamIDMP(); err != nil {
			return nil, fmt.Errorf("IDMP data: %w", err)
		}
	}
	return s, nil
}

func (r *Reader) decodeStreamIDMP() (*StreamIDMP, error) {
	m := &StreamIDMP{}
	var err error
	if m.Duration, err = r.readLength(); err != nil {
		return nil, err
	}
	if m.MaxEntries, err = r.readLength(); err != nil {
		return nil, err
	}
	producers, err := r.readCount()
	if err != nil {
		return nil, err
	}
	for p := 0; p < producers; p++ {
		var prod StreamProducer
		if prod.PID, err = r.str(); err != nil {
			return nil, err
		}
		n, err := r.readCount()
		if err != nil {
			return nil, err
		}
		prod.Entries = make([]StreamIID, 0, capHint(n, r.remaining()/3))
		for i := 0; i < n; i++ {
			var e StreamIID
			if e.IID, err = r.str(); err != nil {
				return nil, err
			}
			if e.ID, err = r.readStreamID(); err != nil {
				return nil, err
			}
			prod.Entries = append(prod.Entries, e)
		}
		m.Producers = append(m.Producers, prod)
	}
	if m.IIDsAdded, err = r.readLength(); err != nil {
		return nil, err
	}
	if m.IIDsDuplicates, err = r.readLength(); err != nil {
		return nil, err
	}
	return m, nil
}

func (r *Reader) decodeStreamGroup(t Type) (StreamGroup, error) {
	var g StreamGroup
	var err error
	if g.Name, err = r.str(); err != nil {
		return g, err
	}
	if g.LastID, err = r.readStreamID(); err != nil {
		return g, err
	}
	if t >= TypeStreamListpacks2 {
		v, err := r.readLength()
		if err != nil {
			return g, err
		}
		g.EntriesRead = int64(v)
	}
	n, err := r.readCount()
	if err != nil {
		return g, err
	}
	g.Pending = make([]StreamPending, 0, capHint(n, r.remaining()/25))
	index := make(map[StreamID]int, capHint(n, r.remaining()/25))
	for i := 0; i < n; i++ {
		var p StreamPending
		if p.ID, err = r.readRawStreamID(); err != nil {
			return g, err
		}
		v, err := r.readUint64LE()
		if err != nil {
			return g, err
		}
		p.DeliveryTime = int64(v)
		if p.DeliveryCount, err = r.readLength(); err != nil {
			return g, err
		}
		if _, dup := index[p.ID]; dup {
			return g, corruptf("duplicate pending entry %v", p.ID)
		}
		index[p.ID] = len(g.Pending)
		g.Pending = append(g.Pending, p)
	}
	consumers, err := r.readCount()
	if err != nil {
		return g, err
	}
	for c := 0; c < consumers; c++ {
		cons := StreamConsumer{ActiveTime: -1}
		if cons.Name, err = r.str(); err != nil {
			return g, err
		}
		v, err := r.readUint64LE()
		if err != nil {
			return g, err
		}
		cons.SeenTime = int64(v)
		if t >= TypeStreamListpacks3 {
			if v, err = r.readUint64LE(); err != nil {
				return g, err
			}
			cons.ActiveTime = int64(v)
		}
		n, err := r.readCount()
		if err != nil {
			return g, err
		}
		for i := 0; i < n; i++ {
			id, err := r.readRawStreamID()
			if err != nil {
				return g, err
			}
			j, ok := index[id]
			if !ok {
				return g, corruptf("consumer %q: pending entry %v not in the group's list", cons.Name, id)
			}
			if g.Pending[j].Consumer != nil {
				return g, corruptf("consumer %q: pending entry %v already owned", cons.Name, id)
			}
			g.Pending[j].Consumer = cons.Name
			cons.Pending = append(cons.Pending, id)
		}
		g.Consumers = append(g.Consumers, cons)
	}
	return g, nil
}

// appendStreamNode decodes the live entries of one stream listpack node.
//
// Layout: master entry (count, deleted, n master fields, the fields, 0),
// then per entry: flags, ms delta, seq delta, [n fields and field/value
// pairs | values when SAMEFIELDS], lp-count.
func (r *Reader) appendStreamNode(entries []StreamEntry, master StreamID, lp []byte) ([]StreamEntry, error) {
	items := r.streamItems[:0]
	if _, err := listpackEach(lp, func(_ int, e packedEntry) error {
		items = append(items, e)
		return nil
	}); err != nil {
		return entries, err
	}
	r.streamItems = items
	pos := 0
	next := func(what string) (packedEntry, error) {
		if pos >= len(items) {
			return packedEntry{}, corruptf("listpack ends before the %s (entry %d)", what, pos)
		}
		pos++
		return items[pos-1], nil
	}
	nextInt := func(what string) (int64, error) {
		e, err := next(what)
		if err != nil {
			return 0, err
		}
		if !e.IsInt {
			v, perr := strconv.ParseInt(string(e.Str), 10, 64)
			if perr != nil {
				return 0, corruptf("%s at entry %d is not an integer: %q", what, pos-1, e.Str)
			}
			return v, nil
		}
		return e.Int, nil
	}
	count, err := nextInt("entry count")
	if err != nil {
		return entries, err
	}
	deleted, err := nextInt("deleted count")
	if err != nil {
		return entries, err
	}
	nMaster, err := nextInt("master field count")
	if err != nil {
		return entries, err
	}
	if nMaster < 0 || nMaster > int64(len(items)-pos) || count < 0 || deleted < 0 {
		return entries, corruptf("bad master entry: count %d, deleted %d, fields %d", count, deleted, nMaster)
	}
	masterFields := items[pos : pos+int(nMaster)]
	pos += int(nMaster)
	if z, err := nextInt("master terminator"); err != nil || z != 0 {
		if err == nil {
			err = corruptf("master entry terminator is %d, want 0", z)
		}
		return entries, err
	}
	total := count + deleted
	// The fields of every entry of the node are carved out of one slice.
	all := make([][]byte, 0, len(items))
	for e := int64(0); e < total; e++ {
		flags, err := nextInt("entry flags")
		if err != nil {
			return entries, err
		}
		msDelta, err := nextInt("id ms delta")
		if err != nil {
			return entries, err
		}
		seqDelta, err := nextInt("id seq delta")
		if err != nil {
			return entries, err
		}
		id := StreamID{master.Ms + uint64(msDelta), master.Seq + uint64(seqDelta)}
		start := len(all)
		if flags&streamItemSameFields != 0 {
			for _, f := range masterFields {
				v, err := next("value")
				if err != nil {
					return entries, err
				}
				all = append(all, r.entryBytes(f), r.entryBytes(v))
			}
		} else {
			n, err := nextInt("field count")
			if err != nil {
				return entries, err
			}
			if n < 0 || int(n) > len(items)-pos {
				return entries, corruptf("entry %v: field count %d beyond the node", id, n)
			}
			for i := int64(0); i < 2*n; i++ {
				v, err := next("field or value")
				if err != nil {
					return entries, err
				}
				all = append(all, r.entryBytes(v))
			}
		}
		if _, err := nextInt("lp-count"); err != nil {
			return entries, err
		}
		if flags&streamItemDeleted == 0 {
			entries = append(entries, StreamEntry{ID: id, Fields: all[start:len(all):len(all)]})
		} else {
			all = all[:start]
		}
	}
	if pos != len(items) {
		return entries, corruptf("%d listpack entries after the last stream entry", len(items)-pos)
	}
	return entries, nil
}
