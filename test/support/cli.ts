import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';

export const BIN = path.join(__dirname, '../../bin/agentsight.js');

export interface CliRun {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves when stderr shows the ready line (probes attached). */
  ready: Promise<void>;
}

/**
 * Run the real CLI (compiled dist/) as a user would. `wrap` runs it through
 * another command (e.g. unshare), which must exec it in place.
 */
export function runCli(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; stdin?: 'pipe' | 'ignore'; wrap?: string[] } = {}): CliRun {
  const argv = [...(opts.wrap ?? []), process.execPath, BIN, ...args];
  const child = spawn(argv[0], argv.slice(1), {
    env: { ...process.env, ...opts.env },
    cwd: opts.cwd,
    stdio: [opts.stdin ?? 'ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d) => (out += d));
  let onReady: () => void = () => {};
  let onFail: (e: Error) => void = () => {};
  const ready = new Promise<void>((res, rej) => {
    onReady = res;
    onFail = rej;
  });
  child.stderr?.on('data', (d) => {
    err += d;
    if (/Ctrl-C to stop/.test(err)) onReady();
  });
  // tests that never wait for readiness must not see an unhandled rejection
  ready.catch(() => undefined);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => {
      onFail(new Error(`agentsight exited (${code ?? signal}) before it was ready:\n${err}`));
      resolve({ code, signal });
    }),
  );
  return { child, stdout: () => out, stderr: () => err, exited, ready };
}
