#!/usr/bin/env node
'use strict';
/**
 * Bundles the compiled CLI (dist/cli/main.js and the modules it imports; the
 * npm dependencies stay in node_modules) into dist/cli.js with esbuild, then
 * writes its V8 code cache, dist/cli.js.cache: the bundle is compiled and
 * `agentsight --version` run once, and what V8 compiled is saved, behind the
 * bundle's SHA-256 (bin/load-cli.js checks both). Run after tsc.
 *   node scripts/build-cli.js
 */
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const ROOT = path.resolve(__dirname, '..');
const ENTRY = path.join(ROOT, 'dist', 'cli', 'main.js');

if (process.argv[2] === '--write-cache') {
  // in a fresh node, as bin/agentsight.js runs it: compile without a cache, run, save what was compiled
  const { loadBundle, bundleCurrent, identity, CACHE } = require('../bin/load-cli');
  if (!bundleCurrent()) throw new Error('build-cli: no current dist/cli.js');
  const { cli, script, bundle } = loadBundle(false);
  const io = { stdout: { write: () => true }, stderr: process.stderr };
  cli.main(['--version'], io).then((code) => {
    if (code !== 0) throw new Error(`build-cli: the bundle's --version exited ${code}`);
    const tmp = `${CACHE}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, Buffer.concat([Buffer.from(identity(bundle)), script.createCachedData()]), { mode: 0o644, flag: 'wx' });
    fs.renameSync(tmp, CACHE);
  });
  return;
}

if (!fs.existsSync(ENTRY)) {
  console.error('build-cli: no dist/cli/main.js: run "npx tsc -p tsconfig.json" first');
  process.exit(1);
}
let esbuild;
try {
  esbuild = require('esbuild');
} catch {
  console.error('build-cli: esbuild is not installed (npm ci installs it)');
  process.exit(1);
}
fs.rmSync(path.join(ROOT, 'dist', 'cli.js.cache'), { force: true });
esbuild.buildSync({
  entryPoints: [ENTRY],
  outfile: path.join(ROOT, 'dist', 'cli.js'),
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  // npm dependencies load from node_modules as usual (some find files next to themselves)
  packages: 'external',
  logLevel: 'warning',
});
const r = spawnSync(process.execPath, [__filename, '--write-cache'], { stdio: 'inherit' });
if (r.status !== 0) process.exit(r.status ?? 1);
