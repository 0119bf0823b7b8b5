'use strict';
/**
 * File-open load for bench/process-rate.js: open+close one file at a paced
 * rate (opens/s; 0 = as fast as possible) for a number of seconds, then print
 * {"opens":N,"ms":T}. Started through a symlink so that its process name
 * (comm) is the symlink's, which the tracer selects with --comm.
 *
 *   asbench-open RATE SECS PATH
 */
const fs = require('node:fs');

const rate = Number(process.argv[2] ?? 0);
const secs = Number(process.argv[3] ?? 2);
const file = process.argv[4] ?? '/etc/hostname';

const t0 = process.hrtime.bigint();
const end = t0 + BigInt(Math.round(secs * 1e9));
let opens = 0;

function burst() {
  const now = process.hrtime.bigint();
  if (now >= end) {
    process.stdout.write(`${JSON.stringify({ opens, ms: Number(now - t0) / 1e6 })}\n`);
    return;
  }
  const due = rate > 0 ? Math.floor((Number(now - t0) / 1e9) * rate) : opens + 1000;
  for (let n = 0; opens < due && n < 5000; n++) {
    fs.closeSync(fs.openSync(file, 'r'));
    opens++;
  }
  if (rate > 0 && opens >= due) setTimeout(burst, 1);
  else setImmediate(burst);
}
burst();
