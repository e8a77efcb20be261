package main

import (
	"flag"
	"time"

	"github.com/offload/offload/internal/cli"
	"github.com/offload/offload/internal/mailsink"
)

// providerFlags are the mail provider model's flags: `offload sink` takes
// them bare (--latency), `offload run` and `offload bench` with a "sink-"
// prefix (--sink-latency) for the sink they start. One set of flags, one
// mailsink.Config, so every sink offload starts is the same model.
type providerFlags struct {
	prefix    string
	latency   mailsink.Latency
	delay     time.Duration
	maxConns  int
	rateLimit float64
	fs        *flag.FlagSet
}

// register adds the flags to fs; def is the latency when none is given.
func (p *providerFlags) register(fs *flag.FlagSet, prefix string, def mailsink.Latency) {
	p.prefix, p.fs, p.latency = prefix, fs, def
	fs.TextVar(&p.latency, prefix+"latency", def,
		"mail provider latency: DURATION after DATA, RTT+DURATION (a round trip on MAIL and on RCPT first), or [RTT+]lognormal:MEDIAN,P99")
	fs.DurationVar(&p.delay, prefix+"delay", 0, "mail provider: a fixed time to accept each message and no round trip (the same as --"+prefix+"latency DURATION)")
	fs.IntVar(&p.maxConns, prefix+"max-conns", 0, "mail provider: answer 421 to connections beyond this many at once (0: no limit)")
	fs.Float64Var(&p.rateLimit, prefix+"rate-limit", 0, "mail provider: answer 454 to mails beyond this many per second, a token bucket (0: no limit)")
}

// config returns the provider part of a sink's Config; bad values are
// usage errors naming the flag.
func (p *providerFlags) config() (mailsink.Config, error) {
	set := map[string]bool{}
	p.fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	l := p.latency
	if set[p.prefix+"delay"] {
		if set[p.prefix+"latency"] {
			return mailsink.Config{}, cli.Usagef("--%sdelay and --%slatency both set the latency: give one", p.prefix, p.prefix)
		}
		if p.delay < 0 {
			return mailsink.Config{}, cli.Usagef("--%sdelay %v: must not be negative", p.prefix, p.delay)
		}
		l = mailsink.Latency{Median: p.delay}
	}
	if p.maxConns < 0 {
		return mailsink.Config{}, cli.Usagef("--%smax-conns %d: must not be negative (0: no limit)", p.prefix, p.maxConns)
	}
	if p.rateLimit < 0 {
		return mailsink.Config{}, cli.Usagef("--%srate-limit %v: must not be negative (0: no limit)", p.prefix, p.rateLimit)
	}
	return mailsink.Config{MaxConns: p.maxConns, RateLimit: p.rateLimit}.WithLatency(l), nil
}
