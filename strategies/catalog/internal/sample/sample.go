// Package sample is a strategy that exists only to prove the catalog's
// promise: one package plus one catalog entry (in a file built with the
// offloadtest tag) and every command, the bench, the reports and the
// conformance suite work for it. It is never in a release binary.
//
// Guarantees: the mail is sent before the 202 (on the loop's I/O path; a
// cpu job on its thread pool), so an accepted job has been delivered.
//
// Failure modes: the client waits for the mail server, as with foreground;
// the answer only says "accepted" so that the harness treats it like the
// strategies that defer work.
package sample

import (
	"context"
	"fmt"

	"github.com/offload/offload/internal/eventloop"
	"github.com/offload/offload/internal/job"
	"github.com/offload/offload/internal/mailer"
	"github.com/offload/offload/strategies"
)

// Name is the strategy's catalog name.
const Name = "sample"

type strategy struct{ m *mailer.Mailer }

var _ strategies.Strategy = (*strategy)(nil)

// New builds the strategy; cfg.SMTPAddr is required.
func New(cfg strategies.Config) (strategies.Strategy, error) {
	m, err := mailer.New(mailer.Config{Addr: cfg.SMTPAddr})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", Name, err)
	}
	return &strategy{m: m}, nil
}

func (s *strategy) Name() string { return Name }

func (s *strategy) Submit(rt strategies.Runtime, j job.Job, reply func(strategies.Outcome)) {
	answer := func(err error) {
		if err != nil {
			reply(strategies.Outcome{Err: fmt.Errorf("%w: %v", strategies.ErrDelivery, err)})
			return
		}
		reply(strategies.Outcome{Status: strategies.StatusAccepted})
	}
	if j.Kind == job.KindCPU {
		// CPU handed off on purpose: the thread pool's job.
		rt.Pool(func() error { job.Burn(j.Cost()); return nil }, answer)
		return
	}
	eventloop.Charge(rt, eventloop.CostMailSend)
	rt.IO(func() error { return s.m.Send(context.Background(), j) }, answer) // a network call: the I/O path
}

func (s *strategy) Close(context.Context) error { return s.m.Close() }
