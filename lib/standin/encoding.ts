/**
 * Content-Encoding for non-streaming responses: gzip, deflate (zlib format,
 * as HTTP means it), br, zstd.
 *
 * Node 20's zlib has no zstd. zstd is made, in order of preference, by
 * Node's own zlib (Node >= 22.15), the optional `@mongodb-js/zstd` package
 * (prebuilt binary shipped inside the npm package; a dev dependency here),
 * or the `zstd` command-line tool (Debian package `zstd`).
 */
import { spawnSync } from 'node:child_process';
import zlib from 'node:zlib';

export const ENCODINGS = ['gzip', 'deflate', 'br', 'zstd'] as const;
export type Encoding = (typeof ENCODINGS)[number];

export function isEncoding(s: string): s is Encoding {
  return (ENCODINGS as readonly string[]).includes(s);
}

/**
 * The encoding to use for a client's Accept-Encoding, from `preferred` in
 * order (q=0 excludes; `*` matches any). undefined → identity.
 */
export function negotiate(acceptEncoding: string | undefined, preferred: readonly Encoding[]): Encoding | undefined {
  if (!acceptEncoding) return undefined;
  const accepted = new Map<string, number>();
  for (const part of acceptEncoding.split(',')) {
    const [name, ...params] = part.trim().toLowerCase().split(';');
    if (!name) continue;
    let q = 1;
    for (const p of params) {
      const m = /^\s*q=([0-9.]+)\s*$/.exec(p);
      if (m) q = Number(m[1]);
    }
    accepted.set(name, q);
  }
  let best: Encoding | undefined;
  let bestQ = 0;
  for (const enc of preferred) {
    const q = accepted.get(enc) ?? accepted.get('*') ?? 0;
    if (q > bestQ) {
      best = enc;
      bestQ = q;
    }
  }
  return best;
}

type ZstdPkg = { compress(buf: Buffer, level?: number): Promise<Buffer> };
let zstdPkg: ZstdPkg | null | undefined;

function loadZstdPackage(): ZstdPkg | null {
  if (zstdPkg === undefined) {
    try {
      // Optional: resolved at run time so that the package is not needed unless zstd is asked for.
      zstdPkg = require('@mongodb-js/zstd') as ZstdPkg;
    } catch {
      zstdPkg = null;
    }
  }
  return zstdPkg;
}

/** How zstd would be produced here, or null when it cannot be. */
export function zstdBackend(): 'node:zlib' | '@mongodb-js/zstd' | 'zstd-cli' | null {
  if (typeof (zlib as unknown as { zstdCompressSync?: unknown }).zstdCompressSync === 'function') return 'node:zlib';
  if (loadZstdPackage()) return '@mongodb-js/zstd';
  const r = spawnSync('zstd', ['--version'], { stdio: 'ignore' });
  return r.status === 0 ? 'zstd-cli' : null;
}

export async function zstdCompress(data: Buffer): Promise<Buffer> {
  const z = zlib as unknown as { zstdCompressSync?: (b: Buffer) => Buffer };
  if (typeof z.zstdCompressSync === 'function') return z.zstdCompressSync(data);
  const pkg = loadZstdPackage();
  if (pkg) return Buffer.from(await pkg.compress(data, 3));
  const r = spawnSync('zstd', ['-q', '-c', '-3'], { input: data, maxBuffer: 256 * 1024 * 1024 });
  if (r.status === 0 && r.stdout) return r.stdout;
  throw new Error('zstd compression is not available: install the @mongodb-js/zstd npm package or the zstd command (apt-get install zstd)');
}

/** Compress `data` with `enc`. */
export async function encodeBody(data: Buffer, enc: Encoding): Promise<Buffer> {
  switch (enc) {
    case 'gzip':
      return zlib.gzipSync(data);
    case 'deflate':
      return zlib.deflateSync(data);
    case 'br':
      return zlib.brotliCompressSync(data, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 5 } });
    case 'zstd':
      return zstdCompress(data);
  }
}
