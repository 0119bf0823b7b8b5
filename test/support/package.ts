/**
 * The package as npm ships it: the prebuilt addon made current
 * (scripts/build-prebuilt.sh, incremental, skipped when it matches the
 * sources), then `npm pack`.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export const REPO = path.resolve(__dirname, '../..');

let prebuiltDone = false;

/** Build prebuilds/linux-x64/agentsight.node unless it is current (as root; minutes on a fresh machine). */
export function ensurePrebuilt(): void {
  if (prebuiltDone) return;
  execFileSync('bash', [path.join(REPO, 'scripts/build-prebuilt.sh')], { cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'] });
  prebuiltDone = true;
}

/** `npm pack` into dir; the tarball's path. */
export function packTarball(dir: string, env: NodeJS.ProcessEnv = process.env): string {
  const name = execFileSync('npm', ['pack', '--silent', '--pack-destination', dir], { cwd: REPO, env, encoding: 'utf8' }).trim().split('\n').at(-1) as string;
  const tgz = path.join(dir, name);
  if (!fs.existsSync(tgz)) throw new Error(`npm pack made no ${tgz}`);
  return tgz;
}

/** The files a tarball holds (tar -tzf), without the leading package/. */
export function tarballFiles(tgz: string): string[] {
  return execFileSync('tar', ['-tzf', tgz], { encoding: 'utf8' })
    .split('\n')
    .filter(Boolean)
    .map((f) => f.replace(/^package\//, ''));
}
