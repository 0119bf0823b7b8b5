import { PassThrough } from 'node:stream';

/** Captured stdout/stderr for CLI tests. */
export function captureIo(isTTY = false) {
  const stdout = new PassThrough() as PassThrough & { isTTY?: boolean };
  stdout.isTTY = isTTY;
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d) => (out += d));
  stderr.on('data', (d) => (err += d));
  return {
    io: { stdout, stderr },
    out: () => out,
    err: () => err,
    lines: () =>
      out
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l)),
  };
}

export async function until(cond: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
