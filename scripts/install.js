#!/usr/bin/env node
'use strict';
/*
 * npm install hook. The package ships a prebuilt addon for linux-x64
 * (prebuilds/linux-x64/agentsight.node, built on glibc 2.31, N-API 8: every
 * Node >= 20): when it loads here and was built from the package's sources,
 * nothing is compiled. Otherwise it says why and builds the addon from source
 * with node-gyp into build/Release (needs gcc, g++, make, python3, clang, llvm,
 * libelf-dev, zlib1g-dev; libbpf's pinned source is fetched from a Debian mirror).
 * AGENTSIGHT_BUILD_FROM_SOURCE=1 always builds.
 */
const path = require('node:path');
const fs = require('node:fs');
const { spawnSync } = require('node:child_process');
const { nodeHeadersDir } = require('./node-headers');
const { prebuiltDir, prebuiltProblem } = require('./prebuilt');

const root = path.join(__dirname, '..');
const NEEDS = 'gcc, g++, make, python3, clang and llvm (14 or later), libelf-dev, zlib1g-dev';

function say(msg) {
  console.log(`agentsight: ${msg}`);
}

/** null when the prebuilt addon is usable here, else the reason. */
function prebuiltUnusable() {
  if (process.env.AGENTSIGHT_BUILD_FROM_SOURCE) return 'AGENTSIGHT_BUILD_FROM_SOURCE is set';
  const dir = prebuiltDir();
  if (!fs.existsSync(dir)) return `no prebuilt addon for ${process.platform}-${process.arch}`;
  const problem = prebuiltProblem(dir);
  if (problem) return problem;
  try {
    const b = require(path.join(dir, 'agentsight.node'));
    const objs = b.embeddedObjects();
    if (objs.length === 0) return 'the prebuilt addon carries no eBPF objects';
    say(`using the prebuilt addon (${path.relative(root, dir)}; libbpf ${b.libbpfVersion()}, eBPF objects: ${objs.join(', ')})`);
    return null;
  } catch (err) {
    return `the prebuilt addon does not load here (${err.message.split('\n')[0]})`;
  }
}

const why = prebuiltUnusable();
if (why === null) process.exit(0);
say(`${why}; building the addon from source (needs ${NEEDS})`);
const env = { ...process.env };
if (!env.npm_config_nodedir && nodeHeadersDir()) env.npm_config_nodedir = nodeHeadersDir();
const gyp = process.env.npm_config_node_gyp;
const r = gyp
  ? spawnSync(process.execPath, [gyp, 'rebuild'], { stdio: 'inherit', env, cwd: root })
  : spawnSync('node-gyp', ['rebuild'], { stdio: 'inherit', env, cwd: root, shell: false });
if (r.status !== 0) {
  say(
    `building the addon failed (${r.error ? r.error.message : `exit ${r.status}`}). It needs ${NEEDS} ` +
      '(Debian/Ubuntu: apt-get install gcc g++ make python3 clang llvm libelf-dev zlib1g-dev) and the libbpf ' +
      'source from a Debian mirror or a local copy (see the messages above).',
  );
}
process.exit(r.status ?? 1);
