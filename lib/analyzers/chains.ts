/**
 * The TLS analyzer chain as the CLI builds it from ChainOptions (and as
 * library users can build it the same way).
 */
import { mapAnalyzer, type Analyzer } from '../core/analyzer';
import type { ChainOptions } from '../config/options';
import { HttpFilter, SslFilter } from './filters';
import { HttpParser } from './http-parser';
import { Redactor, type RedactorOptions } from './redactor';
import { SseProcessor } from './sse-processor';

/** How the chain's redactor is placed. */
export interface TlsChainExtras {
  /**
   * `all` (default): the chain masks everything it makes. `ssl`: it masks
   * only the raw TLS data it lets through, because its parsed events are
   * masked further on (agent/record: after LlmAnalyzer).
   */
  redact?: 'all' | 'ssl';
  /** Options of the chain's Redactor. */
  redactor?: RedactorOptions;
}

/**
 * HTTP parsing, SSE merging, masking, filters. Filter expressions are
 * compiled here, so a bad one fails before anything starts.
 *
 * The redactor comes after the parser and the merger: the parser reads the
 * true bytes (it must decompress bodies whose compressed bytes the redactor
 * replaces), and the redactor sees every event the chain makes, masking the
 * raw bytes (length-preserving), the parsed events, and what the streamed
 * deltas spell once merged. It comes before the filters, so every TLS call
 * of a connection passes through it even when some are dropped.
 */
export function tlsAnalyzers(o: ChainOptions, extras: TlsChainExtras = {}): Analyzer[] {
  const out: Analyzer[] = [];
  if (o.httpParser) out.push(new HttpParser({ rawData: o.httpRawData, redactDecoded: false }));
  if (o.sseMerge) out.push(new SseProcessor());
  const keepsSsl = !o.httpParser || o.rawSsl;
  if (o.redact) {
    const scope = extras.redact === 'ssl' ? 'ssl' : 'all';
    // the parser has read the true bytes already: what cannot be searched in them is replaced
    if (scope === 'all' || keepsSsl) out.push(new Redactor({ unsearchable: 'replace', ...extras.redactor, scope }));
  }
  if (o.httpFilter.length) out.push(new HttpFilter(o.httpFilter));
  // ssl events are filtered after parsing, so dropping some never tears holes in an HTTP stream
  if (o.sslFilter.length) out.push(new SslFilter(o.sslFilter));
  if (o.httpParser && !o.rawSsl) out.push(mapAnalyzer('drop_raw_ssl', (e) => (e.source === 'ssl' ? null : e)));
  return out;
}
