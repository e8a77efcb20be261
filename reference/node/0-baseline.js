'use strict';
// The Node baseline: accept a job with one ioredis LPUSH of its JSON and
// nothing else, the floor every strategy's accept is measured against (the
// same work as offload's own baseline, on Node's single thread).
//
//   node 0-baseline.js --addr 127.0.0.1:8080 --redis redis://127.0.0.1:6379

const Redis = require('ioredis');
const offload = require('./lib/offload');

const c = offload.config();
const redis = new Redis(c.redis);
redis.on('error', (error) => console.log('redis: ' + error.message));

const server = function (email, reply) {
  redis.lpush('baseline:jobs', JSON.stringify(email), function (error) {
    if (error) {
      error.statusCode = 503; // cannot accept, as offload answers
    }
    reply('accepted', error);
  });
};

offload.serve(c, 'baseline', server, async () => { await redis.quit(); });
