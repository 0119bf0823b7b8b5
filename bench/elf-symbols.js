#!/usr/bin/env node
'use strict';
/**
 * How long the ELF reader takes to find symbols in a large executable (the
 * node binary, ~100 MB), against binutils' nm reading the same file, in one
 * run (no root needed).
 *
 *   npx tsc -p tsconfig.json && node bench/elf-symbols.js [reps=7]
 */
const { execFileSync } = require('node:child_process');
const path = require('node:path');
const { median } = require('./lib/common');

let elf;
try {
  elf = require(path.join(__dirname, '..', 'dist', 'elf'));
} catch (e) {
  console.error('bench/elf-symbols.js needs the compiled library: run `npx tsc -p tsconfig.json` first.\n' + e.message);
  process.exit(1);
}

const FILE = process.execPath;
const NAMES = ['SSL_write', 'SSL_read', 'SSL_write_ex', 'SSL_read_ex', 'SSL_do_handshake', 'SSL_new', 'SSL_free', 'SSL_connect', 'SSL_shutdown', 'SSL_CTX_new'];
const reps = Number(process.argv[2] ?? 7);
/** What TLS discovery asks of every executable (lib/tracers/ssl/targets.ts). */
const ALL_TLS = require(path.join(__dirname, '..', 'dist', 'tracers', 'ssl', 'targets')).FAMILIES.flatMap((f) => f.symbols.map(([s]) => s));

async function main() {
  console.log(`node ${process.argv.slice(1).join(' ')}  (${new Date().toISOString()}, ${FILE})`);
  await elf.findSymbols(FILE, NAMES); // warm the page cache
  const ours = [];
  const nm = [];
  for (let i = 0; i < reps; i++) {
    let t = process.hrtime.bigint();
    const found = await elf.findSymbols(FILE, NAMES);
    ours.push(Number(process.hrtime.bigint() - t) / 1e6);
    if (found.length !== NAMES.length) throw new Error(`found ${found.length} of ${NAMES.length} symbols`);
    t = process.hrtime.bigint();
    execFileSync('nm', ['-D', '--defined-only', FILE], { maxBuffer: 256 << 20 });
    nm.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  const a = median(ours);
  const b = median(nm);
  console.log(`findSymbols, ${NAMES.length} names: median ${a.toFixed(1)} ms of ${reps}`);
  console.log(`nm -D --defined-only (baseline): median ${b.toFixed(1)} ms`);
  console.log(`ratio findSymbols / nm: ${(a / b).toFixed(2)}`);
  // the first lookup of a process, as a command's start-up makes it (the code not compiled yet);
  // with the names of every TLS family agentsight looks for, so .symtab is read too
  const cold = [];
  const script = `const e=require(${JSON.stringify(path.join(__dirname, '..', 'dist', 'elf'))});const t=process.hrtime.bigint();e.findSymbols(${JSON.stringify(FILE)},${JSON.stringify(ALL_TLS)}).then(()=>process.stdout.write(String(Number(process.hrtime.bigint()-t)/1e6)))`;
  for (let i = 0; i < reps; i++) cold.push(Number(execFileSync(process.execPath, ['-e', script]).toString()));
  const c = median(cold);
  console.log(
    `first findSymbols of a process, ${ALL_TLS.length} TLS names (.dynsym and .symtab): median ${c.toFixed(1)} ms; ratio to nm ${(c / b).toFixed(2)}`,
  );
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
