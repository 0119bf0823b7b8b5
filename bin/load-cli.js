'use strict';
/**
 * Loads the CLI. The build bundles it into one script, dist/cli.js
 * (scripts/build-cli.js), with a V8 code cache next to it, dist/cli.js.cache:
 * one file to read and little to compile instead of ~150 modules to resolve
 * and compile, which is most of what a command waits for before it starts.
 * Falls back to dist/cli/entry.js when there is no bundle or, in a checkout
 * (tsconfig.json is there), when the bundle is older than that: `tsc` ran
 * without the bundling step. An installed package has both from one build. The cache is used only when it was
 * made for this very bundle (its identity is written in front of it) and is
 * the package's own (owned by root or by whoever runs this, writable by no
 * one else); V8 refuses one made by another version or with other flags.
 */
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const Module = require('node:module');

const DIST = path.join(__dirname, '..', 'dist');
const BUNDLE = path.join(DIST, 'cli.js');
const CACHE = `${BUNDLE}.cache`;

/** What the cache starts with: the bundle's SHA-256 (V8 itself checks only the source's length). */
function identity(bundle) {
  return `agentsight-cli-cache/1 ${crypto.createHash('sha256').update(bundle).digest('hex')}\n`;
}

/** The cache's V8 data when it belongs to this bundle and to this package, else undefined. */
function readCache(bundle) {
  let fd;
  try {
    fd = fs.openSync(CACHE, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    const c = fs.fstatSync(fd);
    if (!c.isFile() || (c.uid !== 0 && c.uid !== process.geteuid()) || (c.mode & 0o022) !== 0) return undefined;
    const data = fs.readFileSync(fd);
    const head = Buffer.from(identity(bundle));
    return data.subarray(0, head.length).equals(head) ? data.subarray(head.length) : undefined;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** The bundle's exports, compiled with the cache; `script` and `bundle` given to the build to make the cache. */
function loadBundle(withCache = true) {
  const bundle = fs.readFileSync(BUNDLE);
  const source = Module.wrap(bundle.toString('utf8'));
  const script = new vm.Script(source, { filename: BUNDLE, cachedData: withCache ? readCache(bundle) : undefined });
  const mod = { exports: {} };
  script.runInThisContext().call(mod.exports, mod.exports, Module.createRequire(BUNDLE), mod, BUNDLE, DIST);
  return { cli: mod.exports, script, bundle };
}

/** Is the bundle there (and, in a checkout, not older than the unbundled build)? */
function bundleCurrent() {
  try {
    const bundle = fs.statSync(BUNDLE).mtimeMs;
    if (!fs.existsSync(path.join(__dirname, '..', 'tsconfig.json'))) return true;
    return bundle >= fs.statSync(path.join(DIST, 'cli', 'main.js')).mtimeMs;
  } catch {
    return false;
  }
}

/** The CLI's entry (dist/cli/entry.js): beginEarlyLoads(argv) and main(argv, io). */
function loadCli() {
  if (bundleCurrent()) return loadBundle().cli;
  return require('../dist/cli/entry');
}

module.exports = { loadCli, loadBundle, bundleCurrent, identity, BUNDLE, CACHE };
