// Package eventloop runs handler code under one of three concurrency models,
// so the same strategy code can be compared under each:
//
//   - node: one loop goroutine runs every handler and every callback, as
//     Node's main thread does. Work that may block takes one of two paths,
//     named apart as libuv names them: network I/O (Runtime.IO) is started
//     from the loop and completes off it with no limit on how many calls are
//     in flight, as libuv polls sockets with epoll; work for the thread pool
//     (Runtime.Pool: file system, dns, crypto, CPU handed off on purpose)
//     waits for one of --pool goroutines, FIFO, as in libuv's threadpool
//     (UV_THREADPOOL_SIZE, default 4). Either callback is queued back onto
//     the loop. CPU work in a handler blocks every client, and so does the
//     CPU Node itself spends on its thread for each request and each client
//     library call (see Charge in nodecost.go).
//   - go: each request runs in its own goroutine; blocking work blocks only it.
//   - threads: a fixed set of request workers (Apache, servlet containers);
//     each holds its request for its whole life, I/O waits included, so
//     requests beyond the worker count wait for a free one.
//
// Strategies see only Runtime and write Node-style code (fn off the loop,
// callback after); each Model decides where those pieces run.
package eventloop

import (
	"context"
	"fmt"
	"sync"
)

// Runtime is what handler code uses to do work that may block. It has two
// paths, and which one a call takes is the whole difference between a
// model of Node and a model of a thread pool: a socket call (SMTP, Redis,
// IPC, HTTP) takes IO; only what Node itself would put on libuv's thread
// pool takes Pool.
type Runtime interface {
	// IO runs fn, a network call, where blocking is allowed, then cb with its
	// error where handler code runs. Under node fn starts at once on its own
	// goroutine, however many are in flight (a socket in epoll), and cb is
	// queued onto the loop; under go and threads both run on the caller's
	// goroutine, in order.
	IO(fn func() error, cb func(error))
	// Pool runs fn, work Node hands to libuv's thread pool (file writes and
	// fsync, dns.lookup, crypto, CPU moved off the loop on purpose), then cb
	// where handler code runs. Under node fn waits for one of --pool
	// goroutines (FIFO) and cb is queued onto the loop; under go and threads
	// both run on the caller's goroutine, in order.
	Pool(fn func() error, cb func(error))
}

// Model runs handler code for requests.
type Model interface {
	// Name is "node", "go" or "threads".
	Name() string
	// Handle runs h as handler code for one request and returns once h has
	// called done (handler code may go on after done, as Node's does after
	// res.end). If ctx ends first Handle returns ctx.Err(); h still runs.
	Handle(ctx context.Context, h func(rt Runtime, done func())) error
	// Post runs fn where handler code runs, without waiting; the lag monitor
	// measures how late fn starts.
	Post(fn func())
	// Close stops the model's goroutines after queued work has run. Safe to
	// call twice.
	Close()
}

// Config selects and sizes a model.
type Config struct {
	Name    string // "node" (default), "go" or "threads"
	Pool    int    // node: thread pool size (Runtime.Pool); default 4, like libuv's
	Threads int    // threads: request workers; default 16
}

// New returns the model named in cfg.
func New(cfg Config) (Model, error) {
	switch cfg.Name {
	case "", "node":
		if cfg.Pool < 0 {
			return nil, fmt.Errorf("pool %d: must be at least 1", cfg.Pool)
		}
		return NewLoop(cfg.Pool), nil
	case "go":
		return goModel{}, nil
	case "threads":
		if cfg.Threads < 0 {
			return nil, fmt.Errorf("threads %d: must be at least 1", cfg.Threads)
		}
		return NewThreads(cfg.Threads), nil
	default:
		return nil, fmt.Errorf("loop %q: use node, go or threads", cfg.Name)
	}
}

// wait returns when done is closed or ctx ends.
func wait(ctx context.Context, done <-chan struct{}) error {
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// doneFunc returns a done func that is safe to call more than once.
func doneFunc() (func(), <-chan struct{}) {
	ch := make(chan struct{})
	var once sync.Once
	return func() { once.Do(func() { close(ch) }) }, ch
}

// inline runs blocking work on the calling goroutine, whichever path it
// takes: a goroutine or a request thread may block.
type inline struct{}

func (inline) IO(fn func() error, cb func(error))   { cb(fn()) }
func (inline) Pool(fn func() error, cb func(error)) { cb(fn()) }

// goModel gives each request its own goroutine.
type goModel struct{}

func (goModel) Name() string { return "go" }

func (goModel) Handle(ctx context.Context, h func(Runtime, func())) error {
	done, ch := doneFunc()
	go h(inline{}, done) // after done, h may go on without holding the response
	return wait(ctx, ch)
}

func (goModel) Post(fn func()) { go fn() }
func (goModel) Close()         {}
