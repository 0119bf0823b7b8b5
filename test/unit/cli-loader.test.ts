/**
 * bin/load-cli.js: the CLI bundle and its V8 code cache. The cache is taken
 * only when it was made for this bundle and belongs to the package; a bundle
 * older than the unbundled build is not used.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve(__dirname, '..', '..');

/** A package layout in a temporary directory: bin/load-cli.js, dist/cli.js (+ cache), dist/cli/entry.js and main.js. */
function layout(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentsight-loader-'));
  fs.mkdirSync(path.join(dir, 'bin'));
  fs.mkdirSync(path.join(dir, 'dist', 'cli'), { recursive: true });
  fs.copyFileSync(path.join(ROOT, 'bin', 'load-cli.js'), path.join(dir, 'bin', 'load-cli.js'));
  fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(dir, 'package.json'));
  fs.copyFileSync(path.join(ROOT, 'tsconfig.json'), path.join(dir, 'tsconfig.json')); // a checkout
  fs.writeFileSync(path.join(dir, 'dist', 'cli', 'entry.js'), "exports.which = 'unbundled';\n");
  fs.writeFileSync(path.join(dir, 'dist', 'cli', 'main.js'), '');
  const old = new Date(Date.now() - 60_000);
  for (const f of ['entry.js', 'main.js']) fs.utimesSync(path.join(dir, 'dist', 'cli', f), old, old);
  fs.copyFileSync(path.join(ROOT, 'dist', 'cli.js'), path.join(dir, 'dist', 'cli.js'));
  fs.copyFileSync(path.join(ROOT, 'dist', 'cli.js.cache'), path.join(dir, 'dist', 'cli.js.cache'));
  fs.chmodSync(path.join(dir, 'dist', 'cli.js.cache'), 0o644);
  return dir;
}

/** In a plain node (V8 refuses a cache made with other flags, and the test runner adds some). */
function probe(dir: string): { cache: string; which: string } {
  const js = `
    const l = require(${JSON.stringify(path.join(dir, 'bin', 'load-cli.js'))});
    const which = typeof l.loadCli().main === 'function' ? 'bundle' : l.loadCli().which;
    const r = l.bundleCurrent() ? l.loadBundle() : null;
    const cache = r === null ? 'no bundle' : r.script.cachedDataRejected === undefined ? 'none given' : r.script.cachedDataRejected ? 'rejected' : 'used';
    console.log(JSON.stringify({ cache, which }));`;
  const r = spawnSync(process.execPath, ['-e', js], {
    encoding: 'utf8',
    env: { ...process.env, NODE_PATH: path.join(ROOT, 'node_modules'), NODE_OPTIONS: '' },
  });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop() as string);
}

beforeAll(() => {
  if (!fs.existsSync(path.join(ROOT, 'dist', 'cli.js.cache'))) throw new Error('no dist/cli.js.cache: run "npm run build:ts"');
});

describe('the CLI bundle and its code cache', () => {
  it("the build's cache is used for its bundle", () => {
    expect(probe(layout())).toEqual({ cache: 'used', which: 'bundle' });
  });

  it('a cache made for another bundle is not given to V8 (it checks only the length)', () => {
    const dir = layout();
    const cache = path.join(dir, 'dist', 'cli.js.cache');
    const data = fs.readFileSync(cache);
    const nl = data.indexOf(10);
    const head = data
      .subarray(0, nl)
      .toString()
      .replace(/[0-9a-f]$/, (c) => (c === '0' ? '1' : '0'));
    fs.writeFileSync(cache, Buffer.concat([Buffer.from(head), data.subarray(nl)]), { mode: 0o644 });
    expect(probe(dir).cache).toBe('none given');
  });

  it('a cache others may write, or a symlink in its place, is not read', () => {
    const dir = layout();
    const cache = path.join(dir, 'dist', 'cli.js.cache');
    fs.chmodSync(cache, 0o666);
    expect(probe(dir).cache).toBe('none given');
    fs.chmodSync(cache, 0o644);
    fs.renameSync(cache, `${cache}.real`);
    fs.symlinkSync(`${cache}.real`, cache);
    expect(probe(dir).cache).toBe('none given');
  });

  it('in a checkout, a bundle older than the unbundled build is passed over for dist/cli/entry.js; an installed package uses its bundle', () => {
    const dir = layout();
    const old = new Date(Date.now() - 120_000);
    fs.utimesSync(path.join(dir, 'dist', 'cli.js'), old, old);
    expect(probe(dir)).toEqual({ cache: 'no bundle', which: 'unbundled' });
    fs.rmSync(path.join(dir, 'tsconfig.json'));
    expect(probe(dir)).toEqual({ cache: 'used', which: 'bundle' });
  });
});
