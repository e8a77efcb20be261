package eventloop

import (
	"time"

	"github.com/offload/offload/internal/job"
)

// The CPU Node spends on its one thread for work that Go's libraries do
// somewhere the loop never sees: net/http parses the request and writes the
// answer on the connection's goroutine, go-redis encodes and decodes inside
// the call that Runtime.IO runs off the loop, and so does the SMTP client.
// In Node all of that runs on the main thread (http's parser, JSON.parse and
// JSON.stringify, ioredis's encoder and reply parser, nodemailer's MIME
// builder and SMTP state machine), so a model of Node that left it out would
// let fire-and-forget send mail on other cores for free.
//
// Each cost is one operation's CPU as measured on real Node on this kind of
// machine, copied from docs/data/node-costs.json (which carries its command,
// commit and date; a test in this package fails when the two disagree).
// They are measurements, never knobs: do not tune them to make a comparison
// come out.
const (
	// CostHTTPRequest is one job request's HTTP parsing, JSON.parse of the
	// body, JSON.stringify of the answer and the write, on Node's http
	// (http_request_cpu_us).
	CostHTTPRequest = 30_850 * time.Nanosecond
	// CostRedisCommand is one command issued through ioredis: encoding it
	// and parsing its reply (ioredis_command_cpu_us, an LPUSH).
	CostRedisCommand = 10_230 * time.Nanosecond
	// CostMailSend is one message sent with nodemailer's SMTP transport
	// without a pool: opening the connection, building the MIME message and
	// driving the SMTP exchange (nodemailer_send_cpu_us).
	CostMailSend = 1_060_380 * time.Nanosecond
)

// charger is the model that makes handler code pay for Node's own work:
// only the node loop.
type charger interface{ charge(d time.Duration) }

// Charge burns d of real CPU on the loop under the node model, as Node
// would spend it on its thread, and does nothing under go and threads,
// whose libraries already spend it on the goroutine that does the work.
// Call it from handler code (on the loop, under node), beside the call that
// Node would pay for: eventloop.Charge(rt, eventloop.CostRedisCommand*2)
// before an IO that issues two commands.
func Charge(rt Runtime, d time.Duration) {
	if c, ok := rt.(charger); ok && d > 0 {
		c.charge(d)
	}
}

// charge burns on the calling goroutine, which Charge's contract makes the
// loop.
func (l *Loop) charge(d time.Duration) {
	job.Burn(d)
	l.stats.charged.Add(int64(d))
}
