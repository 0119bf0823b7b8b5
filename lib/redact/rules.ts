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
import { triggerReach, type TriggerList } from './trigger';
import type { Finding, Range } from './types';

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
 * What the chunks of a streamed body told of it, in positions of its bytes:
 * the ranges masked in them (their joined deltas included), and the triggers
 * their search found (lib/redact/stream.ts), null when not all were kept.
 */
export interface KnownBody {
  ranges: readonly Range[];
  triggers: TriggerList | null;
}

/**
 * What to mask in a complete body: its secrets, and for an event stream also
 * what its JSON deltas spell when joined (`known`: those ranges are already
 * known, from the body's chunks, and are added instead; so are its triggers).
 */
export function bodyRanges(text: string, sse: boolean, known: KnownBody | null = null, cut = false): { findings: Finding[]; ranges: Range[] } {
  // a body may end before its chunks did (cut at its size limit): a trigger that close to its end is searched again
  const t = known?.triggers;
  const triggers = t ? { starts: t.starts, lengths: t.lengths, upTo: Math.min(t.upTo, text.length - triggerReach() + 1) } : null;
  const findings = findSecrets(text, cut, triggers).findings;
  const ranges: Range[] = [...findings];
  if (known) for (const r of known.ranges) ranges.push(r);
  else if (sse) for (const r of new SseDeltaView().push(text, 0)) ranges.push(r);
  return { findings, ranges };
}

/** Mask a complete body (see bodyRanges). */
export function redactBody(text: string, sse: boolean): string {
  const { ranges } = bodyRanges(text, sse);
  return ranges.length ? applyRanges(text, ranges) : text;
}
