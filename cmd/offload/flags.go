package main

import (
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/offload/offload/internal/cli"
	"github.com/offload/offload/internal/httpapi"
	"github.com/offload/offload/strategies"
	"github.com/offload/offload/strategies/catalog"
)

// strategyFlags are the flags serve, work and run share: which strategy,
// and where its broker and mail server are. A strategy's own flags are
// registered by its catalog entry (WebFlags, Worker, Run).
type strategyFlags struct {
	strategy  string
	redis     string
	smtp      string
	transport string
	zmq       string
	durable   string
}

func (f *strategyFlags) register(fs *flag.FlagSet, smtpDefault string) {
	fs.StringVar(&f.strategy, "strategy", "", "strategy: "+strings.Join(catalog.Names(), ", "))
	fs.StringVar(&f.redis, "redis", "", "Redis URL, e.g. redis://127.0.0.1:6379/0 (also REDIS_URL)")
	fs.StringVar(&f.smtp, "smtp", smtpDefault, "SMTP server host:port that mail is sent to")
	fs.StringVar(&f.transport, "transport", "redis", "transport, for strategies that offer two (pubsub): redis or zmq")
	fs.StringVar(&f.zmq, "zmq", "tcp://127.0.0.1:5557", "zmq endpoint: the web side binds it, workers connect")
	fs.StringVar(&f.durable, "durable", "none", "for strategies that store jobs in Redis: none (202 once the master has the job) or wait (202 once a replica has it too: WAIT 1)")
}

// validate checks what can be checked without connecting; every error is a
// UsageError naming the flag.
func (f *strategyFlags) validate() (catalog.Entry, error) {
	if f.strategy == "" {
		return catalog.Entry{}, cli.Usagef("--strategy is required: use one of %s", strings.Join(catalog.Names(), ", "))
	}
	e, err := catalog.Lookup(f.strategy)
	if err != nil {
		return catalog.Entry{}, cli.Usage(err)
	}
	if f.redis != "" {
		if err := checkRedisURL(f.redis); err != nil {
			return catalog.Entry{}, cli.Usagef("--redis %q: %v", f.redis, err)
		}
	}
	if f.smtp != "" {
		if _, _, err := net.SplitHostPort(f.smtp); err != nil {
			return catalog.Entry{}, cli.Usagef("--smtp %q: want host:port: %v", f.smtp, err)
		}
	}
	switch f.transport {
	case "redis", "zmq":
	default:
		return catalog.Entry{}, cli.Usagef("--transport %q: use redis or zmq", f.transport)
	}
	switch {
	case f.durable != "none" && f.durable != "wait":
		return catalog.Entry{}, cli.Usagef("--durable %q: use none or wait", f.durable)
	case f.durable == "wait" && !e.Durable:
		return catalog.Entry{}, cli.Usagef("--durable wait: %s does not store jobs in Redis; it applies to %s", f.strategy, strings.Join(catalog.Durable(), " and "))
	}
	return e, nil
}

// preselect finds --strategy in args (or OFFLOAD_STRATEGY) before the full
// parse, for commands whose other flags depend on the strategy.
func (f *strategyFlags) preselect(args []string) (catalog.Entry, error) {
	name := os.Getenv(cli.EnvName("strategy"))
	for i, a := range args {
		switch {
		case a == "--strategy" || a == "-strategy":
			if i+1 < len(args) {
				name = args[i+1]
			}
		case strings.HasPrefix(a, "--strategy="), strings.HasPrefix(a, "-strategy="):
			name = a[strings.Index(a, "=")+1:]
		}
	}
	f.strategy = name
	if name == "" {
		return catalog.Entry{}, cli.Usagef("--strategy is required: use one of %s", strings.Join(catalog.Names(), ", "))
	}
	e, err := catalog.Lookup(name)
	return e, cli.Usage(err)
}

func checkRedisURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "unix" {
		return fmt.Errorf("scheme %q: want redis://host:port/db", u.Scheme)
	}
	if u.Scheme != "unix" && u.Host == "" {
		return fmt.Errorf("no host: want redis://host:port/db")
	}
	return nil
}

func (f *strategyFlags) config() strategies.Config {
	return strategies.Config{
		SMTPAddr:    f.smtp,
		RedisURL:    f.redis,
		Transport:   f.transport,
		ZMQEndpoint: f.zmq,
		Durable:     f.durable,
	}
}

func (f *strategyFlags) workConfig() strategies.WorkConfig {
	return strategies.WorkConfig{
		SMTPAddr:    f.smtp,
		RedisURL:    f.redis,
		Transport:   f.transport,
		ZMQEndpoint: f.zmq,
		Durable:     f.durable,
	}
}

// args renders the flags back into a command line for a child process.
func (f *strategyFlags) args() []string {
	a := []string{"--strategy", f.strategy, "--smtp", f.smtp, "--transport", f.transport, "--zmq", f.zmq, "--durable", f.durable}
	if f.redis != "" {
		a = append(a, "--redis", f.redis)
	}
	return a
}

// webFlags are the web server's own flags, which serve takes and run passes
// on to the serve it starts.
type webFlags struct {
	addr        string
	loop        string
	pool        int
	threads     int
	bodyTimeout time.Duration
}

func (f *webFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.addr, "addr", "127.0.0.1:8080", "HTTP listen address of the web server")
	fs.StringVar(&f.loop, "loop", "node", "concurrency model: node, go or threads")
	fs.IntVar(&f.pool, "pool", 4, "node: thread pool size for file, dns and hand-off CPU work, as UV_THREADPOOL_SIZE (default 4); network I/O is not capped by it")
	fs.IntVar(&f.threads, "threads", 16, "threads: request workers")
	fs.DurationVar(&f.bodyTimeout, "body-timeout", httpapi.DefaultBodyTimeout, "time a client has to send a POST body (then 408)")
}

func (f *webFlags) validate() error {
	if f.pool < 1 || f.threads < 1 {
		return cli.Usagef("--pool and --threads must be at least 1")
	}
	if f.bodyTimeout <= 0 {
		return cli.Usagef("--body-timeout %v: must be positive", f.bodyTimeout)
	}
	return nil
}

// args renders the flags back into a `serve` command line.
func (f *webFlags) args() []string {
	return []string{"serve", "--addr", f.addr, "--loop", f.loop, "--pool", strconv.Itoa(f.pool),
		"--threads", strconv.Itoa(f.threads), "--body-timeout", f.bodyTimeout.String()}
}
