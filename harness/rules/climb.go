package rules

import "math"

// Climb chooses the capacity ladder's rates from the verdicts so far. It
// climbs a geometric grid from Floor by Factor; one failing step does not
// end the climb (a shared machine fails a step now and then for reasons of
// its own), Failures consecutive ones do, or the grid passing Max. It then
// bisects, geometrically, between the highest passing rate and the lowest
// failing rate above it until they are within Precision of each other. A
// failure below a later pass is forgotten: the pass shows the rate is
// sustainable, the failure was noise.
//
// Climb is arithmetic only; the ladder runs the steps it names.
type Climb struct {
	Floor, Factor, Max float64
	Failures           int     // consecutive failures that end the climb; at least 1
	Precision          float64 // bisect until lowest fail ÷ highest pass ≤ 1 + Precision

	tried    []tried
	k        int // next grid index while climbing
	run      int // consecutive failures while climbing
	bisected bool
}

type tried struct {
	rate float64
	pass bool
}

// grid is the k-th rate of the climb, rounded to a whole request per
// second so two runs of the same ladder offer the same rates.
func (c *Climb) grid(k int) float64 {
	return math.Round(c.Floor * math.Pow(c.Factor, float64(k)))
}

func (c *Climb) climbing() bool {
	return c.run < max(1, c.Failures) && c.grid(c.k) <= c.Max*(1+1e-9)
}

// Next is the next rate to offer, false when the knee is found (or the
// ladder is misconfigured: a floor of zero, a factor not above 1).
func (c *Climb) Next() (float64, bool) {
	if c.Floor <= 0 || c.Factor <= 1 {
		return 0, false
	}
	if c.climbing() {
		return c.grid(c.k), true
	}
	pass, fail, ok := c.Knee()
	if !ok || pass == 0 || fail <= pass*(1+c.Precision) {
		return 0, false
	}
	mid := math.Round(math.Sqrt(pass * fail))
	if mid <= pass || mid >= fail {
		return 0, false
	}
	c.bisected = true
	return mid, true
}

// Record is the verdict of the rate Next returned.
func (c *Climb) Record(rate float64, pass bool) {
	c.tried = append(c.tried, tried{rate, pass})
	if !c.climbing() || c.bisected {
		return
	}
	c.k++
	if pass {
		c.run = 0
	} else {
		c.run++
	}
}

// Knee is the highest passing rate and the lowest failing rate above it;
// ok is false when no rate above the highest pass failed (the ladder ran
// out of rates: the pass is a lower bound). pass is 0 when none passed.
func (c *Climb) Knee() (pass, fail float64, ok bool) {
	for _, t := range c.tried {
		if t.pass {
			pass = max(pass, t.rate)
		}
	}
	for _, t := range c.tried {
		if !t.pass && t.rate > pass && (!ok || t.rate < fail) {
			fail, ok = t.rate, true
		}
	}
	return pass, fail, ok
}

// Steps is how many rates were offered.
func (c *Climb) Steps() int { return len(c.tried) }
