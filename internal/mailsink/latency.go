package mailsink

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"time"
)

// DefaultLatency is the provider model the bench measures against unless
// told otherwise: a 3 ms network round trip on MAIL and on RCPT, then 10 ms
// to accept the message after its body arrived — 16 ms per mail on a reused
// connection.
var DefaultLatency = Latency{RTT: 3 * time.Millisecond, Median: 10 * time.Millisecond}

// z99 is the standard normal quantile at 0.99: a lognormal's p99 sits
// z99 standard deviations (of its logarithm) above its median.
const z99 = 2.3263478740408408

// Latency is a provider's time per message. RTT is paid on MAIL and on
// RCPT, before the body is sent. After the body, the provider takes Median
// to accept the message, every time when P99 is 0 (fixed), or drawn from a
// lognormal distribution with that median and p99 (P99 > Median): most
// mails are quick, a few are very slow, as real providers are.
type Latency struct {
	RTT    time.Duration
	Median time.Duration
	P99    time.Duration
}

// MarshalText writes the form ParseLatency reads, so results files and
// flags say the same thing.
func (l Latency) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// UnmarshalText reads what MarshalText wrote.
func (l *Latency) UnmarshalText(b []byte) error {
	v, err := ParseLatency(string(b))
	if err != nil {
		return err
	}
	*l = v
	return nil
}

// ParseLatency reads the --latency forms:
//
//	10ms                    10 ms after DATA, no round trip (what --delay sets)
//	3ms+10ms                a 3 ms round trip on MAIL and RCPT, then 10 ms
//	lognormal:8ms,60ms      after DATA, lognormal with median 8 ms and p99 60 ms
//	3ms+lognormal:8ms,60ms  the same after a 3 ms round trip
func ParseLatency(s string) (Latency, error) {
	var l Latency
	rest := strings.TrimSpace(s)
	if rtt, after, ok := strings.Cut(rest, "+"); ok {
		d, err := time.ParseDuration(rtt)
		if err != nil {
			return Latency{}, fmt.Errorf("latency %q: round trip %q: want a duration like 3ms", s, rtt)
		}
		l.RTT, rest = d, after
	}
	if spec, ok := strings.CutPrefix(rest, "lognormal:"); ok {
		med, p99, ok := strings.Cut(spec, ",")
		if !ok {
			return Latency{}, fmt.Errorf("latency %q: want lognormal:MEDIAN,P99, e.g. lognormal:8ms,60ms", s)
		}
		var err error
		if l.Median, err = time.ParseDuration(med); err != nil {
			return Latency{}, fmt.Errorf("latency %q: median %q: want a duration", s, med)
		}
		if l.P99, err = time.ParseDuration(p99); err != nil {
			return Latency{}, fmt.Errorf("latency %q: p99 %q: want a duration", s, p99)
		}
		if l.P99 <= l.Median {
			return Latency{}, fmt.Errorf("latency %q: p99 must be above the median", s)
		}
	} else {
		d, err := time.ParseDuration(rest)
		if err != nil {
			return Latency{}, fmt.Errorf("latency %q: want DURATION, RTT+DURATION or [RTT+]lognormal:MEDIAN,P99", s)
		}
		l.Median = d
	}
	return l, l.validate()
}

func (l Latency) validate() error {
	if l.RTT < 0 || l.Median < 0 || l.P99 < 0 {
		return fmt.Errorf("latency %s: durations must not be negative", l)
	}
	if l.P99 != 0 && l.P99 <= l.Median {
		return fmt.Errorf("latency %s: p99 must be above the median", l)
	}
	if l.P99 != 0 && l.Median == 0 {
		return fmt.Errorf("latency %s: a lognormal needs a positive median", l)
	}
	return nil
}

// String is the form ParseLatency reads back.
func (l Latency) String() string {
	after := l.Median.String()
	if l.P99 > 0 {
		after = "lognormal:" + l.Median.String() + "," + l.P99.String()
	}
	if l.RTT > 0 {
		return l.RTT.String() + "+" + after
	}
	return after
}

// Lognormal reports whether the time after DATA is drawn rather than fixed.
func (l Latency) Lognormal() bool { return l.P99 > 0 }

// Sample draws the time after DATA for one message from r. A fixed
// latency ignores r; a lognormal one takes exactly one normal draw, so a
// seeded r gives the same sequence of delays every run.
func (l Latency) Sample(r *rand.Rand) time.Duration {
	if l.P99 <= 0 {
		return l.Median
	}
	mu := math.Log(float64(l.Median))
	sigma := (math.Log(float64(l.P99)) - mu) / z99
	return time.Duration(math.Exp(mu + sigma*r.NormFloat64()))
}
