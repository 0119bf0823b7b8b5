#!/usr/bin/env node
'use strict';
/*
 * libbpf for the addon: the upstream source Debian ships (the orig tarball of
 * its source package), pinned by version and SHA256, fetched from this
 * machine's Debian/Ubuntu mirror (scripts/apt-sources.js, deb.debian.org as
 * the fallback), cached, and built as a position-independent static library
 * that binding.gyp links into the addon with its symbols hidden. Its headers
 * also serve the eBPF programs. At run time the addon then needs only libelf
 * and zlib.
 *
 *   node scripts/libbpf.js <out-dir>            build <out-dir>/libbpf.a and <out-dir>/include
 *   node scripts/libbpf.js --headers <out-dir>  only the headers (compiling eBPF programs)
 *   node scripts/libbpf.js --fetch              fetch into the cache, print the tarball's path
 *   node scripts/libbpf.js --mode               static | system (AGENTSIGHT_LIBBPF, checked)
 *
 * AGENTSIGHT_LIBBPF_TARBALL  use this copy of the tarball (checked like a download)
 * AGENTSIGHT_CACHE_DIR       cache directory (default $XDG_CACHE_HOME/agentsight or ~/.cache/agentsight)
 * AGENTSIGHT_LIBBPF=system   link the system's shared libbpf (>= 1.3) instead; binding.gyp reads it
 */
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { aptMirrors, fetchBuffer } = require('./apt-sources');

const LIBBPF = {
  version: '1.5.0',
  file: 'libbpf_1.5.0.orig.tar.gz',
  size: 1036613,
  sha256: '53492aff6dd47e4da04ef5e672d753b9743848bdb38e9d90eafbe190b7983c44',
  pool: 'pool/main/libb/libbpf',
};
// -fPIC: linked into a shared object (the addon). No -Werror: any gcc or clang may build it.
const CFLAGS = '-O2 -Wall -std=gnu89 -fPIC';

function say(msg) {
  process.stderr.write(`libbpf: ${msg}\n`);
}

function cacheDirs(outDir) {
  const dirs = [];
  if (process.env.AGENTSIGHT_CACHE_DIR) dirs.push(process.env.AGENTSIGHT_CACHE_DIR);
  else if (process.env.XDG_CACHE_HOME) dirs.push(path.join(process.env.XDG_CACHE_HOME, 'agentsight'));
  else dirs.push(path.join(os.homedir(), '.cache', 'agentsight'));
  if (outDir) dirs.push(outDir);
  return dirs;
}

function verify(buf) {
  if (buf.length !== LIBBPF.size) return `size ${buf.length}, expected ${LIBBPF.size}`;
  const sum = crypto.createHash('sha256').update(buf).digest('hex');
  if (sum !== LIBBPF.sha256) return `SHA256 ${sum}, expected ${LIBBPF.sha256}`;
  return null;
}

function writeCache(buf, dirs) {
  for (const d of dirs) {
    try {
      fs.mkdirSync(d, { recursive: true });
      const target = path.join(d, LIBBPF.file);
      const tmp = `${target}.${process.pid}.tmp`;
      fs.writeFileSync(tmp, buf);
      fs.renameSync(tmp, target);
      return target;
    } catch {
      /* not writable: next */
    }
  }
  throw new Error(`no writable cache directory among ${dirs.join(', ')}`);
}

/** Path of a verified tarball: the given copy, a cached one, or a fresh download. */
async function tarball(outDir) {
  const given = process.env.AGENTSIGHT_LIBBPF_TARBALL;
  if (given) {
    if (!fs.existsSync(given)) throw new Error(`AGENTSIGHT_LIBBPF_TARBALL=${given}: no such file`);
    const bad = verify(fs.readFileSync(given));
    if (bad) throw new Error(`AGENTSIGHT_LIBBPF_TARBALL=${given} is not ${LIBBPF.file}: ${bad}`);
    return given;
  }
  const dirs = cacheDirs(outDir);
  for (const d of dirs) {
    const f = path.join(d, LIBBPF.file);
    if (!fs.existsSync(f)) continue;
    const bad = verify(fs.readFileSync(f));
    if (!bad) return f;
    say(`ignoring ${f}: ${bad}`);
  }
  const tried = [];
  for (const mirror of aptMirrors()) {
    const url = `${mirror}/${LIBBPF.pool}/${LIBBPF.file}`;
    try {
      const buf = await fetchBuffer(url);
      const bad = verify(buf);
      if (bad) {
        tried.push(`${url}: ${bad}`);
        continue;
      }
      const f = writeCache(buf, dirs);
      say(`fetched ${url} (${buf.length} bytes, SHA256 verified) into ${f}`);
      return f;
    } catch (err) {
      tried.push(`${url}: ${err.message}`);
    }
  }
  throw new Error(
    `cannot fetch the libbpf ${LIBBPF.version} source the addon is built with:\n` +
      tried.map((t) => `  ${t}`).join('\n') +
      `\nTo build without network access, either\n` +
      `  - copy ${LIBBPF.file} (${LIBBPF.size} bytes, SHA256 ${LIBBPF.sha256},\n` +
      `    from http://deb.debian.org/debian/${LIBBPF.pool}/) to ${path.join(dirs[0], LIBBPF.file)}\n` +
      `    or set AGENTSIGHT_LIBBPF_TARBALL to its path, or\n` +
      `  - link the system's shared libbpf 1.3 or later instead (Debian 13, Ubuntu 24.04 and later:\n` +
      `    apt-get install libbpf-dev) by building with AGENTSIGHT_LIBBPF=system; the addon then also\n` +
      `    needs libbpf1 at run time.`,
  );
}

function run(cmd, args, opts = {}) {
  // A make of its own (node-gyp's make does not hand its job slots to actions).
  const env = { ...process.env };
  for (const v of ['MAKEFLAGS', 'MFLAGS', 'MAKELEVEL', 'MAKEOVERRIDES']) delete env[v];
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'], env, ...opts });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.status})`);
}

/** The headers libbpf compiles against must be here: say which packages bring them. */
function checkBuildHeaders() {
  const cc = process.env.CC || 'cc';
  const missing = [];
  for (const [header, pkg] of [
    ['gelf.h', 'libelf-dev'],
    ['zlib.h', 'zlib1g-dev'],
  ]) {
    const r = spawnSync(cc, ['-E', '-x', 'c', '-'], { input: `#include <${header}>\n`, stdio: ['pipe', 'ignore', 'ignore'] });
    if (r.error) throw new Error(`no C compiler (${cc}: ${r.error.message}); install gcc (Debian/Ubuntu: apt-get install gcc make)`);
    if (r.status !== 0) missing.push(pkg);
  }
  if (missing.length) throw new Error(`building libbpf needs ${missing.join(' and ')} (apt-get install ${missing.join(' ')})`);
}

function extract(tgz, srcDir) {
  fs.rmSync(srcDir, { recursive: true, force: true });
  fs.mkdirSync(srcDir, { recursive: true });
  run('tar', ['-xzf', tgz, '-C', srcDir, '--strip-components=1']);
}

function makeArgs(srcDir, outDir) {
  return [
    '-s',
    '-C',
    path.join(srcDir, 'src'),
    `-j${os.availableParallelism ? os.availableParallelism() : os.cpus().length}`,
    'BUILD_STATIC_ONLY=1',
    'NO_PKG_CONFIG=1',
    `OBJDIR=${outDir}`,
    `DESTDIR=${outDir}`,
    'PREFIX=',
    'INCLUDEDIR=/include',
    'UAPIDIR=/include',
    `CFLAGS=${CFLAGS}`,
  ];
}

async function build(outDir, headersOnly) {
  outDir = path.resolve(outDir);
  fs.mkdirSync(outDir, { recursive: true });
  const stampFile = path.join(outDir, 'libbpf.stamp');
  const stamp = JSON.stringify({ ...LIBBPF, cflags: CFLAGS, headersOnly });
  const want = path.join(outDir, headersOnly ? 'include/bpf/libbpf.h' : 'libbpf.a');
  if (fs.existsSync(want) && fs.existsSync(stampFile) && fs.readFileSync(stampFile, 'utf8') === stamp) {
    // Up to date: refresh the mtimes so make does not run this again.
    const now = new Date();
    for (const f of [want, path.join(outDir, 'include/bpf/libbpf.h')]) fs.utimesSync(f, now, now);
    return;
  }
  const tgz = await tarball(outDir);
  const srcDir = path.join(outDir, 'src');
  extract(tgz, srcDir);
  const t0 = Date.now();
  if (headersOnly) {
    run('make', [...makeArgs(srcDir, outDir), 'install_headers', 'install_uapi_headers']);
  } else {
    checkBuildHeaders();
    say(`building libbpf ${LIBBPF.version} (static, ${CFLAGS})`);
    run('make', [...makeArgs(srcDir, outDir), `${outDir}/libbpf.a`, 'install_headers', 'install_uapi_headers']);
    say(`built ${path.join(outDir, 'libbpf.a')} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
  fs.rmSync(srcDir, { recursive: true, force: true });
  fs.rmSync(path.join(outDir, 'staticobjs'), { recursive: true, force: true });
  fs.writeFileSync(stampFile, stamp);
}

function mode() {
  const m = process.env.AGENTSIGHT_LIBBPF || 'static';
  if (m !== 'static' && m !== 'system') throw new Error(`AGENTSIGHT_LIBBPF=${m}: expected static (the default) or system`);
  if (m === 'system') say("AGENTSIGHT_LIBBPF=system: linking the system's shared libbpf (needs libbpf-dev >= 1.3 to build, libbpf1 to run)");
  return m;
}

async function main() {
  const args = process.argv.slice(2);
  if (args[0] === '--mode') {
    process.stdout.write(mode() + '\n');
  } else if (args[0] === '--fetch') {
    process.stdout.write((await tarball(null)) + '\n');
  } else if (args[0] === '--headers' && args[1]) {
    await build(args[1], true);
  } else if (args[0] && !args[0].startsWith('-')) {
    await build(args[0], false);
  } else {
    throw new Error('usage: libbpf.js <out-dir> | --headers <out-dir> | --fetch | --mode');
  }
}

module.exports = { LIBBPF };

if (require.main === module) {
  main().catch((err) => {
    say(err.message);
    process.exit(1);
  });
}
