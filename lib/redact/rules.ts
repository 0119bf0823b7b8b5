/**
 * What counts as a secret, and how it is masked: the public face of
 * lib/redact. The finder is in ./find (names in ./names, shapes in ./shapes),
 * masking in ./mask, text that arrives in pieces in ./stream, streamed
 * answers in ./sse-view, raw TLS bytes in ./raw.
 *
 * Masking is length-preserving: a run of n masked characters becomes n
 * characters ("[REDACTED]" followed by "*", or only "*" when shorter than
 * 10), and line ends, quotes and JSON escapes are kept, so masking raw TLS
 * plaintext never changes Content-Length or chunk framing and JSON stays JSON.
 */
import { findSecrets } from './find';
import { applyRanges } from './mask';
import { SseDeltaView } from './sse-view';
import type { Range } from './types';

export { findSecrets, continueOpen, type FindResult } from './find';
export { applyRanges, maskOf, maskWhole, mergeRanges, normalize } from './mask';
export { classifyName, credentialLike, headerKind, isSecretHeader, isSecretKey, isSecretParam, paramVerdict, type NameVerdict, type SecretKind } from './names';
export type { Finding, Open, Range } from './types';

/** Mask every secret found in a (complete) text. */
export function redactText(text: string): string {
  if (text.length < 8) return text;
  const { findings } = findSecrets(text);
  return findings.length ? applyRanges(text, findings) : text;
}

/**
 * Mask a complete body: like redactText, and for an event stream also what
 * its JSON deltas spell when joined. `text` is a latin1 view of the bytes
 * when `bytes` is true (positions are bytes), else a string.
 */
export function redactBody(text: string, sse: boolean): string {
  if (!sse) return redactText(text);
  const ranges: Range[] = [...findSecrets(text).findings];
  const view = new SseDeltaView();
  for (const r of view.push(text, 0)) ranges.push(r);
  return ranges.length ? applyRanges(text, ranges) : text;
}
