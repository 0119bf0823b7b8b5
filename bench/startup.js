#!/usr/bin/env node
'use strict';
/**
 * Start-up and stop cost, in one run, as ratios against the same things done
 * without agentsight (and against bpftrace doing the nearest thing):
 *
 *  - what `record` adds to a command's wall time (bare `/bin/true`; record in
 *    each mode: default, --process false, --ssl false; bpftrace -c with one
 *    uprobe on libssl);
 *  - `agent` and `ssl`: launch to ready (the "attached" line), and SIGINT to exit;
 *  - launch to first captured event: `record -- curl https://...` (a local
 *    TLS server) against bare curl: the curl's first TLS write in the session
 *    file, from the launch.
 *
 * Repetitions are interleaved (one of each per round) so a busy machine
 * disturbs them alike; medians are printed. Run as root from a built tree:
 *
 *   sudo node bench/startup.js [--reps 7] [--json] [--wait-quiet SECONDS] [--sudo-env] [@/path/to/other/tree ...]
 *
 * --wait-quiet: first wait (up to SECONDS) for no other eBPF programs and an idle CPU.
 * --sudo-env: run every command with the environment `sudo` gives it (env_reset: PATH, HOME,
 *   TERM, LANG, SHELL, USER, LOGNAME), as `sudo agentsight ...` runs; else with this one's.
 *   Node's own start is measured both ways when NODE_EXTRA_CA_CERTS or NODE_OPTIONS is set (node
 *   reads and parses the certificates before it runs anything: ~50 ms on the machine measured).
 *
 * Each @path is another built checkout (e.g. of the main branch) measured in
 * the same rounds, interleaved with this one: an A/B comparison in one run.
 */
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const https = require('node:https');
const os = require('node:os');
const path = require('node:path');
const { performance } = require('node:perf_hooks');
const { median, makeCert, waitQuiet } = require('./lib/common');

const ROOT = path.join(__dirname, '..');
const args = process.argv.slice(2);
/** The trees measured: this one, then each @path given. */
const TREES = [ROOT, ...args.filter((a) => a.startsWith('@')).map((a) => path.resolve(a.slice(1)))].map((dir, i) => ({
  label: i === 0 ? 'this tree' : dir,
  bin: path.join(dir, 'bin', 'agentsight.js'),
}));
for (const t of TREES) if (!fs.existsSync(t.bin)) throw new Error(`bench/startup.js: no ${t.bin}`);
const REPS = Number(args[args.indexOf('--reps') + 1] || 7) || 7;
const JSON_OUT = args.includes('--json');
const WAIT_QUIET = args.includes('--wait-quiet') ? Number(args[args.indexOf('--wait-quiet') + 1]) || 0 : 0;
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'agentsight-startup-'));
const LIBSSL = ['/usr/lib/x86_64-linux-gnu/libssl.so.3', '/lib/x86_64-linux-gnu/libssl.so.3'].find((p) => fs.existsSync(p));
const BPFTRACE = spawnSync('bpftrace', ['--version']).status === 0;
/** What `sudo` keeps of the environment by default (env_reset), with its secure_path. */
const SUDO_ENV = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  HOME: '/root',
  SHELL: '/bin/bash',
  USER: 'root',
  LOGNAME: 'root',
  ...(process.env.TERM ? { TERM: process.env.TERM } : {}),
  ...(process.env.LANG ? { LANG: process.env.LANG } : {}),
};
const ENV = args.includes('--sudo-env') ? SUDO_ENV : process.env;
/** Variables of this environment that slow every node start (measured beside it when set). */
const NODE_START_VARS = ['NODE_EXTRA_CA_CERTS', 'NODE_OPTIONS'].filter((v) => process.env[v]);

if (process.getuid() !== 0) {
  console.error('bench/startup.js: run as root (it loads eBPF programs)');
  process.exit(1);
}

/** Wall time of a command, ms. */
function wall(cmd, argv, opts = {}) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const c = spawn(cmd, argv, { stdio: ['ignore', 'ignore', 'pipe'], env: ENV, ...opts });
    let err = '';
    c.stderr.on('data', (d) => (err += d));
    c.on('error', reject);
    c.on('exit', (code) => {
      const ms = performance.now() - t0;
      if (code !== 0 && !opts.anyStatus) reject(new Error(`${cmd} ${argv.join(' ')} exited ${code}: ${err.slice(-400)}`));
      else resolve(ms);
    });
  });
}

/** `agentsight <cmd>` until its ready line, then SIGINT until it exits: [ready ms, stop ms]. */
function readyAndStop(bin, argv) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const c = spawn(process.execPath, [bin, ...argv], { stdio: ['ignore', 'ignore', 'pipe'], env: ENV });
    let err = '';
    let ready = null;
    let t1 = 0;
    c.stderr.on('data', (d) => {
      err += d;
      if (ready === null && /Ctrl-C to stop/.test(err)) {
        ready = performance.now() - t0;
        t1 = performance.now();
        c.kill('SIGINT');
      }
    });
    c.on('exit', (code) => {
      if (ready === null) return reject(new Error(`agentsight ${argv.join(' ')} exited ${code} before it was ready: ${err.slice(-400)}`));
      resolve([ready, performance.now() - t1]);
    });
  });
}

async function main() {
  const quiet = WAIT_QUIET ? await waitQuiet(WAIT_QUIET * 1000) : null;
  const certDir = makeCert();
  const key = fs.readFileSync(path.join(certDir, 'key.pem'));
  const cert = fs.readFileSync(path.join(certDir, 'cert.pem'));
  const server = https.createServer({ key, cert }, (req, res) => {
    req.resume();
    req.on('end', () => res.end('ok\n'));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const url = `https://127.0.0.1:${server.address().port}/startup`;
  const curl = ['curl', '-sS', '--http1.1', '--cacert', path.join(certDir, 'cert.pem'), '-o', '/dev/null', url];

  const rows = new Map();
  const add = (name, ms) => rows.set(name, [...(rows.get(name) ?? []), ms]);
  const firstEvent = new Map(TREES.map((t) => [t.label, []]));
  const multi = TREES.length > 1;
  const at = (t, name) => (multi ? `${name} [${t.label}]` : name);
  for (let r = 0; r < REPS; r++) {
    add('bare /bin/true', await wall('/bin/true', []));
    add('node -e 0', await wall(process.execPath, ['-e', '0']));
    if (NODE_START_VARS.length && ENV === process.env) {
      const env = { ...process.env };
      for (const v of NODE_START_VARS) delete env[v];
      add(`node -e 0 without ${NODE_START_VARS.join(', ')}`, await wall(process.execPath, ['-e', '0'], { env }));
    }
    for (const [i, t] of TREES.entries()) {
      const out = (x) => path.join(TMP, `${x}${r}-${i}.ndjson`);
      add(at(t, 'record -- /bin/true'), await wall(process.execPath, [t.bin, 'record', '-q', '-o', out('a'), '--', '/bin/true']));
      add(
        at(t, 'record --process false -- /bin/true'),
        await wall(process.execPath, [t.bin, 'record', '-q', '--process', 'false', '-o', out('b'), '--', '/bin/true']),
      );
      add(at(t, 'record --ssl false -- /bin/true'), await wall(process.execPath, [t.bin, 'record', '-q', '--ssl', 'false', '-o', out('c'), '--', '/bin/true']));
    }
    if (BPFTRACE && LIBSSL)
      add(
        'bpftrace -c /bin/true (one libssl uprobe)',
        await wall('bpftrace', ['-e', `uprobe:${LIBSSL}:SSL_write { @n = count(); }`, '-c', '/bin/true'], { anyStatus: true }),
      );
    for (const t of TREES) {
      const [ra, sa] = await readyAndStop(t.bin, ['agent', '--comm', 'no-such-agent', '-q']);
      add(at(t, 'agent: launch to ready'), ra);
      add(at(t, 'agent: SIGINT to exit'), sa);
      const [rs, ss] = await readyAndStop(t.bin, ['ssl', '-q']);
      add(at(t, 'ssl: launch to ready'), rs);
      add(at(t, 'ssl: SIGINT to exit'), ss);
    }
    add('bare curl', await wall(curl[0], curl.slice(1)));
    for (const [i, t] of TREES.entries()) {
      const file = path.join(TMP, `d${r}-${i}.ndjson`);
      const launched = Date.now();
      add(at(t, 'record -- curl'), await wall(process.execPath, [t.bin, 'record', '-q', '--raw-ssl', '-o', file, '--', ...curl]));
      const first = fs
        .readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l))
        .find((e) => e.source === 'ssl');
      if (first) firstEvent.get(t.label).push(first.timestamp - launched);
    }
  }
  server.close();
  fs.rmSync(TMP, { recursive: true, force: true });
  fs.rmSync(certDir, { recursive: true, force: true });

  const m = (name) => median(rows.get(name) ?? []);
  const bareTrue = m('bare /bin/true');
  const bareCurl = m('bare curl');
  const added = (t) => ({
    'record (default)': Number((m(at(t, 'record -- /bin/true')) - bareTrue).toFixed(1)),
    'record --process false': Number((m(at(t, 'record --process false -- /bin/true')) - bareTrue).toFixed(1)),
    'record --ssl false': Number((m(at(t, 'record --ssl false -- /bin/true')) - bareTrue).toFixed(1)),
    'record -- curl': Number((m(at(t, 'record -- curl')) - bareCurl).toFixed(1)),
  });
  const out = {
    host: { kernel: os.release(), cpus: os.cpus().length, load: os.loadavg().map((x) => Number(x.toFixed(2))) },
    env: ENV === process.env ? `as given${NODE_START_VARS.length ? ` (with ${NODE_START_VARS.join(', ')})` : ''}` : "sudo's (env_reset)",
    reps: REPS,
    ...(quiet ? { before: quiet } : {}),
    trees: TREES.map((t) => t.label),
    median_ms: Object.fromEntries([...rows.keys()].map((k) => [k, Number(m(k).toFixed(1))])),
    added_ms: Object.fromEntries(TREES.map((t) => [t.label, added(t)])),
    ...(rows.has('bpftrace -c /bin/true (one libssl uprobe)')
      ? { bpftrace_added_ms: Number((m('bpftrace -c /bin/true (one libssl uprobe)') - bareTrue).toFixed(1)) }
      : {}),
    launch_to_first_ssl_event_ms: Object.fromEntries(TREES.map((t) => [t.label, Number(median(firstEvent.get(t.label)).toFixed(1))])),
  };
  if (JSON_OUT) return console.log(JSON.stringify(out, null, 2));
  console.log(`host: Linux ${out.host.kernel}, ${out.host.cpus} CPUs, load ${out.host.load.join(' ')}; ${REPS} interleaved repetitions, medians`);
  console.log(`environment of the commands: ${out.env}`);
  if (quiet) console.log(`before: ${quiet}`);
  for (const [k, v] of Object.entries(out.median_ms)) console.log(`  ${k.padEnd(multi ? 72 : 44)} ${v.toFixed(1).padStart(8)} ms`);
  const ratio = (v, base) => `(x${((v + base) / base).toFixed(1)} the bare command)`;
  for (const t of TREES) {
    console.log(`added to the command (median minus bare)${multi ? `, ${t.label}` : ''}:`);
    for (const [k, v] of Object.entries(out.added_ms[t.label])) {
      console.log(`  ${k.padEnd(44)} ${v.toFixed(1).padStart(8)} ms  ${ratio(v, k === 'record -- curl' ? bareCurl : bareTrue)}`);
    }
  }
  if (out.bpftrace_added_ms !== undefined)
    console.log(
      `  ${'bpftrace -c (one libssl uprobe)'.padEnd(44)} ${out.bpftrace_added_ms.toFixed(1).padStart(8)} ms  ${ratio(out.bpftrace_added_ms, bareTrue)}`,
    );
  for (const t of TREES)
    console.log(`launch to the first captured TLS event (record -- curl)${multi ? `, ${t.label}` : ''}: ${out.launch_to_first_ssl_event_ms[t.label]} ms`);
  if (multi)
    for (const k of [
      'record -- /bin/true',
      'record --process false -- /bin/true',
      'record --ssl false -- /bin/true',
      'agent: launch to ready',
      'ssl: launch to ready',
      'record -- curl',
    ])
      console.log(
        `${k}: ${TREES.slice(1)
          .map((t) => `x${(m(at(TREES[0], k)) / m(at(t, k))).toFixed(2)} of ${t.label}`)
          .join(', ')}`,
      );
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
