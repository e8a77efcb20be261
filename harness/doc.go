// Package harness is offload's measuring instrument: it drives every
// strategy through the same scenarios on the same machine, injects the same
// faults at the same moments, and accounts for every job it sent.
//
// It meets the strategies only where a client would: the HTTP API, the mail
// sink (which decides delivery, loss and duplicates) and /debug/lag. It never
// imports a strategy package; it starts real processes of the offload binary.
//
// The pieces talk through plain values and do not know about each other:
//
//	pacer.go     the open-loop schedule and the pacer that keeps it (probes, warm-up)
//	fire.go      the job generator: firing threads that write each request when due
//	instrument.go  the instrument's own validity: send delay, fired vs recorded
//	recovery.go  the recovery rule, and the load kept up until recovery
//	genvshey.go  the generator benchmarked against hey (make gen-vs-hey)
//	target.go    an external --target: no false loss
//	sender.go    one HTTP request per due time; outcomes as values
//	jobclient.go the generator's own HTTP/1.1 client for job posts
//	hey.go       the closed-loop comparison (rakyll/hey)
//	topology.go  which processes each strategy needs; which scenarios are n/a
//	env.go       starting, finding and stopping those processes
//	faults.go    the fault injector (kill, restart, outage) on a timeline
//	procstat.go  CPU seconds and peak RSS from /proc
//	account.go   loss, duplicates, latency, recovery, time series
//	run.go       one strategy through one scenario, phase by phase
//	bench.go     all of them, results.json and results.csv
//
// Latency is measured from the moment a request was due, not from when it
// was sent, so a stalled server cannot hide its stall (coordinated omission).
package harness
