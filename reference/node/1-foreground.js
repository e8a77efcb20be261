'use strict';
// The talk's first server, "Foreground (in-line)": send the mail, then
// answer. Async and non-blocking, so other clients are not held up by the
// SMTP round trips, but every send's CPU (nodemailer's MIME and SMTP work)
// runs on the one thread that also accepts. A "cpu" job burns its cost on
// that thread before the answer: the talk's blockingSleep.
//
//   node 1-foreground.js --addr 127.0.0.1:8080 --smtp 127.0.0.1:2525

const offload = require('./lib/offload');

const c = offload.config();
// No pool: nodemailer opens one SMTP connection per message.
const transporter = offload.transport(c);

const sendEmail = function (email, callback) {
  offload.perform(transporter, email, function (error) {
    callback(error, email);
  });
};

// The talk logged every send here; at bench rates the log would be the load.
const server = function (email, reply) {
  sendEmail(email, function (error) {
    if (error) {
      console.log(error.message);
    }
    reply('done', error);
  });
};

offload.serve(c, 'foreground', server, async () => transporter.close());
