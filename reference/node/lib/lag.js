'use strict';
// GET /debug/lag for real Node, in the JSON of offload's lag monitor
// (lagmonitor.Snapshot), so one harness reads both. The probe is Node's own,
// perf_hooks.monitorEventLoopDelay, sampling every 20 ms as offload's monitor
// probes (its Interval); the block threshold (10 ms, node-resque's
// maxEventLoopDelay) and the 100 ms buckets of the time series are offload's
// too.
//
// monitorEventLoopDelay records the whole time between two firings of its
// timer, the interval included, so the interval is taken off every figure:
// what is left is how late the probe ran, which is what offload reports.

const { monitorEventLoopDelay } = require('node:perf_hooks');

const intervalMS = 20;
const blockThresholdMS = 10;
const bucketMS = 100;
const keep = 6000; // buckets kept, as offload's monitor keeps

function lagMonitor() {
  const all = monitorEventLoopDelay({ resolution: intervalMS });
  // A second histogram, emptied every bucket, gives the series' maxima.
  const bucket = monitorEventLoopDelay({ resolution: intervalMS });
  all.enable();
  bucket.enable();
  let since = new Date();
  let samples = [];
  const ms = (ns) => Math.max(0, Math.round((ns / 1e6 - intervalMS) * 1000) / 1000);
  const tick = setInterval(() => {
    if (bucket.count > 0) {
      const t = new Date(Math.floor(Date.now() / bucketMS) * bucketMS - bucketMS);
      samples.push({ t: t.toISOString(), max_ms: ms(bucket.max), n: bucket.count });
      if (samples.length > keep) samples.shift();
    }
    bucket.reset();
  }, bucketMS);
  tick.unref();

  // atLeast estimates how many probes were at least v ns apart: the
  // histogram keeps no list of them, but its percentiles locate v's rank to
  // its own precision.
  const atLeast = (v) => {
    if (all.count === 0 || all.max < v) return 0;
    let lo = 0;
    let hi = 100;
    for (let i = 0; i < 30; i++) {
      const mid = (lo + hi) / 2;
      if (all.percentile(Math.max(mid, 1e-9)) >= v) hi = mid;
      else lo = mid;
    }
    return Math.max(1, Math.round(all.count * (100 - hi) / 100));
  };

  return {
    snapshot(after) {
      const s = all.count > 0 ? all : null;
      const p = (q) => (s ? Math.min(ms(s.percentile(q)), ms(s.max)) : 0);
      return {
        loop: 'nodejs',
        since: since.toISOString(),
        interval_ms: intervalMS,
        block_threshold_ms: blockThresholdMS,
        count: all.count,
        blocks: atLeast((intervalMS + blockThresholdMS) * 1e6),
        p50_ms: p(50), p90_ms: p(90), p99_ms: p(99), p999_ms: p(99.9),
        max_ms: s ? ms(s.max) : 0,
        mean_ms: s ? ms(s.mean) : 0,
        sched: { p50_ms: 0, p90_ms: 0, p99_ms: 0, p999_ms: 0, max_ms: 0, mean_ms: 0 },
        samples: after ? samples.filter((x) => new Date(x.t) >= after) : samples.slice(),
      };
    },
    reset() {
      all.reset();
      bucket.reset();
      samples = [];
      since = new Date();
    },
    close() {
      clearInterval(tick);
      all.disable();
      bucket.disable();
    },
  };
}

module.exports = { lagMonitor };
