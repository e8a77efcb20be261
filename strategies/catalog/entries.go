package catalog

import (
	"github.com/offload/offload/strategies/eventbus"
	"github.com/offload/offload/strategies/fireforget"
	"github.com/offload/offload/strategies/foreground"
	"github.com/offload/offload/strategies/localipc"
	"github.com/offload/offload/strategies/pubsub"
	"github.com/offload/offload/strategies/queue"
	"github.com/offload/offload/strategies/queue/resque"
)

// inWebProcess is why worker and broker faults make no sense when the job
// runs in the web process.
var inWebProcess = map[string]string{
	"worker-crash":   "no worker process: the jobs run inside the web process (web-crash covers its failure)",
	"broker-restart": "no broker: the jobs never leave the web process",
	"scale":          "no workers to scale: the jobs run inside the web process",
	"partition":      "no Redis to be cut off from: the jobs never leave the web process",
}

// The broker variants run the scenarios where the broker's topology
// changes the answer; cpu, burst and scale load the web process and the
// workers, which are the same processes on any broker.
var (
	clusterScenarios = []string{"steady", "worker-crash", "web-crash", "broker-failover", "partition", "mail-outage", "capacity"}
	clusterWhy       = "the cluster changes where jobs live and what a fault costs; cpu, burst and scale load the web and the workers, the same on any broker"
	clusterQuick     = []string{"broker-failover", "partition"}
	// A durability variant prices one choice: loss under a failover
	// against accept latency (steady) and accept capacity.
	durabilityScenarios = []string{"steady", "broker-failover", "capacity"}
	durabilityWhy       = "it prices a durability choice: loss under a failover against accept latency and capacity"
)

// entries is the catalog, in the order the talk presents the strategies,
// from the worst idea to the best one. Colours are Okabe and Ito's palette,
// chosen to stay distinguishable with the common kinds of colour blindness
// (yellow is left out: it vanishes on white).
var entries = []Entry{
	{
		Name: "foreground", Description: "performs the job, then answers", NodeReference: "1-foreground.js",
		New: foreground.New, NA: inWebProcess,
		Style: Style{Color: "#D55E00"}, // vermillion
	},
	{
		Name: "fireforget", Description: "answers at once, runs the job in the web process, ignores the result",
		NodeReference: "2-parallel.js",
		New:           fireforget.New, NA: inWebProcess,
		Style: Style{Color: "#E69F00"}, // orange
	},
	{
		Name:        "localipc",
		Description: "hands the job over IPC to a supervisor that relays it to an in-memory worker child (one machine)",
		New:         localipc.New, WebFlags: localipc.WebFlags, Worker: localipc.Worker, Run: localipc.Run,
		NA: map[string]string{
			"broker-restart": "no broker: the supervisor hands jobs to its worker child over local IPC",
			"scale":          "one worker child by design: the supervisor's in-memory queue feeds exactly one worker",
			"partition":      "no Redis to be cut off from: the supervisor hands jobs to its worker child over local IPC",
		},
		Style: Style{Color: "#CC79A7"}, // reddish purple
	},
	{
		Name:        "pubsub",
		Description: "publishes the job to in-memory workers: redis PUBLISH fans out to every subscriber, zmq hands it to one",
		New:         pubsub.New, WebFlags: pubsub.WebFlags, Worker: pubsub.Worker,
		Redis: true, NoRedisTransports: []string{"zmq"},
		Variants: []Variant{{
			Name: "transport=zmq", Transport: "zmq", FreshEndpoint: "--zmq",
			NA: map[string]string{
				"broker-restart": "transport=zmq has no broker: the web process talks to workers directly",
				"partition":      "transport=zmq uses no Redis to be cut off from: the web process talks to workers directly",
			},
		}},
		Style: Style{Color: "#56B4E9"}, // sky blue
	},
	{
		Name: "queue",
		// node-resque polls an empty queue every --timeout ms; a second
		// matches the queue worker's idle wait.
		NodeReference: "5-combined.js", NodeWorker: []string{"5-multiWorkerResque.js", "--timeout", "1000"},
		Description: "enqueues into Redis in Resque's layout; worker processes claim, retry and recover jobs",
		New:         queue.New, WebFlags: queue.WebFlags, Worker: queue.Worker, Redis: true, Durable: true,
		// One hash-tagged shard per master of the bench's 3-master cluster.
		ClusterArgs: []string{"--shards", "3"},
		FailoverKey: resque.ShardNamespaces(resque.DefaultNamespace, 3)[0] + ":queue:" + queue.Queue,
		// A silent worker's jobs are reclaimed after --reclaim-after
		// (default 15s) and a failed send retried after --backoff (default
		// 1s, doubling): shortened so recovery fits inside a run's drain
		// phase, still longer than the slowest job (the cpu scenario's).
		BenchWorkerArgs: []string{"--reclaim-after", "1s", "--backoff", "250ms"},
		// What a failover costs, and what WAIT buys back: one queue over
		// the three masters of a cluster, and one master with a replica,
		// each with the default 202 and with --durable wait.
		Variants: []Variant{
			{Name: "cluster", Broker: BrokerCluster,
				Scenarios: clusterScenarios, Why: clusterWhy, Quick: clusterQuick},
			{Name: "cluster,durable=wait", Broker: BrokerCluster, Args: []string{"--durable", "wait"},
				Scenarios: durabilityScenarios, Why: durabilityWhy, Extended: true, Style: Style{Dash: []float64{6, 2}}},
			{Name: "replica", Broker: BrokerReplica,
				Scenarios: durabilityScenarios, Why: durabilityWhy, Extended: true, Style: Style{Dash: []float64{1, 1}}},
			{Name: "replica,durable=wait", Broker: BrokerReplica, Args: []string{"--durable", "wait"},
				Scenarios: durabilityScenarios, Why: durabilityWhy, Extended: true, Style: Style{Dash: []float64{4, 1, 1, 1}}},
		},
		Style:   Style{Color: "#0072B2"}, // blue
		Command: &Command{Summary: "inspect the Resque queue: offload queue stats", Run: queue.Command},
	},
	{
		Name:        "eventbus",
		Description: "appends an event to a Redis Stream; each handler is a consumer group; replayable",
		New:         eventbus.New, WebFlags: eventbus.WebFlags, Worker: eventbus.Worker, Redis: true, Durable: true,
		// One hash-tagged partition per master of the bench's 3-master
		// cluster; partition 0 holds a third of the events.
		ClusterArgs: []string{"--partitions", "3"},
		FailoverKey: eventbus.Keys{Partitions: 3}.Stream(0),
		// Temporary failures are retried in process after --backoff
		// (default 200ms, doubling); a dead consumer's entries are claimed
		// after --claim-idle (default 30s), shortened for the bench.
		BenchWorkerArgs: []string{"--group", "email", "--handler", "email", "--claim-idle", "1s"},
		Extra:           map[string][]string{"audit": {"--group", "audit", "--handler", "audit"}},
		// What a failover costs the log, and what WAIT buys back, as for
		// the queue.
		Variants: []Variant{
			{Name: "cluster", Broker: BrokerCluster, Scenarios: clusterScenarios, Why: clusterWhy},
			{Name: "cluster,durable=wait", Broker: BrokerCluster, Args: []string{"--durable", "wait"},
				Scenarios: durabilityScenarios, Why: durabilityWhy, Extended: true, Style: Style{Dash: []float64{6, 2}}},
		},
		Style:   Style{Color: "#009E73"}, // bluish green
		Command: &Command{Summary: "inspect the event bus (stats) or replay one handler's history (replay)", Run: eventbus.Command},
	},
}
