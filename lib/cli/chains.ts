/**
 * Analyzer chains as the CLI builds them from options (and as library users
 * can build them the same way).
 */
import type { Analyzer } from '../core/analyzer';
import { HTTPParser } from '../analyzers/http-parser';
import { SSEProcessor } from '../analyzers/sse-processor';
import { HTTPFilter, SSLFilter } from '../analyzers/filters';
import { Redactor } from '../analyzers/redactor';
import { mapAnalyzer } from '../core/analyzer';
import type { OptionTable, ParsedArgs } from './options';

/** TLS analysis options (the original collector's SSL options). */
export const ANALYZER_OPTIONS: OptionTable = {
  'http-parser': { type: 'boolean', describe: 'Parse HTTP/1.x requests and responses from the TLS plaintext (per connection, paired, decompressed)' },
  'http-raw-data': { type: 'boolean', describe: 'Include the raw message bytes in http events' },
  'sse-merge': { type: 'boolean', describe: 'Merge each Server-Sent Events response into one event (implies --http-parser)' },
  'http-filter': {
    type: 'string',
    array: true,
    describe: 'Drop HTTP exchanges matching this expression, e.g. "GET /health" or "response.status_code >= 500"; repeatable (docs/filters.md)',
  },
  'ssl-filter': { type: 'string', array: true, describe: 'Drop ssl events matching this expression, e.g. "handshake" or "len < 10"; repeatable' },
  'raw-ssl': { type: 'boolean', describe: 'Keep the ssl events in the output when HTTP parsing is on' },
  'disable-auth-removal': {
    type: 'boolean',
    describe: 'Do not mask credentials (Authorization, API-key and cookie headers, keys in URLs, JSON and text). Masking is on by default',
  },
};

export interface ChainOptions {
  /** Mask credentials (default true; --disable-auth-removal turns it off). */
  redact: boolean;
  httpParser: boolean;
  httpRawData: boolean;
  sseMerge: boolean;
  httpFilter: string[];
  sslFilter: string[];
  rawSsl: boolean;
}

export function chainOptions(a: ParsedArgs, defaults: Partial<ChainOptions> = {}): ChainOptions {
  const b = (k: string, d: boolean) => (a[k] === undefined ? d : Boolean(a[k]));
  const sse = b('sse-merge', defaults.sseMerge ?? false);
  return {
    redact: !b('disable-auth-removal', false),
    httpParser: b('http-parser', defaults.httpParser ?? false) || sse,
    httpRawData: b('http-raw-data', false),
    sseMerge: sse,
    httpFilter: ((a['http-filter'] as unknown[]) ?? []).map(String),
    sslFilter: ((a['ssl-filter'] as unknown[]) ?? []).map(String),
    rawSsl: b('raw-ssl', defaults.rawSsl ?? true),
  };
}

/**
 * The TLS analyzer chain: HTTP parsing, SSE merging, filters. Filter
 * expressions are compiled here, so a bad one fails before anything starts.
 */
export function tlsAnalyzers(o: ChainOptions): Analyzer[] {
  const out: Analyzer[] = [];
  // Masking comes first and preserves lengths, so HTTP framing survives and everything
  // derived from the bytes is clean; the parser also masks what it decompresses.
  if (o.redact) out.push(new Redactor());
  if (o.httpParser) out.push(new HTTPParser({ rawData: o.httpRawData, redactDecoded: o.redact }));
  if (o.sseMerge) out.push(new SSEProcessor());
  if (o.httpFilter.length) out.push(new HTTPFilter(o.httpFilter));
  // ssl events are filtered after parsing, so dropping some never tears holes in an HTTP stream
  if (o.sslFilter.length) out.push(new SSLFilter(o.sslFilter));
  if (o.httpParser && !o.rawSsl) out.push(mapAnalyzer('drop_raw_ssl', (e) => (e.source === 'ssl' ? null : e)));
  return out;
}
