'use strict';
// The talk's "Local Messages (fork-ish)": the web server hands each job to
// an email worker, another Node process on the same machine, over Node's
// IPC channel, and answers without waiting. The talk had a leader process
// fork both with cluster; here the web forks the worker itself
// (child_process.fork), because under cluster the leader would accept the
// connections and the web's loop would no longer be what is measured.
//
//   node 3-local.js --addr 127.0.0.1:8080 --smtp 127.0.0.1:2525 --concurrency 10

const { fork } = require('node:child_process');
const offload = require('./lib/offload');

const c = offload.config({ concurrency: 10 });
if (c.concurrency < 1) offload.usage('--concurrency must be at least 1');

function doWorkerStuff() {
  const transporter = offload.transport(c);
  const worker = offload.emailWorker(transporter, c.concurrency);
  process.on('message', function (message) { worker.push(message); });
  process.on('disconnect', function () { process.exit(0); }); // the web is gone
  offload.onSignal(async function () { transporter.close(); });
  process.send({ msg: 'ready' });
}

function doServerStuff() {
  const child = fork(__filename, ['worker', ...process.argv.slice(2)]);
  child.on('exit', function (code, signal) {
    if (code === 0) {
      // It stopped cleanly (a SIGTERM to the whole group): stop with it.
      process.kill(process.pid, 'SIGTERM');
      return;
    }
    console.log(`email worker died (${signal || code}) :(`);
    process.exit(1);
  });
  const server = function (email, reply) {
    reply('accepted');
    child.send(email);
  };
  child.once('message', function () {
    offload.serve(c, 'localipc', server, async function () {
      child.removeAllListeners('exit');
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise(function (resolve) { child.once('exit', resolve); });
      child.kill('SIGTERM');
      await gone;
    });
  });
}

if (c.role === 'worker') doWorkerStuff();
else doServerStuff();
