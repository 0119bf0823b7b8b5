import type { Event } from './event';

/**
 * Exact bytes of an ssl event's plaintext.
 *
 * Events built by the tracer carry their bytes out of band (not serialised),
 * so in-process analyzers need no decoding; events read back from NDJSON are
 * decoded from data.data according to data.data_encoding ("utf8" | "base64").
 */
const PAYLOAD = Symbol.for('agentsight.payload');

export function attachPayload(e: Event, bytes: Buffer): void {
  Object.defineProperty(e, PAYLOAD, { value: bytes, enumerable: false, writable: true, configurable: true });
}

export function sslPayload(e: Event): Buffer {
  const held = (e as unknown as Record<symbol, Buffer | undefined>)[PAYLOAD];
  if (held) return held;
  const d = e.data as { data?: unknown; data_encoding?: unknown };
  if (typeof d.data !== 'string') return Buffer.alloc(0);
  return Buffer.from(d.data, d.data_encoding === 'base64' ? 'base64' : 'utf8');
}

/** Text if the bytes are valid UTF-8, else base64: lossless either way. */
export function encodePayload(bytes: Buffer): { data: string; data_encoding: 'utf8' | 'base64' } {
  const text = bytes.toString('utf8');
  // A lossless round trip means the bytes were valid UTF-8 (no U+FFFD substitutions).
  if (Buffer.byteLength(text, 'utf8') === bytes.length && !text.includes('\uFFFD')) {
    return { data: text, data_encoding: 'utf8' };
  }
  if (Buffer.from(text, 'utf8').equals(bytes)) return { data: text, data_encoding: 'utf8' };
  return { data: bytes.toString('base64'), data_encoding: 'base64' };
}
