#!/usr/bin/env node
'use strict';
/**
 * Bundles the compiled CLI (dist/cli/entry.js and the modules it imports; most
 * npm dependencies stay in node_modules, see BUNDLED) into dist/cli.js with esbuild, then
 * writes its V8 code cache, dist/cli.js.cache: the bundle is compiled,
 * `agentsight --version` run once and a command line parsed, and what V8 compiled is saved, behind the
 * bundle's SHA-256 (bin/load-cli.js checks both). Run after tsc.
 *   node scripts/build-cli.js
 */
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const ROOT = path.resolve(__dirname, '..');
const ENTRY = path.join(ROOT, 'dist', 'cli', 'entry.js');

if (process.argv[2] === '--write-cache') {
  // in a fresh node, as bin/agentsight.js runs it: compile without a cache, run, save what was compiled
  const { loadBundle, bundleCurrent, identity, CACHE } = require('../bin/load-cli');
  if (!bundleCurrent()) throw new Error('build-cli: no current dist/cli.js');
  const { cli, script, bundle } = loadBundle(false);
  const io = { stdout: { write: () => true }, stderr: process.stderr };
  const quiet = { stdout: io.stdout, stderr: { write: () => true } };
  // --version, then a tracing command's options parsed (an unknown flag stops it there: exit status 2)
  // the early loads' parse too (the flag stops it before anything is loaded)
  cli.beginEarlyLoads(['record', '--no-such-flag-at-build', '--', 'true']);
  (async () => [await cli.main(['--version'], io), await cli.main(['record', '--no-such-flag-at-build', '--', 'true'], quiet)])().then(([version, parse]) => {
    if (version !== 0) throw new Error(`build-cli: the bundle's --version exited ${version}`);
    if (parse !== 2) throw new Error(`build-cli: the bundle's option parsing exited ${parse}, not 2`);
    const tmp = `${CACHE}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, Buffer.concat([Buffer.from(identity(bundle)), script.createCachedData()]), { mode: 0o644, flag: 'wx' });
    fs.renameSync(tmp, CACHE);
  });
  return;
}

if (!fs.existsSync(ENTRY)) {
  console.error('build-cli: no dist/cli/entry.js: run "npx tsc -p tsconfig.json" first');
  process.exit(1);
}
let esbuild;
try {
  esbuild = require('esbuild');
} catch {
  console.error('build-cli: esbuild is not installed (npm ci installs it)');
  process.exit(1);
}
/*
 * npm dependencies load from node_modules as usual (some find files next to themselves, some
 * only some commands use), except the ones every command runs: yargs (with what it requires:
 * yargs-parser, cliui, y18n, string-width, ...) and eventemitter3. Bundled, they are compiled
 * from the code cache with the rest instead of resolved and compiled module by module (~20 ms).
 * yargs then finds no translations of its messages: they are in English, like agentsight's own.
 */
const BUNDLED = new Set(['yargs', 'eventemitter3']);
const packageOf = (spec) =>
  spec
    .split('/')
    .slice(0, spec.startsWith('@') ? 2 : 1)
    .join('/');
const dependencies = {
  name: 'dependencies',
  setup(build) {
    // a bare import from agentsight's own code: external unless bundled; imports inside a bundled package are bundled too
    build.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.path.startsWith('node:') || path.relative(ROOT, args.importer).split(path.sep)[0] === 'node_modules') return undefined;
      return BUNDLED.has(packageOf(args.path)) ? undefined : { path: args.path, external: true };
    });
  },
};
fs.rmSync(path.join(ROOT, 'dist', 'cli.js.cache'), { force: true });
esbuild
  .build({
    entryPoints: [ENTRY],
    outfile: path.join(ROOT, 'dist', 'cli.js'),
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    plugins: [dependencies],
    logLevel: 'warning',
  })
  .then(
    () => {
      const r = spawnSync(process.execPath, [__filename, '--write-cache'], { stdio: 'inherit' });
      if (r.status !== 0) process.exit(r.status ?? 1);
    },
    () => process.exit(1), // esbuild printed why
  );
