'use strict';
// costs.js measures the CPU that Node's main thread spends on one operation
// of each kind a web process does in the talk "Background Jobs in Node.js"
// (RedisConf 2016): accepting one HTTP job, one ioredis LPUSH, one nodemailer
// send. offload's Node loop model charges these costs to its loop, so they
// must come from real Node, not from a guess.
//
// Every measurement runs in a fresh child process, which reads
// process.cpuUsage() (user+sys) around a steady stretch of operations after a
// warm-up. The HTTP load comes from another process (this parent), so the
// client's CPU is not counted. It starts its own redis-server and mail sink.
//
// Usage (from reference/node): node costs.js [--out FILE] [--repeats N] [--seconds S]

const { fork, spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const repoRoot = path.resolve(__dirname, '..', '..');
const job = { to: 'bench@example.org', subject: 'offload bench x', text: 'one job of an offload bench run', kind: 'email' };

function cpuUS() {
  const u = process.cpuUsage();
  return u.user + u.system;
}

// ---- children: each measures one operation kind and reports over IPC ----

// httpChild serves POST /jobs the way a Node web process does: read the body,
// JSON.parse it, answer 202 with JSON.stringify of the acceptance.
function httpChild() {
  let requests = 0;
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const j = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      const id = req.headers['idempotency-key'] || String(requests);
      // status reads the parsed body, as a real handler would use it.
      const body = JSON.stringify({ id, strategy: 'baseline', status: j.kind ? 'accepted' : 'failed' });
      res.writeHead(202, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
      res.end(body);
      requests++;
    });
  });
  server.keepAliveTimeout = 60000;
  server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
  process.on('message', (m) => {
    if (m === 'mark') process.send({ cpu: cpuUS(), ops: requests });
    if (m === 'exit') server.close(() => process.exit(0));
  });
}

// loopChild runs `callers` concurrent loops of op() for warm+measured seconds
// and reports the CPU and operations of the measured stretch.
async function loopChild(op, callers, warmS, measureS, close) {
  let ops = 0;
  let stop = false;
  let failures = 0;
  const worker = async () => {
    while (!stop) {
      try {
        await op();
        ops++;
      } catch (err) {
        failures++;
        if (failures > 100) throw err;
      }
    }
  };
  const workers = Array.from({ length: callers }, worker);
  await sleep(warmS * 1000);
  const c0 = cpuUS();
  const o0 = ops;
  const t0 = process.hrtime.bigint();
  await sleep(measureS * 1000);
  const c1 = cpuUS();
  const o1 = ops;
  const t1 = process.hrtime.bigint();
  stop = true;
  await Promise.all(workers);
  await close();
  process.send({ cpu_us: c1 - c0, ops: o1 - o0, wall_s: Number(t1 - t0) / 1e9, failures });
  process.exit(0);
}

function redisChild(url, warmS, measureS) {
  const Redis = require('ioredis');
  const redis = new Redis(url);
  const payload = JSON.stringify(job);
  const key = 'offload:costs:' + process.pid;
  loopChild(() => redis.lpush(key, payload), 50, warmS, measureS, async () => {
    await redis.del(key);
    redis.disconnect();
  });
}

function mailChild(smtp, warmS, measureS) {
  const nodemailer = require('nodemailer');
  const [host, port] = splitHostPort(smtp);
  // No pool: one SMTP connection per message, as nodemailer does by default.
  const transport = nodemailer.createTransport({ host, port, secure: false, ignoreTLS: true });
  let n = 0;
  const send = () => {
    const id = 'costs-' + process.pid + '-' + n++;
    return transport.sendMail({
      from: 'offload <offload@localhost>', to: job.to, subject: job.subject, text: job.text,
      messageId: '<' + id + '@offload>', headers: { 'X-Offload-Job': id },
    });
  };
  loopChild(send, 20, warmS, measureS, async () => transport.close());
}

// ---- parent: starts the parts, drives the HTTP load, writes the JSON ----

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

function splitHostPort(s) {
  const i = s.lastIndexOf(':');
  return [s.slice(0, i), Number(s.slice(i + 1))];
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function waitTCP(port, what, ms = 60000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const ok = await new Promise((r) => {
      const s = net.connect(port, '127.0.0.1', () => { s.destroy(); r(true); });
      s.on('error', () => r(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${what} did not listen on ${port}`);
    await sleep(50);
  }
}

function childResult(child) {
  return new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (code) => reject(new Error(`measurement child exited with ${code}`)));
  });
}

// driveHTTP keeps `conns` keep-alive requests in flight against port until
// the deadline.
function driveHTTP(port, conns, until) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: conns });
  const body = JSON.stringify(job);
  let n = 0;
  const one = () => new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/jobs', agent,
      headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), 'Idempotency-Key': 'k' + n++ } },
    (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 202 ? resolve() : reject(new Error('status ' + res.statusCode))));
    });
    req.on('error', reject);
    req.end(body);
  });
  const loop = async () => { while (Date.now() < until()) await one(); };
  return Promise.all(Array.from({ length: conns }, loop)).finally(() => agent.destroy());
}

async function measureHTTP(warmS, measureS) {
  const child = fork(__filename, ['--child', 'http']);
  const { port } = await childResult(child);
  let end = Date.now() + (warmS + measureS) * 1000 + 500;
  const load = driveHTTP(port, 50, () => end);
  await sleep(warmS * 1000);
  const ask = () => { const p = childResult(child); child.send('mark'); return p; };
  const a = await ask();
  const t0 = process.hrtime.bigint();
  await sleep(measureS * 1000);
  const b = await ask();
  const t1 = process.hrtime.bigint();
  end = 0;
  await load;
  child.send('exit');
  await new Promise((r) => child.once('exit', r));
  return { cpu_us: b.cpu - a.cpu, ops: b.ops - a.ops, wall_s: Number(t1 - t0) / 1e9, failures: 0 };
}

async function measureLoop(kind, arg, warmS, measureS) {
  const child = fork(__filename, ['--child', kind, arg, String(warmS), String(measureS)]);
  const r = await childResult(child);
  await new Promise((res) => (child.exitCode === null ? child.once('exit', res) : res()));
  return r;
}

function summary(runs) {
  const per = runs.map((r) => r.cpu_us / r.ops);
  const sorted = [...per].sort((a, b) => a - b);
  const round = (v) => Math.round(v * 100) / 100;
  return {
    median: round(sorted[Math.floor(sorted.length / 2)]), min: round(sorted[0]), max: round(sorted[sorted.length - 1]),
    runs: runs.map((r, i) => ({ ops: r.ops, cpu_us: r.cpu_us, wall_s: round(r.wall_s), ops_per_s: Math.round(r.ops / r.wall_s), cpu_us_per_op: round(per[i]), failures: r.failures })),
  };
}

function git(args) {
  try { return execFileSync('git', args, { cwd: repoRoot, encoding: 'utf8' }).trim(); } catch { return ''; }
}

function startParts(started) {
  return (async () => {
    const redisPort = await freePort();
    const redis = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore', detached: true });
    started.push(redis);
    const smtpPort = await freePort();
    const statsPort = await freePort();
    const sink = spawn('go', ['run', './cmd/offload', 'sink', '--addr', `127.0.0.1:${smtpPort}`, '--http', `127.0.0.1:${statsPort}`, '--delay', '0'],
      { cwd: repoRoot, stdio: ['ignore', 'ignore', 'inherit'], detached: true });
    started.push(sink);
    await waitTCP(redisPort, 'redis-server');
    await waitTCP(smtpPort, 'offload sink', 180000);
    return { redisURL: `redis://127.0.0.1:${redisPort}`, smtp: `127.0.0.1:${smtpPort}` };
  })();
}

function flag(name, def) {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : def;
}

async function main() {
  const out = flag('--out', path.join(repoRoot, 'docs', 'data', 'node-costs.json'));
  const repeats = Number(flag('--repeats', '3'));
  const measureS = Number(flag('--seconds', '3'));
  const warmS = 1;
  const started = [];
  const stopAll = () => { for (const p of started) { try { process.kill(-p.pid, 'SIGTERM'); } catch { /* gone */ } } };
  process.on('SIGINT', () => { stopAll(); process.exit(130); });
  process.on('SIGTERM', () => { stopAll(); process.exit(143); });
  try {
    const parts = await startParts(started);
    const runs = { http_request: [], ioredis_command: [], nodemailer_send: [] };
    for (let i = 0; i < repeats; i++) {
      runs.http_request.push(await measureHTTP(warmS, measureS));
      runs.ioredis_command.push(await measureLoop('redis', parts.redisURL, warmS, measureS));
      runs.nodemailer_send.push(await measureLoop('mail', parts.smtp, warmS, measureS));
      console.error(`costs: repeat ${i + 1}/${repeats} done`);
    }
    const s = { http: summary(runs.http_request), redis: summary(runs.ioredis_command), mail: summary(runs.nodemailer_send) };
    const dirty = git(['status', '--porcelain']) !== '';
    const result = {
      about: 'CPU of Node\'s main thread per operation (process.cpuUsage user+sys delta / operations), median of the repeats; see reference/node/costs.js',
      command: `cd reference/node && npm ci && node costs.js --repeats ${repeats} --seconds ${measureS}`,
      commit: git(['rev-parse', '--short', 'HEAD']) + (dirty ? '+dirty' : ''),
      date: new Date().toISOString(),
      node_version: process.version,
      libraries: Object.fromEntries(['ioredis', 'nodemailer'].map((p) => [p, require(p + '/package.json').version])),
      machine: { cpus: os.cpus().length, model: os.cpus()[0] && os.cpus()[0].model, note: 'shared 2-core machine; timings are noisy' },
      repeats, warmup_s: warmS, measured_s: measureS,
      http_request_cpu_us: s.http.median,
      ioredis_command_cpu_us: s.redis.median,
      nodemailer_send_cpu_us: s.mail.median,
      http_request: { how: 'node http server: read the JSON body, JSON.parse, 202 with JSON.stringify({id,strategy,status}); load from another process, 50 keep-alive connections', ...s.http },
      ioredis_command: { how: 'ioredis LPUSH of the job JSON from 50 concurrent callers on one connection to a local redis-server', ...s.redis },
      nodemailer_send: { how: 'nodemailer sendMail without pool (one SMTP connection per message) from 20 concurrent callers to offload sink --delay 0', ...s.mail },
    };
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
    console.log(`http_request_cpu_us=${s.http.median} ioredis_command_cpu_us=${s.redis.median} nodemailer_send_cpu_us=${s.mail.median} -> ${out}`);
  } finally {
    stopAll();
  }
}

if (process.argv[2] === '--child') {
  const [kind, arg, warm, measure] = process.argv.slice(3);
  if (kind === 'http') httpChild();
  else if (kind === 'redis') redisChild(arg, Number(warm), Number(measure));
  else if (kind === 'mail') mailChild(arg, Number(warm), Number(measure));
} else {
  main().catch((err) => { console.error('costs: ' + err.message); process.exit(1); });
}
