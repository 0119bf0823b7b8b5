/**
 * The TLS analyzer chain as the CLI builds it from ChainOptions (and as
 * library users can build it the same way).
 */
import { mapAnalyzer, type Analyzer } from '../core/analyzer';
import type { ChainOptions } from '../config/options';
import { HttpFilter, SslFilter } from './filters';
import { HttpParser } from './http-parser';
import { Redactor } from './redactor';
import { SseProcessor } from './sse-processor';

/**
 * HTTP parsing, SSE merging, filters. Filter expressions are compiled here,
 * so a bad one fails before anything starts.
 */
export function tlsAnalyzers(o: ChainOptions): Analyzer[] {
  const out: Analyzer[] = [];
  // Masking comes first and preserves lengths, so HTTP framing survives and everything
  // derived from the bytes is clean; the parser also masks what it decompresses.
  if (o.redact) out.push(new Redactor());
  if (o.httpParser) out.push(new HttpParser({ rawData: o.httpRawData, redactDecoded: o.redact }));
  if (o.sseMerge) out.push(new SseProcessor());
  if (o.httpFilter.length) out.push(new HttpFilter(o.httpFilter));
  // ssl events are filtered after parsing, so dropping some never tears holes in an HTTP stream
  if (o.sslFilter.length) out.push(new SslFilter(o.sslFilter));
  if (o.httpParser && !o.rawSsl) out.push(mapAnalyzer('drop_raw_ssl', (e) => (e.source === 'ssl' ? null : e)));
  return out;
}
