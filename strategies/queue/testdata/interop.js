// Interop helper for queue's tests: drives the real node-resque package.
//   node interop.js enqueue <redisPort> <jobJSON> [delayMs]  -> enqueues sendEmail on "email"
//   node interop.js work <redisPort> <count> <timeoutMs>     -> works "email" (and runs a scheduler),
//                                                              printing one JSON line per job performed
const { Queue, Worker, Scheduler } = require("node-resque");

//   NR_CLUSTER=1 connects through an ioredis Cluster client (port is any
//   node); NR_NAMESPACE sets the namespace (default "resque").
const [mode, port, a, b] = process.argv.slice(2);
const namespace = process.env.NR_NAMESPACE || "resque";
const connection = process.env.NR_CLUSTER
  ? { redis: new (require("ioredis").Cluster)([{ host: "127.0.0.1", port: Number(port) }]), namespace }
  : { host: "127.0.0.1", port: Number(port), namespace };

async function enqueue() {
  const queue = new Queue({ connection });
  await queue.connect();
  const job = JSON.parse(a);
  if (b) await queue.enqueueIn(Number(b), "email", "sendEmail", [job]);
  else await queue.enqueue("email", "sendEmail", [job]);
  await queue.end();
  // A connection handed in (the cluster client) is the caller's to close:
  // node-resque leaves it open, and with it the process.
  if (connection.redis) connection.redis.disconnect();
}

async function work() {
  let left = Number(a);
  const jobs = {
    sendEmail: {
      perform: async (job) => {
        console.log(JSON.stringify({ at: Date.now(), job }));
        if (--left <= 0) setImmediate(stop);
        return true;
      },
    },
  };
  const worker = new Worker({ connection, queues: ["email"], timeout: 50 }, jobs);
  const scheduler = new Scheduler({ connection, timeout: 100 });
  await worker.connect();
  await scheduler.connect();
  worker.start();
  scheduler.start();
  const timer = setTimeout(stop, Number(b));
  async function stop() {
    clearTimeout(timer);
    // Ending must not hang the test: exit anyway after a few seconds.
    setTimeout(() => process.exit(4), 5000).unref();
    await scheduler.end();
    await worker.end();
    process.exit(left <= 0 ? 0 : 3);
  }
}

(mode === "enqueue" ? enqueue() : work()).catch((e) => {
  console.error(e);
  process.exit(1);
});
