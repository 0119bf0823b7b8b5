import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** A copy of /bin/sh under a unique name, so --comm can select exactly our processes. */
export function uniqueShell(prefix = 'astc'): { name: string; path: string; dispose(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentsight-test-'));
  const name = `${prefix}${Math.random().toString(36).slice(2, 8)}`;
  const p = path.join(dir, name);
  fs.copyFileSync('/bin/sh', p);
  fs.chmodSync(p, 0o755);
  return { name, path: p, dispose: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** Start a shell script that waits for a line on stdin before doing anything. */
export function gatedShell(shell: string, script: string, env?: NodeJS.ProcessEnv): ChildProcess & { release(): void; exited: Promise<number | null> } {
  const child = spawn(shell, ['-c', `read go; ${script}`], {
    stdio: ['pipe', 'ignore', 'inherit'],
    ...(env ? { env: { ...process.env, ...env } } : {}),
  }) as ChildProcess & {
    release(): void;
    exited: Promise<number | null>;
  };
  child.exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  child.release = () => {
    child.stdin?.write('go\n');
    child.stdin?.end();
  };
  return child;
}

/** Resolves once process `pid` runs a program named `comm` (it exec'd): not a guess of how long a spawn takes. */
export async function execed(pid: number, comm: string, ms = 10_000): Promise<void> {
  const want = comm.slice(0, 15);
  const end = Date.now() + ms;
  for (;;) {
    let now = '';
    try {
      now = fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    } catch {
      /* not there yet, or gone */
    }
    if (now === want) return;
    if (Date.now() > end) throw new Error(`pid ${pid} is not running ${comm} after ${ms} ms (comm ${JSON.stringify(now)})`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
