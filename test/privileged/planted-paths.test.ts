/**
 * Root against files an unprivileged user (uid 65534, nobody) planted: cache
 * directories and verdicts, --output files, HOME and XDG_CACHE_HOME passed on
 * by `sudo -E`, programs on PATH. In each case root does not follow, does not
 * trust, does not write, and says why.
 */
import { createHash } from 'node:crypto';
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, afterEach, expect, it } from 'vitest';
import { defaultCacheDir, locateTls, LOCATOR_VERSION, ROOT_CACHE_DIR, type LocatorVerdict } from '../../lib/locator';
import { CACHE_FORMAT } from '../../lib/locator/cache';
import { createTlsMaterial } from '../../lib/standin/tls';
import { signalTree } from '../../lib/session/recording';
import { runCli, type CliRun } from '../support/cli';
import { describePrivileged } from '../support/privileged';
import versions from '../support/claude-code-versions.json';

const NOBODY = 65534;
const HOSTILE_REASON = 'planted: not supported \x1b]0;pwned\x07\x1b[2J\nagentsight: FORGED';
const CLAUDE_CACHE = process.env.AGENTSIGHT_CLAUDE_CODE_CACHE ?? path.join(os.homedir(), '.cache', 'agentsight', 'claude-code');
const claude = [...versions.versions].reverse().find((v) => fs.existsSync(path.join(CLAUDE_CACHE, v.version, 'claude')));
const claudePath = claude ? path.join(CLAUDE_CACHE, claude.version, 'claude') : '';

/** Every path under `dir` with its type, owner, mode, size, mtime and contents hash: what a run must leave as it was. */
function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (p: string) => {
    const st = fs.lstatSync(p);
    const hash = st.isFile() ? createHash('sha256').update(fs.readFileSync(p)).digest('hex') : st.isSymbolicLink() ? fs.readlinkSync(p) : '';
    out.push(`${p} ${st.mode.toString(8)} ${st.uid} ${st.size} ${st.mtimeMs} ${hash}`);
    if (st.isDirectory()) for (const n of fs.readdirSync(p).sort()) walk(path.join(p, n));
  };
  walk(dir);
  return out;
}

/** A verdict file as the locator writes it. */
function verdictFile(buildId: string, verdict: Partial<LocatorVerdict>): string {
  const key = `build-${buildId}`;
  return JSON.stringify({
    format: CACHE_FORMAT,
    locatorVersion: LOCATOR_VERSION,
    key,
    verdict: { locatorVersion: LOCATOR_VERSION, buildId, analysisMs: 0, cached: false, evidence: [], ...verdict },
  });
}

describePrivileged('planted paths: root does not follow, trust or write what a user controls', () => {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'agentsight-planted-'));
  fs.chmodSync(base, 0o755);
  /** The user's home, and what the user makes in it. */
  const home = path.join(base, 'home');
  /** Where the user's recorded commands write (not part of the home snapshot). */
  const drop = path.join(base, 'drop');
  /** Root's own directories. */
  const rootDir = path.join(base, 'root');
  const asUser = (p: string) => fs.lchownSync(p, NOBODY, NOBODY);
  const userDir = (p: string, mode = 0o755) => {
    fs.mkdirSync(p, { recursive: true, mode });
    fs.chmodSync(p, mode);
    asUser(p);
    return p;
  };
  const userFile = (p: string, text: string, mode = 0o644) => {
    fs.writeFileSync(p, text, { mode });
    asUser(p);
    return p;
  };
  userDir(home);
  fs.mkdirSync(drop, { mode: 0o777 });
  fs.chmodSync(drop, 0o777);
  fs.mkdirSync(rootDir, { mode: 0o755 });
  const sudoEnv = { HOME: home, XDG_CACHE_HOME: path.join(home, '.cache'), SUDO_UID: String(NOBODY), SUDO_GID: String(NOBODY), AGENTSIGHT_LOCATOR_CACHE: '' };

  let cli: CliRun | null = null;
  afterEach(() => {
    if (cli?.child.pid) signalTree(cli.child.pid, 'SIGKILL');
    cli = null;
  });
  afterAll(() => fs.rmSync(base, { recursive: true, force: true }));

  it('a cache directory that is a symbolic link the user made, even to a directory of root’s, is not followed', async () => {
    const target = path.join(rootDir, 'link-target');
    fs.mkdirSync(target, { mode: 0o700 });
    // in a directory of root's: the link itself is what is refused
    const links = path.join(rootDir, 'links');
    fs.mkdirSync(links, { mode: 0o755 });
    fs.symlinkSync(target, path.join(links, 'cache'));
    asUser(path.join(links, 'cache'));
    const v = await locateTls('/bin/ls', { cacheDir: path.join(links, 'cache') });
    expect(v.cacheProblem).toMatch(/links\/cache is a symbolic link made by uid 65534, not by root; refusing to follow it; not trusted/);
    // in the user's home: the home is refused before the link is reached
    fs.symlinkSync(target, path.join(home, 'cache-link'));
    asUser(path.join(home, 'cache-link'));
    const w = await locateTls('/bin/ls', { cacheDir: path.join(home, 'cache-link') });
    expect(w.cacheProblem).toMatch(/home belongs to uid 65534, not to root; not trusted/);
    expect(fs.readdirSync(target)).toEqual([]);
  });

  it('a world-writable cache directory, sticky or not, and a directory of the user’s are not used', async () => {
    for (const mode of [0o777, 0o1777]) {
      const dir = path.join(rootDir, `ww-${mode.toString(8)}`);
      fs.mkdirSync(dir);
      fs.chmodSync(dir, mode);
      const v = await locateTls('/bin/ls', { cacheDir: dir });
      expect(v.cacheProblem).toMatch(/can be written by its group and every user .*; not trusted/);
      expect(fs.readdirSync(dir)).toEqual([]);
    }
    const mine = userDir(path.join(home, 'mycache'), 0o700);
    const v = await locateTls('/bin/ls', { cacheDir: mine });
    expect(v.cacheProblem).toMatch(/belongs to uid 65534, not to root/);
    expect(fs.readdirSync(mine)).toEqual([]);
  });

  it.skipIf(!claude)(
    'planted verdicts in the user’s cache (unsupported with a hostile reason; supported at offsets of the user’s choosing) are not trusted',
    async () => {
      const dir = userDir(path.join(home, 'planted-cache'), 0o700);
      const file = path.join(dir, `build-${claude!.buildId}.json`);
      userFile(file, verdictFile(claude!.buildId, { supported: false, code: 'AMBIGUOUS', reason: HOSTILE_REASON } as Partial<LocatorVerdict>), 0o600);
      const v = await locateTls(claudePath, { cacheDir: dir });
      if (!v.supported) throw new Error(`expected the real verdict, got ${v.reason}`);
      expect(v.cached).toBe(false);
      expect(v.cacheProblem).toMatch(/belongs to uid 65534, not to root/);
      // supported, SSL_read and SSL_write swapped, with hashes that match the bytes there: only a trusted cache could make it count
      const fn = (f: typeof v.functions.read, as: typeof v.functions.read) => ({
        ...as,
        vaddr: f.vaddr,
        offset: f.offset,
        size: f.size,
        sha256: f.sha256,
        entryBytes: f.entryBytes,
      });
      const swapped = {
        ...v,
        cached: false,
        cacheProblem: undefined,
        functions: { read: fn(v.functions.write, v.functions.read), write: fn(v.functions.read, v.functions.write) },
      };
      fs.writeFileSync(file, verdictFile(claude!.buildId, swapped));
      const w = await locateTls(claudePath, { cacheDir: dir });
      if (!w.supported) throw new Error(w.reason);
      expect(w.cached).toBe(false);
      expect(w.functions.read.offset).toBe(Number(claude!.read.offset));
      expect(w.functions.write.offset).toBe(Number(claude!.write.offset));
    },
  );

  it('under sudo -E, root’s locator cache is /var/cache/agentsight/locator, never the user’s HOME or XDG_CACHE_HOME', async () => {
    expect(defaultCacheDir({ ...process.env, ...sudoEnv })).toBe(ROOT_CACHE_DIR);
    const saved = { ...process.env };
    Object.assign(process.env, sudoEnv);
    delete process.env.AGENTSIGHT_LOCATOR_CACHE;
    try {
      const v = await locateTls('/bin/ls');
      expect(v.cacheProblem).toBeUndefined();
    } finally {
      for (const k of Object.keys(sudoEnv)) delete process.env[k];
      Object.assign(process.env, saved);
    }
    for (const d of ['/var/cache/agentsight', ROOT_CACHE_DIR]) {
      const st = fs.lstatSync(d);
      expect(st.isDirectory()).toBe(true);
      expect(st.uid).toBe(0);
      expect(st.mode & 0o022).toBe(0);
    }
  });

  it.skipIf(!claude)(
    'agentsight ssl --binary-path under sudo -E with a verdict planted in the user’s XDG cache: the binary is probed, the planted reason never shown, the home untouched',
    async () => {
      const dir = userDir(path.join(home, '.cache', 'agentsight', 'locator'), 0o700);
      for (const d of [path.join(home, '.cache'), path.join(home, '.cache', 'agentsight')]) asUser(d);
      userFile(
        path.join(dir, `build-${claude!.buildId}.json`),
        verdictFile(claude!.buildId, { supported: false, code: 'AMBIGUOUS', reason: HOSTILE_REASON } as Partial<LocatorVerdict>),
        0o600,
      );
      const before = snapshot(home);
      cli = runCli(['ssl', '--binary-path', claudePath, '--format', 'json'], { env: sudoEnv });
      await cli.ready;
      cli.child.kill('SIGINT');
      expect((await cli.exited).code).toBe(0);
      expect(cli.stderr()).toContain(`${claudePath} (boringssl)`);
      expect(cli.stderr() + cli.stdout()).not.toMatch(/planted/);
      expect(snapshot(home)).toEqual(before);
      expect(fs.existsSync(path.join(ROOT_CACHE_DIR, `build-${claude!.buildId}.json`))).toBe(true);
    },
  );

  it('the stand-in (agentsight demo) under sudo -E: its keys are not made in the user’s TMPDIR, and an openssl planted on PATH is not run', async () => {
    const tmp = userDir(path.join(home, 'tmp'), 0o700);
    const bin = userDir(path.join(home, 'sslbin'));
    const marker = path.join(drop, 'planted-openssl-ran');
    userFile(path.join(bin, 'openssl'), `#!/bin/sh\ntouch ${marker}\nexec /usr/bin/openssl "$@"\n`, 0o755);
    const saved = { TMPDIR: process.env.TMPDIR, PATH: process.env.PATH };
    process.env.TMPDIR = tmp;
    process.env.PATH = `${bin}:${process.env.PATH}`;
    try {
      const m = await createTlsMaterial();
      try {
        expect(m.dir.startsWith('/tmp/agentsight-standin-')).toBe(true);
        expect(fs.statSync(m.dir).uid).toBe(0);
        expect(fs.statSync(m.dir).mode & 0o777).toBe(0o700);
      } finally {
        await m.dispose();
      }
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
    expect(fs.readdirSync(tmp)).toEqual([]);
    expect(fs.existsSync(marker)).toBe(false);
    // a --tls-dir of the user's is refused
    await expect(createTlsMaterial({ dir: path.join(home, 'tls') })).rejects.toThrow(/belongs to uid 65534, not to root; not trusted/);
    expect(fs.existsSync(path.join(home, 'tls'))).toBe(false);
  });

  /** `agentsight record -o <output> -- /bin/true` as root: the exit code and stderr, with a time limit (a FIFO must not block it). */
  async function recordTo(output: string, env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stderr: string; ms: number }> {
    const t = Date.now();
    cli = runCli(['record', '-q', '-o', output, '--', '/bin/true'], { env });
    const timer = setTimeout(() => cli?.child.kill('SIGKILL'), 20_000);
    const { code } = await cli.exited;
    clearTimeout(timer);
    return { code, stderr: cli.stderr(), ms: Date.now() - t };
  }

  it('--output: a file the user planted is not written, and the refusal says whose it is', async () => {
    const file = userFile(path.join(home, 'out.ndjson'), 'the user’s own data\n', 0o666);
    const before = snapshot(home);
    const r = await recordTo(file);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/belongs to uid 65534, not to agentsight \(uid 0\); refusing to write to a file someone else created/);
    expect(snapshot(home)).toEqual(before);
  });

  it('--output: a hard link to /etc/shadow (in root’s directory and in the user’s) is not written', async () => {
    const shadow = '/etc/shadow';
    const original = fs.readFileSync(shadow);
    const st = fs.statSync(shadow);
    const links = [path.join(rootDir, 'shadow-link'), path.join(home, 'shadow-link')];
    try {
      for (const link of links) {
        fs.linkSync(shadow, link);
        const r = await recordTo(link);
        expect(r.code).toBe(2);
        expect(r.stderr).toMatch(/has 2 hard links; refusing to write through a link to a file elsewhere/);
        fs.unlinkSync(link);
      }
    } finally {
      for (const link of links) fs.rmSync(link, { force: true });
      const now = fs.readFileSync(shadow);
      // never leave the machine broken, whatever happened above
      if (!now.equals(original)) fs.writeFileSync(shadow, original);
      expect(now.equals(original)).toBe(true);
      expect(fs.statSync(shadow).mtimeMs).toBe(st.mtimeMs);
    }
  });

  it('--output: a FIFO the user made does not block agentsight, with or without a reader, and gets nothing', async () => {
    const fifo = path.join(home, 'fifo');
    execFileSync('mkfifo', ['-m', '0666', fifo]);
    asUser(fifo);
    const alone = await recordTo(fifo);
    expect(alone.code).toBe(2);
    expect(alone.stderr).toMatch(/is a FIFO or socket with no reader; not a regular file/);
    expect(alone.ms).toBeLessThan(15_000);
    // a reader waiting on the other end: opened, refused, nothing written
    const reader = spawn('/bin/sh', ['-c', `exec /usr/bin/setpriv --reuid=${NOBODY} --regid=${NOBODY} --clear-groups cat "$1"`, 'sh', fifo], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const readerExited = new Promise((r) => reader.on('exit', r));
    let got = '';
    reader.stdout.on('data', (d) => (got += d));
    await new Promise((r) => setTimeout(r, 200));
    const withReader = await recordTo(fifo);
    expect(withReader.code).toBe(2);
    expect(withReader.stderr).toMatch(/not a regular file/);
    // agentsight's end closed without a byte: the reader saw end of file
    await readerExited;
    expect(got).toBe('');
  });

  it('record under sudo -E with a planted sh and setpriv first on PATH: neither runs, the command runs as the user, the home is untouched', async () => {
    const bin = userDir(path.join(home, 'bin'));
    const marker = path.join(drop, 'planted-ran');
    for (const name of ['sh', 'setpriv'])
      userFile(path.join(bin, name), `#!/bin/sh\necho "${name} $(id -u)" >> ${marker}\nexec /usr/bin/${name === 'sh' ? 'dash' : name} "$@"\n`, 0o755);
    userDir(path.join(home, '.cache', 'agentsight', 'locator'), 0o700);
    const before = snapshot(home);
    const who = path.join(drop, 'who');
    const session = path.join(rootDir, 'sudo-e.ndjson');
    cli = runCli(['record', '-q', '-o', session, '--', '/bin/sh', '-c', `id -u > ${who}`], { env: { ...sudoEnv, PATH: `${bin}:${process.env.PATH}` } });
    const { code } = await cli.exited;
    expect(code).toBe(0);
    expect(fs.readFileSync(who, 'utf8').trim()).toBe(String(NOBODY));
    expect(fs.existsSync(marker)).toBe(false);
    expect(snapshot(home)).toEqual(before);
    expect(fs.statSync(session).uid).toBe(0);
  });
});
