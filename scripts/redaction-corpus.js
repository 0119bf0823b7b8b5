#!/usr/bin/env node
'use strict';
/**
 * False negatives and false positives of redaction on the corpus
 * (test/fixtures/redaction-corpus.js), through every chain the CLI builds.
 *
 *   npx tsc -p tsconfig.json && node scripts/redaction-corpus.js [--list] [--splits N]
 *
 * False negatives: (secret, place, chain) runs where 8 characters in a row
 * of the secret appear anywhere in what the run wrote (events, console json
 * and pretty, file, summary), over N random splits of the bytes into TLS
 * calls each (default 3) plus one fixed split.
 * False positives: changes outside credentials, counted per changed string
 * (or run of changed ssl bytes): in the recorded sessions of
 * test/fixtures/*.ndjson (real clients: curl, python, the openai and
 * anthropic SDKs) compared with a run without redaction, and in the
 * near-miss scenarios (nothing in them is a secret).
 * --list prints each miss.
 */
const fs = require('fs');
const os = require('os');
const path = require('path');

const root = path.join(__dirname, '..');
let lib;
try {
  lib = require(path.join(root, 'dist', 'index'));
} catch (e) {
  console.error('scripts/redaction-corpus.js needs the compiled library: run `npx tsc -p tsconfig.json` first.\n' + e.message);
  process.exit(1);
}
const { zstdCompress } = require(path.join(root, 'dist', 'standin', 'encoding'));
const { TEST_API_KEYS } = require(path.join(root, 'dist', 'standin', 'keys'));
const C = require(path.join(root, 'test', 'fixtures', 'redaction-corpus.js'));
const W = require(path.join(root, 'test', 'fixtures', 'wire-samples.js'));

const args = process.argv.slice(2);
const list = args.includes('--list');
const splitsAt = args.indexOf('--splits');
const splits = splitsAt !== -1 ? Number(args[splitsAt + 1]) : 3;

/** Events as a replay of a capture gives them (readNdjson): the shape the tracers write. */
const factories = {
  ssl(fn, bytes, { conn = 'c', mono = 0 } = {}) {
    return {
      timestamp: 1764304392000 + Math.floor(mono / 1e6),
      mono_ns: mono,
      source: 'ssl',
      pid: 4242,
      comm: 'python3',
      data: {
        function: fn,
        pid: 4242,
        tid: 4242,
        uid: 1000,
        comm: 'python3',
        len: bytes.length,
        ...lib.encodePayload(bytes),
        truncated: false,
        bytes_lost: 0,
        conn_id: `4242:${conn}`,
      },
    };
  },
  exec({ argv, mono = 0, filename }) {
    return {
      timestamp: 1764304392000 + Math.floor(mono / 1e6),
      mono_ns: mono,
      source: 'process',
      pid: 4243,
      comm: argv[0].slice(0, 15),
      data: { event: 'EXEC', ppid: 4242, tid: 4243, uid: 1000, filename, argv, full_command: argv.join(' '), argv_truncated: false },
    };
  },
  fileOpen({ path: p, mono = 0 }) {
    return {
      timestamp: 1764304392000 + Math.floor(mono / 1e6),
      mono_ns: mono,
      source: 'process',
      pid: 4243,
      comm: 'cat',
      data: { event: 'FILE_OPEN', filepath: p, flags: 'O_RDONLY', fd: 3 },
    };
  },
};

function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a * 1664525 + 1013904223) >>> 0;
    return a / 4294967296;
  };
}

const withRedaction = (c, on) => ({ ...c, opts: { ...c.opts, redact: on } });

async function falseNegatives() {
  const misses = [];
  let runs = 0;
  const file = path.join(os.tmpdir(), `agentsight-corpus-${process.pid}.ndjson`);
  const r = rng(7);
  const cutters = [(b) => [Math.floor(b.length / 3), Math.floor(b.length / 2) + 1]];
  for (let k = 0; k < splits; k++) cutters.push((b) => Array.from({ length: 1 + Math.floor(r() * 6) }, () => Math.floor(r() * b.length)));
  let n = 0;
  for (const c of C.cases()) {
    for (const ch of C.CHAINS) {
      if (ch.kind === 'ssl' && !c.scenario.exchanges) continue;
      for (const cut of cutters) {
        const events = C.scenarioEvents(c.scenario, factories, cut);
        fs.rmSync(file, { force: true });
        const out = await C.runChain(lib, ch, events, n++ % 50 === 0 ? file : null);
        runs++;
        const found = C.leaks(c.secret.value, out.texts);
        if (found.length) misses.push(`${c.secret.kind} in ${c.position} via ${ch.name}: "${found[0]}"`);
      }
    }
  }
  fs.rmSync(file, { force: true });
  return { runs, misses };
}

async function falsePositives() {
  const changes = [];
  let checked = 0;
  let policy = 0;
  const note = (what, r) => {
    for (const x of r.changes) changes.push(`${what}: ${x}`);
    policy += r.policy;
  };
  const known = [...TEST_API_KEYS, W.ANTHROPIC_KEY, W.OPENAI_KEY, W.GOOGLE_KEY];
  const dir = path.join(root, 'test', 'fixtures');
  for (const f of fs
    .readdirSync(dir)
    .filter((x) => x.endsWith('.ndjson'))
    .sort()) {
    const events = fs
      .readFileSync(path.join(dir, f), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    for (const ch of C.CHAINS) {
      const clear = await C.runChain(lib, withRedaction(ch, false), structuredClone(events), null);
      const masked = await C.runChain(lib, withRedaction(ch, true), structuredClone(events), null);
      checked += clear.events.length;
      note(`${f} via ${ch.name}`, C.unexplainedChanges(lib, clear.events, masked.events, known));
    }
  }
  for (const nm of C.nearMissScenarios()) {
    for (const ch of C.CHAINS) {
      const events = C.scenarioEvents(nm.scenario, factories, (b) => [Math.floor(b.length / 2)]);
      const clear = await C.runChain(lib, withRedaction(ch, false), events, null);
      const masked = await C.runChain(lib, withRedaction(ch, true), events, null);
      checked += clear.events.length;
      note(`${nm.name} via ${ch.name}`, C.unexplainedChanges(lib, clear.events, masked.events, known));
    }
  }
  return { checked, changes, policy };
}

async function main() {
  await C.prepare(zstdCompress);
  const t0 = Date.now();
  const fn = await falseNegatives();
  const fp = await falsePositives();
  console.log(
    `redaction corpus: ${C.SECRETS.length} kinds of secret x ${Object.keys(C.POSITIONS).length} places x ${C.CHAINS.length} chains, ${splits + 1} splits each`,
  );
  console.log(`false negatives: ${fn.misses.length} of ${fn.runs} runs leaked 8 characters of a secret`);
  console.log(
    `false positives: ${fp.changes.length} changes outside credentials in ${fp.checked} events (recorded sessions and ${C.NEAR_MISSES.length} near-misses)`,
  );
  console.log(
    `(by policy, not counted: compressed body bytes replaced in ${fp.policy} raw ssl events or raw copies; ${((Date.now() - t0) / 1000).toFixed(1)} s)`,
  );
  if (list) {
    for (const m of fn.misses) console.log(`FN ${m}`);
    for (const c of fp.changes) console.log(`FP ${c}`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
