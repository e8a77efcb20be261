'use strict';
// The talk's node-resque MultiWorker: many task processors in one process,
// between minTaskProcessors and maxTaskProcessors, added while the event
// loop keeps up and removed when it lags (node-resque's own check, every
// checkTimeout ms against maxEventLoopDelay). Each job sends its mail with
// nodemailer, or for kind "cpu" burns its cost with blockingSleep, which
// holds every task processor of this process at once: they share one thread.
//
//   node 5-multiWorkerResque.js --redis redis://127.0.0.1:6379 --smtp 127.0.0.1:2525 --min 1 --max 20
//
// --timeout is node-resque's poll interval on an empty queue (ms, its
// default 5000).

const { MultiWorker } = require('node-resque');
const offload = require('./lib/offload');

const c = offload.config({ min: 1, max: 20, timeout: 5000 });
if (c.min < 1 || c.max < c.min) offload.usage(`--min ${c.min} --max ${c.max}: want 1 <= min <= max`);
const transporter = offload.transport(c);

const jobs = {
  sendEmail: {
    plugins: [],
    pluginOptions: {},
    perform: function (email) {
      return new Promise(function (resolve, reject) {
        offload.perform(transporter, email, function (error) {
          if (error) reject(error);
          else resolve(email.id);
        });
      });
    },
  },
};

const multiWorker = new MultiWorker({
  connection: c.redisAt,
  queues: ['emailQueue'],
  minTaskProcessors: c.min,
  maxTaskProcessors: c.max,
  timeout: c.timeout,
}, jobs);

multiWorker.once('start', function () {
  console.log(`ready: queue worker, ${c.min}..${c.max} task processors (smtp ${c.smtp}, redis ${c.redis})`);
});
multiWorker.on('failure', function (workerId, queue, job, failure) {
  console.log('worker[' + workerId + '] job failure ' + JSON.stringify(job.args) + ' >> ' + failure);
});
multiWorker.on('error', function (error, workerId) {
  console.log('worker[' + workerId + '] error >> ' + (error && error.message));
});
multiWorker.on('internalError', function (error) { console.log(error); });

multiWorker.start();

offload.onSignal(async function () {
  await multiWorker.end();
  transporter.close();
});
