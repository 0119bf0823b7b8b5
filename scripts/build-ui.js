#!/usr/bin/env node
'use strict';
/**
 * Builds the web UI into web/dist (shipped in the package): web/src bundled
 * with Preact by esbuild into one script, the stylesheet and the page
 * copied. Nothing is loaded from the network at run time.
 *   node scripts/build-ui.js [--check]   --check: fail when web/dist is missing or older than its sources
 */
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const SRC = path.join(ROOT, 'web');
const OUT = path.join(SRC, 'dist');
const INPUTS = ['web/src', 'web/index.html', 'web/style.css', 'lib/ui/types.ts', 'lib/cost/format.ts'];

function newest(p) {
  const st = fs.statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  return Math.max(0, ...fs.readdirSync(p).map((f) => newest(path.join(p, f))));
}

if (process.argv.includes('--check')) {
  const out = ['app.js', 'app.css', 'index.html'].map((f) => path.join(OUT, f));
  const missing = out.filter((f) => !fs.existsSync(f));
  if (missing.length) {
    console.error(`build-ui: ${missing.map((f) => path.relative(ROOT, f)).join(', ')} missing: run "npm run build:ui"`);
    process.exit(1);
  }
  const src = Math.max(...INPUTS.map((p) => newest(path.join(ROOT, p))));
  if (Math.min(...out.map((f) => fs.statSync(f).mtimeMs)) < src) {
    console.error('build-ui: web/dist is older than its sources: run "npm run build:ui"');
    process.exit(1);
  }
  process.exit(0);
}

let esbuild;
try {
  esbuild = require('esbuild');
} catch {
  console.error('build-ui: esbuild is not installed (a development dependency): run "npm ci"');
  process.exit(1);
}

fs.mkdirSync(OUT, { recursive: true });
const result = esbuild.buildSync({
  absWorkingDir: ROOT,
  entryPoints: ['web/src/main.tsx'],
  outfile: path.join(OUT, 'app.js'),
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['es2020', 'chrome100', 'firefox100', 'safari15'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  legalComments: 'eof',
  charset: 'utf8',
  logLevel: 'warning',
  metafile: true,
});
fs.copyFileSync(path.join(SRC, 'style.css'), path.join(OUT, 'app.css'));
fs.copyFileSync(path.join(SRC, 'index.html'), path.join(OUT, 'index.html'));
const size = fs.statSync(path.join(OUT, 'app.js')).size;
const inputs = Object.keys(result.metafile.inputs).length;
process.stderr.write(`build-ui: web/dist/app.js ${(size / 1024).toFixed(1)} KiB from ${inputs} modules\n`);
