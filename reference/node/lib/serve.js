'use strict';
// The HTTP front every reference web server puts around the talk's handler:
// offload's routes (POST /jobs, the talk's GET /{to}/{subject}/{text},
// GET /jobs/{id}, GET /healthz, GET /debug/lag, POST /debug/lag/reset), its
// status codes and error bodies, a ready line and a clean exit. All of it
// runs on the main thread, as a Node web server's parsing and JSON do.

const http = require('node:http');
const { decodeJob, check, FieldError, maxBodyBytes } = require('./common');
const { lagMonitor } = require('./lag');

function send(res, code, obj) {
  const body = JSON.stringify(obj);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

// readBody collects a request body of at most maxBodyBytes.
function readBody(req, callback) {
  const chunks = [];
  let size = 0;
  let done = false;
  req.on('data', (c) => {
    size += c.length;
    if (size > maxBodyBytes && !done) {
      done = true;
      callback(new RangeError('too large'));
      req.resume();
      return;
    }
    if (!done) chunks.push(c);
  });
  req.on('end', () => { if (!done) { done = true; callback(null, Buffer.concat(chunks).toString('utf8')); } });
  req.on('error', (err) => { if (!done) { done = true; callback(err); } });
}

// serve listens on c.listen and hands each valid job to onJob(job, reply),
// where reply(status, err) answers 200 for "done", 202 for "accepted" and
// 502 with the error for a failed delivery. onClose runs on SIGTERM/SIGINT
// before the process exits.
function serve(c, strategy, onJob, onClose = async () => {}) {
  const lag = lagMonitor();
  const submit = (res, j) => {
    onJob(j, (status, err) => {
      if (err) send(res, err.statusCode || 502, { error: err.statusCode ? err.message : `send mail for job ${j.id}: ${err.message || err}` });
      else send(res, status === 'done' ? 200 : 202, { id: j.id, strategy, status });
    });
  };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    const key = req.headers['idempotency-key'];
    if (req.method === 'POST' && url.pathname === '/jobs') {
      readBody(req, (err, body) => {
        if (err instanceof RangeError) return send(res, 413, { error: `request body too large: limit is ${maxBodyBytes} bytes` });
        if (err) return send(res, 400, { error: `read body: ${err.message}` });
        let j;
        try {
          j = decodeJob(body, key);
        } catch (e) {
          return send(res, 400, { error: e.message, field: e.field });
        }
        submit(res, j);
      });
      return;
    }
    if (req.method === 'GET' && url.pathname === '/healthz') return send(res, 200, { status: 'ok', strategy, loop: 'nodejs' });
    if (req.method === 'GET' && url.pathname === '/debug/lag') {
      const s = url.searchParams.get('since');
      const after = s ? new Date(s) : null;
      if (after && Number.isNaN(after.getTime())) return send(res, 400, { error: `since: want an RFC 3339 time, got ${JSON.stringify(s)}`, field: 'since' });
      return send(res, 200, lag.snapshot(after));
    }
    if (req.method === 'POST' && url.pathname === '/debug/lag/reset') {
      lag.reset();
      return send(res, 200, { status: 'reset' });
    }
    const parts = url.pathname.split('/');
    if (req.method === 'GET' && parts[1] === 'jobs' && parts.length === 3) {
      return send(res, 404, { error: `${strategy}: this reference server keeps no job states` });
    }
    if (req.method === 'GET' && parts.length === 4 && parts[1] !== '') {
      // The talk's own form: GET /TO_ADDRESS/SUBJECT/YOUR_MESSAGE.
      let j;
      try {
        const [to, subject, text] = parts.slice(1).map(decodeURIComponent);
        j = check({ id: key || require('node:crypto').randomBytes(12).toString('hex'), to, subject, text, kind: 'io', cost_ms: 0 });
      } catch (e) {
        return send(res, 400, { error: e.message, field: e instanceof FieldError ? e.field : 'path' });
      }
      return submit(res, j);
    }
    send(res, 404, { error: `no route ${req.method} ${url.pathname}` });
  });
  server.keepAliveTimeout = 65000;
  server.on('error', (err) => {
    process.stderr.write(`${strategy}: listen on ${c.addr}: ${err.message}\n`);
    process.exit(1);
  });
  server.listen(c.listen.port, c.listen.host, () => {
    const a = server.address();
    console.log(`ready: ${strategy} listening on http://${a.address}:${a.port} (smtp ${c.smtp}, redis ${c.redis})`);
  });
  onSignal(async () => {
    lag.close();
    server.close();
    server.closeAllConnections();
    await onClose();
  });
  return server;
}

// onSignal runs stop once on SIGTERM or SIGINT, then exits 0; a stop that
// hangs is cut short after 5 s so that the process never outlives its caller.
function onSignal(stop) {
  let stopping = false;
  const handler = () => {
    if (stopping) return;
    stopping = true;
    setTimeout(() => process.exit(1), 5000).unref();
    Promise.resolve().then(stop).then(() => process.exit(0), (err) => {
      process.stderr.write(`stop: ${err.message}\n`);
      process.exit(1);
    });
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}

module.exports = { serve, onSignal, send };
