'use strict';
// The one module a reference server requires: the shared parts of every
// server (common.js), the lag monitor (lag.js) and the HTTP front (serve.js).
module.exports = { ...require('./common'), ...require('./lag'), ...require('./serve') };
