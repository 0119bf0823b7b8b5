/**
 * Work done on first use instead of at start-up. Every command initialises
 * the modules of the CLI before anything else, so what a module does when it
 * is loaded (a table built, a module required) every command waits for,
 * whether it uses it or not. once() defers a value to its first use; the
 * modules below are required by the few paths that need them.
 */
import type * as Fzstd from 'fzstd';
import type * as Zlib from 'node:zlib';

/** A getter of what `make` returns, made on the first call and kept. */
export function once<T>(make: () => T): () => T {
  let made: { value: T } | undefined;
  return () => (made ??= { value: make() }).value;
}

/** node:zlib (~1 ms to require): compressed HTTP bodies, WebSocket messages and ELF sections. */
export const zlib = once(() => require('node:zlib') as typeof Zlib);

/** fzstd (~4 ms to require): zstd HTTP bodies and ELF sections. */
export const fzstd = once(() => require('fzstd') as typeof Fzstd);
