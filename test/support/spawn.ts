import { spawn, type SpawnOptions } from 'node:child_process';

export interface Ran {
  pid: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
}

/**
 * Run a command without blocking the event loop (tracers keep draining meanwhile).
 * `release`: the command reads a line from stdin before its work; it gets one when this resolves.
 */
export function run(cmd: string, args: string[], opts: SpawnOptions & { input?: string | Buffer; release?: Promise<unknown> } = {}): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...opts, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout?.on('data', (d) => out.push(d));
    child.stderr?.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ pid: child.pid as number, code, signal, stdout: Buffer.concat(out), stderr: err }));
    if (opts.release)
      opts.release.then(
        () => child.stdin?.end('go\n'),
        (err) => {
          child.kill('SIGKILL');
          reject(err);
        },
      );
    else if (opts.input !== undefined) child.stdin?.end(opts.input);
    else child.stdin?.end();
  });
}
