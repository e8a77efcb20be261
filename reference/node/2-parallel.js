'use strict';
// The talk's second server, "Parallel (thread-ish)": answer at once and send
// the mail with its callback ignored. The client no longer waits, but the
// send still runs on the same thread as the accepting: fire-and-forget costs
// the loop every mail's CPU, and a failure leaves no trace but a log line.
//
//   node 2-parallel.js --addr 127.0.0.1:8080 --smtp 127.0.0.1:2525

const offload = require('./lib/offload');

const c = offload.config();
const transporter = offload.transport(c);

const sendEmail = function (email, callback) {
  offload.perform(transporter, email, function (error) {
    if (typeof callback === 'function') {
      callback(error, email);
    }
  });
};

const server = function (email, reply) {
  reply('accepted');
  sendEmail(email);
};

offload.serve(c, 'fireforget', server, async () => transporter.close());
