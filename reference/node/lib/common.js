'use strict';
// What every reference server shares, so that each of the talk's programs
// keeps its own shape and still speaks offload's HTTP API: the arguments, the
// job's JSON and its validation, the mail (Message-ID and X-Offload-Job as
// offload's mailer writes them), the talk's blockingSleep, GET /debug/lag and
// a clean exit on SIGTERM/SIGINT.

const crypto = require('node:crypto');
const http = require('node:http');
const { monitorEventLoopDelay } = require('node:perf_hooks');
const nodemailer = require('nodemailer');

const maxBodyBytes = 64 << 10;
const maxCostMS = 60000;
const defaultCostMS = 100;
const from = 'offload <offload@localhost>';

// usage ends the process the way offload's commands do on bad input: one
// line on stderr and exit code 2.
function usage(msg) {
  process.stderr.write(`${process.argv[1].split('/').pop()}: ${msg}\n`);
  process.exit(2);
}

// config reads --addr, --smtp, --redis and the extra numeric flags a server
// names, falling back to ADDR (or the talk's HOST and PORT), SMTP, REDIS_URL.
function config(extra = {}) {
  const c = {
    addr: process.env.ADDR || `${process.env.HOST || '127.0.0.1'}:${process.env.PORT || 8080}`,
    smtp: process.env.SMTP || '127.0.0.1:2525',
    redis: process.env.REDIS_URL || 'redis://127.0.0.1:6379',
    role: 'web',
    ...extra,
  };
  const args = process.argv.slice(2);
  if (args[0] === 'worker' || args[0] === 'web') c.role = args.shift();
  for (let i = 0; i < args.length; i++) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(args[i]);
    if (!m) usage(`unexpected argument ${JSON.stringify(args[i])}`);
    const name = m[1].replace(/-([a-z])/g, (_, l) => l.toUpperCase());
    if (!(name in c) || name === 'role') usage(`unknown flag --${m[1]}`);
    const v = m[2] !== undefined ? m[2] : args[++i];
    if (v === undefined) usage(`flag --${m[1]} needs a value`);
    if (typeof c[name] === 'number') {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0) usage(`--${m[1]} ${v}: want a whole number`);
      c[name] = n;
    } else {
      c[name] = v;
    }
  }
  c.listen = hostPort(c.addr, '--addr');
  c.smtpAt = hostPort(c.smtp, '--smtp');
  try {
    const u = new URL(c.redis);
    if (u.protocol !== 'redis:') throw new Error('not redis://');
    c.redisAt = { host: u.hostname, port: Number(u.port || 6379), password: u.password || undefined, database: Number(u.pathname.slice(1) || 0) };
  } catch (err) {
    usage(`--redis ${c.redis}: want redis://host:port (${err.message})`);
  }
  return c;
}

function hostPort(s, flag) {
  const i = s.lastIndexOf(':');
  const port = Number(s.slice(i + 1));
  if (i < 0 || !Number.isInteger(port) || port < 0 || port > 65535) usage(`${flag} ${s}: want host:port`);
  return { host: s.slice(0, i) || '127.0.0.1', port };
}

class FieldError extends Error {
  constructor(field, reason) {
    super(`${field}: ${reason}`);
    this.field = field;
  }
}

// decodeJob turns a POST /jobs body into a job, as offload's job package
// does: kind "io" by default, cost_ms 100 for "cpu", the Idempotency-Key
// header (or a random id) as the id.
function decodeJob(body, key) {
  let req;
  try {
    req = JSON.parse(body);
  } catch (err) {
    throw new FieldError('body', `not JSON (${err.message})`);
  }
  if (req === null || typeof req !== 'object' || Array.isArray(req)) throw new FieldError('body', 'want a JSON object');
  const j = { id: key || crypto.randomBytes(12).toString('hex'), to: req.to, subject: req.subject ?? '', text: req.text ?? '', kind: req.kind || 'io', cost_ms: req.cost_ms ?? 0 };
  return check(j);
}

function check(j) {
  if (typeof j.to !== 'string' || !/^[^\s<>@]+@[^\s<>@]+$/.test(j.to)) throw new FieldError('to', 'required: a bare address like someone@example.org');
  for (const f of ['subject', 'text']) {
    if (typeof j[f] !== 'string') throw new FieldError(f, 'want a string');
  }
  if (/[\r\n]/.test(j.subject)) throw new FieldError('subject', 'contains a line break');
  if (j.kind !== 'io' && j.kind !== 'cpu') throw new FieldError('kind', `unknown kind ${JSON.stringify(j.kind)}: use "io" or "cpu"`);
  if (!Number.isInteger(j.cost_ms) || j.cost_ms < 0 || j.cost_ms > maxCostMS) throw new FieldError('cost_ms', `must be between 0 and ${maxCostMS}`);
  if (j.kind === 'cpu' && j.cost_ms === 0) j.cost_ms = defaultCostMS;
  if (!/^[A-Za-z0-9._:-]{1,128}$/.test(j.id)) throw new FieldError('Idempotency-Key', 'want 1 to 128 of A-Z a-z 0-9 . _ : -');
  return j;
}

// The talk's blockingSleep: burn naptime ms of CPU on the calling thread.
function blockingSleep(naptime) {
  const start = Date.now();
  while (Date.now() - start < naptime) { /* the point is to block */ }
}

// transport is nodemailer without pool: one SMTP connection per message,
// nodemailer's default and the talk's.
function transport(c) {
  return nodemailer.createTransport({ host: c.smtpAt.host, port: c.smtpAt.port, secure: false, ignoreTLS: true });
}

// message is the mail offload's mailer sends for j (Message() in
// internal/mailer): the sink tells jobs apart by X-Offload-Job.
function message(j) {
  return { from, to: j.to, subject: j.subject, text: j.text, messageId: `<${j.id}@offload>`, headers: { 'X-Offload-Job': j.id } };
}

// perform runs j on the calling thread: a cpu job burns its cost there and
// sends nothing, as offload's strategies do; an io job sends its mail.
function perform(transporter, j, callback) {
  if (j.kind === 'cpu') {
    blockingSleep(j.cost_ms);
    process.nextTick(callback, null);
    return;
  }
  transporter.sendMail(message(j), (error) => callback(error || null));
}

// emailWorker is the talk's worker loop for local and remote messages: jobs
// wait in an in-memory list, and one that fails goes back on it to be tried
// again. The talk sent one mail a second; this one keeps up to concurrency
// in flight and waits only retryMS after a failure, so that its delivery
// can be measured.
function emailWorker(transporter, concurrency, retryMS = 1000) {
  const emails = [];
  let inFlight = 0;
  const workerLoop = () => {
    while (inFlight < concurrency && emails.length > 0) {
      const e = emails.shift();
      inFlight++;
      perform(transporter, e, (error) => {
        inFlight--;
        if (error) {
          console.log(`failed sending email ${e.id}, trying again: ${error.message}`);
          setTimeout(() => { emails.push(e); workerLoop(); }, retryMS).unref();
        }
        workerLoop();
      });
    }
  };
  return {
    push(e) {
      try {
        emails.push(check(e));
      } catch (err) {
        console.log(`dropped a malformed job: ${err.message}`);
      }
      workerLoop();
    },
    get pending() { return emails.length + inFlight; },
  };
}

module.exports = { emailWorker, config, usage, decodeJob, check, FieldError, blockingSleep, transport, message, perform, maxBodyBytes };
