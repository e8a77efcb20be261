'use strict';
// The talk's "Remote Queue (redis + Resque)" web server: each job is
// enqueued with node-resque, and the answer waits only for Redis. The mail
// is sent by a separate worker process, 5-multiWorkerResque.js. (The talk's
// version ran one worker inside this process too; here the worker is its
// own process, so that the web's loop carries only the web's work.)
//
//   node 5-combined.js --addr 127.0.0.1:8080 --redis redis://127.0.0.1:6379

const { Queue } = require('node-resque');
const offload = require('./lib/offload');

const c = offload.config();
// Enqueueing runs only the jobs' beforeEnqueue plugins, and these have none.
const jobs = {};

const server = function (email, reply) {
  queue.enqueue('emailQueue', 'sendEmail', [email]).then(
    () => reply('accepted'),
    (error) => {
      console.log(error.message);
      error.statusCode = 503;
      reply('accepted', error);
    },
  );
};

const queue = new Queue({ connection: c.redisAt }, jobs);
queue.on('error', (error) => console.log('queue: ' + error.message));
queue.connect().then(
  () => offload.serve(c, 'queue', server, async () => queue.end()),
  (error) => {
    process.stderr.write(`queue: connect to ${c.redis}: ${error.message}\n`);
    process.exit(1);
  },
);
