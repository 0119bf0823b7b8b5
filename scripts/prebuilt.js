#!/usr/bin/env node
'use strict';
/*
 * The prebuilt addon the npm package ships: prebuilds/<platform>-<arch>/
 * agentsight.node, and beside it agentsight.json, which names the sources it
 * was built from (a hash of everything the build reads). The install hook uses
 * the prebuilt only when that hash is the package's; `npm pack` refuses to
 * pack a missing or stale one.
 *
 *   node scripts/prebuilt.js --stamp FILE.node   write the .json for this prebuilt
 *   node scripts/prebuilt.js --check             exit 1 (saying why) unless the prebuilt is current
 *
 * AGENTSIGHT_PACK_WITHOUT_PREBUILT=1 makes --check pass anyway (the package then builds on install).
 */
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');

function prebuiltDir(platform = process.platform, arch = process.arch) {
  return path.join(root, 'prebuilds', `${platform}-${arch}`);
}

function walk(dir, pred) {
  const out = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p, pred));
    else if (pred(p)) out.push(p);
  }
  return out;
}

/** Hash of every file the addon's build reads, in a stable order. */
function sourceHash() {
  const files = [
    path.join(root, 'binding.gyp'),
    ...['build-bpf.js', 'libbpf.js', 'apt-sources.js'].map((f) => path.join(root, 'scripts', f)),
    ...walk(path.join(root, 'native'), (p) => /\.(cc|h)$/.test(p)),
    ...walk(path.join(root, 'bpf'), (p) => /\.(c|h)$/.test(p)),
  ].sort();
  const h = crypto.createHash('sha256');
  for (const f of files) {
    h.update(path.relative(root, f) + '\0');
    h.update(fs.readFileSync(f));
    h.update('\0');
  }
  return h.digest('hex');
}

function stampPath(node) {
  return node.replace(/\.node$/, '.json');
}

/** null when the prebuilt exists and was built from these sources, else why not. */
function prebuiltProblem(dir = prebuiltDir()) {
  const node = path.join(dir, 'agentsight.node');
  if (!fs.existsSync(node)) return `no prebuilt addon at ${path.relative(root, node)}`;
  let stamp;
  try {
    stamp = JSON.parse(fs.readFileSync(stampPath(node), 'utf8'));
  } catch {
    return `no readable ${path.relative(root, stampPath(node))} beside the prebuilt addon`;
  }
  if (stamp.sources !== sourceHash()) return 'the prebuilt addon was built from other sources than these';
  return null;
}

module.exports = { prebuiltDir, sourceHash, prebuiltProblem, stampPath };

if (require.main === module) {
  const [flag, file] = process.argv.slice(2);
  if (flag === '--stamp' && file) {
    const info = JSON.parse(process.env.AGENTSIGHT_PREBUILT_INFO || '{}');
    fs.writeFileSync(stampPath(file), JSON.stringify({ sources: sourceHash(), ...info }, null, 2) + '\n');
  } else if (flag === '--check') {
    const problem = prebuiltProblem();
    if (problem && process.env.AGENTSIGHT_PACK_WITHOUT_PREBUILT !== '1') {
      process.stderr.write(
        `agentsight: ${problem}; build it with scripts/build-prebuilt.sh (as root), or pack without it ` +
          '(installs then build from source) with AGENTSIGHT_PACK_WITHOUT_PREBUILT=1\n',
      );
      process.exit(1);
    }
    if (problem) process.stderr.write(`agentsight: packing without a prebuilt addon (${problem})\n`);
  } else {
    process.stderr.write('usage: prebuilt.js --stamp FILE.node | --check\n');
    process.exit(2);
  }
}
