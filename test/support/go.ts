/**
 * Go programs for the Go crypto/tls tests, built from test/support/go/NAME
 * with the system's Go (Debian's golang-go) and cached by the hash of their
 * source, the Go version and the build flags, under
 * ~/.cache/agentsight/go (AGENTSIGHT_CACHE_DIR/go). Go's own build cache and
 * GOPATH live there too, never in the repository; nothing is fetched (GOPATH
 * mode, GOPROXY=off).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export type GoVariant = 'plain' | 'stripped' | 'pie';

const FLAGS: Record<GoVariant, string[]> = {
  plain: [],
  stripped: ['-ldflags=-s -w'],
  pie: ['-buildmode=pie'],
};

export function goCacheDir(): string {
  const base = process.env.AGENTSIGHT_CACHE_DIR ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'agentsight');
  return path.join(base, 'go');
}

const GO_PATHS = ['/usr/bin/go', '/usr/local/go/bin/go', '/usr/lib/go/bin/go'];
const NO_GO = 'the Go tests need the go command: apt-get install golang-go (scripts/setup.sh installs it)';

/** The `go` command, or a clear error saying how to get it. */
export function goTool(): string {
  for (const p of GO_PATHS) if (fs.existsSync(p)) return p;
  throw new Error(NO_GO);
}

/** Why the Go programs cannot be built here (no go command), or undefined: for need() in the tests. */
export function goMissing(): string | undefined {
  return GO_PATHS.some((p) => fs.existsSync(p)) ? undefined : NO_GO;
}

function goEnv(cache: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('GO') && k !== 'CGO_ENABLED') env[k] = v;
  return {
    ...env,
    GOCACHE: path.join(cache, 'gocache'),
    GOPATH: path.join(cache, 'gopath'),
    GO111MODULE: 'off',
    GOPROXY: 'off',
    GOTOOLCHAIN: 'local',
    GOFLAGS: '',
  };
}

/** `go version` of the tool (e.g. "go1.19.8"). */
export function goVersion(): string {
  const out = execFileSync(goTool(), ['version'], { encoding: 'utf8', env: goEnv(goCacheDir()) });
  const m = /\bgo(\d+\.\d+(\.\d+)?)/.exec(out);
  if (!m) throw new Error(`unexpected go version output: ${out}`);
  return `go${m[1]}`;
}

/** The executable of test/support/go/NAME built as `variant` (built once per source, Go version and flags). */
export function buildGo(name: string, variant: GoVariant = 'plain'): string {
  const src = path.join(__dirname, 'go', name, 'main.go');
  const cache = goCacheDir();
  const flags = FLAGS[variant];
  const version = goVersion();
  const hash = createHash('sha256')
    .update(fs.readFileSync(src))
    .update(`\0${version}\0${flags.join('\0')}`)
    .digest('hex')
    .slice(0, 16);
  const out = path.join(cache, 'bin', `${name}-${variant}-${hash}`);
  if (fs.existsSync(out)) return out;
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const tmp = `${out}.tmp-${process.pid}`;
  try {
    execFileSync(goTool(), ['build', ...flags, '-o', tmp, src], { env: goEnv(cache), stdio: ['ignore', 'ignore', 'pipe'], timeout: 300_000 });
    fs.renameSync(tmp, out);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    const stderr = (err as { stderr?: Buffer }).stderr?.toString() ?? '';
    throw new Error(`go build ${name} (${variant}) failed: ${(err as Error).message}\n${stderr}`);
  }
  return out;
}
