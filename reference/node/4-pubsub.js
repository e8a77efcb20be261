'use strict';
// The talk's "Remote Messages (*MQ-ish)": local IPC swapped for Redis
// PUBLISH/SUBSCRIBE. The web answers once Redis has taken the message; any
// number of worker processes, on any machine, subscribe and send. A message
// published while no worker listens is lost: pub/sub keeps nothing.
//
//   node 4-pubsub.js --addr 127.0.0.1:8080 --redis redis://127.0.0.1:6379
//   node 4-pubsub.js worker --redis redis://127.0.0.1:6379 --smtp 127.0.0.1:2525 --concurrency 10

const Redis = require('ioredis');
const offload = require('./lib/offload');

const channel = 'emails';
const c = offload.config({ concurrency: 10 });
if (c.concurrency < 1) offload.usage('--concurrency must be at least 1');

function doWorkerStuff() {
  const transporter = offload.transport(c);
  const worker = offload.emailWorker(transporter, c.concurrency);
  const subscriber = new Redis(c.redis);
  subscriber.on('error', (error) => console.log('redis: ' + error.message));
  subscriber.on('message', function (_channel, message) {
    let email;
    try {
      email = JSON.parse(message);
    } catch (error) {
      console.log('dropped a message that is not JSON: ' + error.message);
      return;
    }
    worker.push(email);
  });
  subscriber.subscribe(channel).then(function () {
    console.log(`ready: pubsub worker subscribed to ${channel} (smtp ${c.smtp}, redis ${c.redis})`);
  });
  offload.onSignal(async function () {
    await subscriber.quit();
    transporter.close();
  });
}

function doServerStuff() {
  const publisher = new Redis(c.redis);
  publisher.on('error', (error) => console.log('redis: ' + error.message));
  const server = function (email, reply) {
    publisher.publish(channel, JSON.stringify(email), function (error) {
      if (error) error.statusCode = 503;
      reply('accepted', error);
    });
  };
  offload.serve(c, 'pubsub', server, async () => { await publisher.quit(); });
}

if (c.role === 'worker') doWorkerStuff();
else doServerStuff();
