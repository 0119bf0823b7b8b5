#!/usr/bin/env node
'use strict';
/*
 * npm install hook: use the addon shipped in the package when it loads on
 * this machine (same libbpf ABI and Node ABI); otherwise build it from
 * source with node-gyp (needs clang, llvm, libbpf-dev, libelf-dev, zlib1g-dev).
 * AGENTSIGHT_BUILD_FROM_SOURCE=1 always builds.
 */
const path = require('node:path');
const fs = require('node:fs');
const { spawnSync } = require('node:child_process');

const addon = path.join(__dirname, '..', 'build', 'Release', 'agentsight.node');
if (!process.env.AGENTSIGHT_BUILD_FROM_SOURCE && fs.existsSync(addon)) {
  try {
    const b = require(addon);
    if (b.embeddedObjects().length > 0) {
      console.log(`agentsight: using the prebuilt addon (eBPF objects: ${b.embeddedObjects().join(', ')})`);
      process.exit(0);
    }
  } catch (err) {
    console.log(`agentsight: the prebuilt addon does not load here (${err.message.split('\n')[0]}); building from source`);
  }
}
const env = { ...process.env };
if (!env.npm_config_nodedir && fs.existsSync('/usr/include/node/node_api.h')) env.npm_config_nodedir = '/usr';
const gyp = process.env.npm_config_node_gyp;
const r = gyp
  ? spawnSync(process.execPath, [gyp, 'rebuild'], { stdio: 'inherit', env, cwd: path.join(__dirname, '..') })
  : spawnSync('node-gyp', ['rebuild'], { stdio: 'inherit', env, cwd: path.join(__dirname, '..'), shell: false });
process.exit(r.status ?? 1);
