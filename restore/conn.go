package restore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/rdbferry/rdbferry/internal/resp"
	"github.com/rdbferry/rdbferry/internal/server"
)

// conn is one pipelined connection to a node. A sender goroutine writes
// queued jobs and flushes when the queue runs dry; a receiver goroutine per
// network connection reads the replies in order and completes jobs. When
// the network connection breaks, every job sent but not acknowledged goes
// back to the front of the queue, and the sender dials again.
type conn struct {
	w    *Writer
	node *node

	mu       sync.Mutex
	wake     chan struct{}
	queue    []*job
	inflight []*job // sent, in order; selectJob marks a SELECT
	nc       net.Conn
	rw       *resp.Writer
	gen      int // network connection generation
	db       int // database selected on nc
	closing  bool
	failures int // failed dials in a row
	pending  int // entries at the end of inflight written to rw but not flushed
}

// lowLocked reports whether the server is running short of commands: few of
// those in flight have been flushed to it. The sender holds small writes
// back while the server has enough to do, so that it gets them in large
// segments rather than one key per packet (a server spends much of its time
// per read and reply write, not per command). c.mu is held.
func (c *conn) lowLocked() bool {
	return len(c.inflight)-c.pending <= c.w.opts.Pipeline/4
}

func newConn(w *Writer, n *node) *conn {
	return &conn{w: w, node: n, wake: make(chan struct{}, 1)}
}

func (c *conn) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// enqueue adds a job to the queue.
func (c *conn) enqueue(j *job) {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		c.w.fail(j, Failure{DB: j.db, Key: j.key, Node: c.node.addr, Err: errors.New("restore: the Writer was closed before the key was acknowledged")})
		return
	}
	c.queue = append(c.queue, j)
	c.mu.Unlock()
	c.signal()
}

// run is the sender goroutine.
func (c *conn) run() {
	defer c.w.wg.Done()
	var writes []*job
	var asking []bool // per entry of writes, read under c.mu: broken may reset the job meanwhile
	for {
		c.mu.Lock()
		for len(c.queue) == 0 && !c.closing && !(c.pending > 0 && c.nc != nil && c.lowLocked()) {
			c.mu.Unlock()
			select {
			case <-c.wake:
			case <-c.w.ctx.Done():
				// The Writer is closing (Close fails what is left through
				// shutdown) or Dial gave up: a closed Done would make this
				// loop spin.
				return
			}
			c.mu.Lock()
		}
		if c.closing {
			c.mu.Unlock()
			return
		}
		if c.nc == nil {
			c.mu.Unlock()
			c.connect()
			continue
		}
		// Move the queue to the in-flight list before writing: replies may
		// come back before the writes return.
		clear(writes) // drop the last batch's jobs: they may be acknowledged already
		writes, asking = writes[:0], asking[:0]
		for _, j := range c.queue {
			if j.db != c.db {
				c.inflight = append(c.inflight, selectJob)
				writes = append(writes, &job{db: j.db, renameIdx: -1}) // SELECT marker for the writer below
				asking = append(asking, false)
				c.db = j.db
			}
			j.asking = j.askAddr != ""
			j.askAddr = ""
			j.sent++
			j.node = c.node.addr
			c.inflight = append(c.inflight, j)
			writes = append(writes, j)
			asking = append(asking, j.asking)
		}
		clear(c.queue)
		c.queue = c.queue[:0]
		c.pending += len(writes)
		rw, gen := c.rw, c.gen
		c.mu.Unlock()

		var err error
		for wi, j := range writes {
			if j.ends == nil { // SELECT
				err = rw.WriteCommandStrings("SELECT", strconv.Itoa(j.db))
			} else {
				for i := range j.ends {
					if asking[wi] {
						if err = rw.WriteCommandStrings("ASKING"); err != nil {
							break
						}
					}
					if _, err = rw.Write(j.command(i)); err != nil {
						break
					}
				}
			}
			if err != nil {
				break
			}
		}
		if err == nil {
			// Flush once the queue is drained, unless the server still has
			// plenty to do: then more keys may join this segment, and the
			// receiver wakes the sender when the server runs short.
			c.mu.Lock()
			flush := len(c.queue) == 0 && (c.gen != gen || c.lowLocked())
			if flush {
				c.pending = 0
			}
			c.mu.Unlock()
			if flush {
				err = rw.Flush()
			}
		}
		if err != nil {
			c.broken(gen, err)
		}
	}
}

// connect dials the node, retrying with backoff; after MaxRetries failures
// in a row the jobs queued here fail and the Writer stops.
func (c *conn) connect() {
	w := c.w
	ctx, cancel := context.WithTimeout(w.ctx, w.opts.DialTimeout)
	sc, err := server.Connect(ctx, w.ep, c.node.addr, serverOptions(&w.opts))
	var (
		nc net.Conn
		rw *resp.Writer
		rd *resp.Reader
	)
	if err == nil {
		nc, rw, rd = sc.NC, sc.W, sc.R
	}
	cancel()
	c.mu.Lock()
	if err != nil {
		c.failures++
		failures := c.failures
		if failures > w.opts.MaxRetries || w.ctx.Err() != nil {
			jobs := c.queue
			c.queue = nil
			c.mu.Unlock()
			err = fmt.Errorf("restore: connecting to %s: %w (%d attempts)", c.node.addr, err, failures)
			if w.ctx.Err() == nil {
				w.setFatal(err)
			}
			for _, j := range jobs {
				w.fail(j, Failure{DB: j.db, Key: j.key, Node: c.node.addr, Err: err})
			}
			return
		}
		c.mu.Unlock()
		delay := w.opts.RetryBackoff << (failures - 1)
		if delay > 2*time.Second || delay <= 0 {
			delay = 2 * time.Second
		}
		select {
		case <-time.After(delay):
		case <-w.ctx.Done():
		}
		return
	}
	if c.closing {
		c.mu.Unlock()
		nc.Close()
		return
	}
	c.failures = 0
	c.nc, c.rw, c.db, c.pending = nc, rw, 0, 0
	c.gen++
	gen := c.gen
	w.wg.Add(1)
	c.mu.Unlock()
	go c.receive(nc, rd, gen)
}

// receive is the receiver goroutine of one network connection.
func (c *conn) receive(nc net.Conn, rd *resp.Reader, gen int) {
	defer c.w.wg.Done()
	timeout := c.w.opts.ReplyTimeout
	var armed time.Time // when the read deadline was last pushed back
	for {
		// A connection with commands outstanding and no reply for a whole
		// ReplyTimeout is dead (a network that drops without closing, a
		// stuck server): break it, so they are sent again on a new one.
		if now := time.Now(); now.Sub(armed) > timeout/8 {
			nc.SetReadDeadline(now.Add(timeout))
			armed = now
		}
		x, err := rd.ReadReply()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				c.mu.Lock()
				idle := c.gen == gen && len(c.inflight) == 0
				c.mu.Unlock()
				if idle {
					armed = time.Time{} // nothing was awaited: keep waiting
					continue
				}
				err = fmt.Errorf("no reply from %s for %v: %w", c.node.addr, timeout, err)
			}
			c.broken(gen, err)
			return
		}
		c.mu.Lock()
		if c.gen != gen {
			c.mu.Unlock()
			return
		}
		if len(c.inflight) == 0 {
			c.mu.Unlock()
			c.broken(gen, fmt.Errorf("unexpected reply from %s with nothing in flight: %v", c.node.addr, x))
			return
		}
		j := c.inflight[0]
		if j == selectJob {
			c.inflight[0] = nil // the array must not keep acknowledged jobs (and their buffers) alive
			c.inflight = c.inflight[1:]
			wake := c.pending > 0 && c.lowLocked()
			c.mu.Unlock()
			if wake {
				c.signal()
			}
			if e := serverError(x); e != nil {
				// Commands pipelined after a failed SELECT would land in
				// another database: stop.
				c.w.setFatal(fmt.Errorf("restore: SELECT on %s: %w", c.node.addr, e))
				c.broken(gen, e)
				return
			}
			continue
		}
		done := j.onReply(x)
		wake := false
		if done {
			c.inflight[0] = nil // the array must not keep acknowledged jobs (and their buffers) alive
			c.inflight = c.inflight[1:]
			wake = c.pending > 0 && c.lowLocked()
		}
		c.mu.Unlock()
		if wake {
			c.signal()
		}
		if done {
			c.w.finish(j)
		}
	}
}

// broken closes network connection gen and requeues its unacknowledged jobs.
func (c *conn) broken(gen int, cause error) {
	c.mu.Lock()
	if c.gen != gen || c.nc == nil {
		c.mu.Unlock()
		return
	}
	nc := c.nc
	c.nc, c.rw = nil, nil
	c.gen++
	var requeue []*job
	for _, j := range c.inflight {
		if j != selectJob {
			j.reset()
			requeue = append(requeue, j)
		}
	}
	c.inflight = nil
	c.pending = 0
	closing := c.closing
	if !closing {
		c.queue = append(requeue, c.queue...)
	}
	c.mu.Unlock()
	nc.Close() // outside c.mu: closing a TLS connection may write, up to its deadline
	if closing {
		for _, j := range requeue {
			c.w.fail(j, Failure{DB: j.db, Key: j.key, Node: c.node.addr, Err: fmt.Errorf("restore: not acknowledged before the Writer closed: %v", cause)})
		}
		return
	}
	c.w.stats.reconnects.Add(1)
	if len(requeue) > 0 {
		c.w.stats.retries.Add(int64(len(requeue)))
	}
	c.signal()
}

// shutdown stops the connection; jobs still queued or in flight fail.
func (c *conn) shutdown() {
	c.mu.Lock()
	c.closing = true
	jobs := c.queue
	c.queue = nil
	for _, j := range c.inflight {
		if j != selectJob {
			jobs = append(jobs, j)
		}
	}
	c.inflight = nil
	nc := c.nc
	if nc != nil {
		c.nc = nil
		c.gen++
	}
	c.mu.Unlock()
	if nc != nil {
		nc.Close() // outside c.mu, as in broken
	}
	c.signal()
	for _, j := range jobs {
		c.w.fail(j, Failure{DB: j.db, Key: j.key, Node: c.node.addr, Err: errors.New("restore: not acknowledged before the Writer closed")})
	}
}
