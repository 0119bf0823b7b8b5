import * as fs from 'fs';
import * as path from 'path';
import { describe, expect, it } from 'vitest';
import { chain } from '../../lib/core/analyzer';
import { HttpFilter, HttpParser, readNdjson, Redactor, SseProcessor, SslFilter } from '../../lib/analyzers';
import type { Event } from '../../lib/core/event';
import { formatBytes, formatMs, preview, renderHttp, renderHttpEvent, renderSse } from '../../lib/render/http';
import { connId, run, ssl } from '../support/events';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const W = require('../fixtures/wire-samples.js');
const FIXTURES = path.join(__dirname, '..', 'fixtures');

async function replay(file: string): Promise<Event[]> {
  const out: Event[] = [];
  const analyzers = [new Redactor(), new SslFilter('handshake'), new HttpParser(), new SseProcessor(), new HttpFilter('GET /health')];
  for await (const e of chain(readNdjson(file), analyzers, { signal: new AbortController().signal })) out.push(e);
  return out;
}

describe('fixture replay', () => {
  it('replays the hand-made LLM session fixture through the whole chain', async () => {
    const out = await replay(path.join(FIXTURES, 'llm-sessions.ndjson'));
    const merged = out.filter((e) => e.source === 'sse').map((e) => e.data);
    expect(merged.map((m) => `${m.provider}/${m.api}`)).toEqual([
      'anthropic/anthropic.messages',
      'anthropic/anthropic.messages',
      'openai/openai.chat_completions',
      'openai/openai.chat_completions',
      'openai/openai.responses',
      'gemini/gemini.generate_content',
    ]);
    expect(merged.every((m) => m.end_reason === 'terminal' || m.end_reason === 'end_of_body')).toBe(true);
    expect(merged[1].tool_calls[0].arguments).toEqual({ location: 'Paris' });
    const paths = out.filter((e) => e.data.type === 'request').map((e) => e.data.path);
    expect(paths).not.toContain('/health');
    expect(paths).toHaveLength(7);
    expect(out.filter((e) => e.data.type === 'parse_error')).toHaveLength(0);
    const text = JSON.stringify(out);
    for (const key of [W.ANTHROPIC_KEY, W.OPENAI_KEY, W.GOOGLE_KEY]) expect(text).not.toContain(key.slice(-20));
  });

  // Recorded captures added later (test/fixtures/*.ndjson) are replayed too: the chain must
  // take them without throwing, produce no unexplained loss, and leave no key in the output.
  const files = fs.existsSync(FIXTURES) ? fs.readdirSync(FIXTURES).filter((f) => f.endsWith('.ndjson')) : [];
  for (const f of files) {
    it(`replays ${f}: every request is answered or explained, nothing secret remains`, async () => {
      const out = await replay(path.join(FIXTURES, f));
      const stats = out.find((e) => e.source === 'stats' && e.data.analyzer === 'http_parser')!.data;
      expect(stats.ssl_events).toBeGreaterThan(0);
      expect(stats.buffered_bytes).toBe(0);
      const responses = out.filter((e) => e.source === 'http' && e.data.type === 'response');
      // every response is paired with its request, or counted as unpaired
      expect(responses.filter((r) => r.data.request === null)).toHaveLength(stats.unpaired_responses);
      // every parse error is reported as an event
      expect(out.filter((e) => e.data.type === 'parse_error')).toHaveLength(stats.parse_errors);
      // every event stream response got exactly one merged answer
      const sse = out.filter((e) => e.source === 'sse');
      for (const r of responses.filter((x) => String(x.data.content_type).startsWith('text/event-stream'))) {
        expect(sse.filter((m) => m.data.conn_id === r.data.conn_id && m.data.seq === r.data.seq)).toHaveLength(1);
      }
      const text = JSON.stringify(out);
      expect(text).not.toMatch(/sk-ant-api\d\d-[A-Za-z0-9_-]{20}/);
      expect(text).not.toMatch(/Bearer sk-[A-Za-z0-9_-]{20}/);
    });
  }
});

describe('console rendering', () => {
  it('renders requests, responses, streams and errors on one readable line each', async () => {
    const out = await run(
      [new HttpParser({ passThroughSsl: false }), new SseProcessor()],
      [
        ssl('WRITE/SEND', W.anthropicRequest(), { mono: 1e9, comm: 'claude', pid: 4242 }),
        ssl('READ/RECV', W.anthropicStreamResponse({ tool: { name: 'bash', pieces: ['{"command": "ls -la"}'] } }), {
          mono: 1.8123e9,
          comm: 'claude',
          pid: 4242,
        }),
        ssl('WRITE/SEND', 'GET /v1/models HTTP/1.1\r\nHost: api.openai.com\r\n\r\n', { mono: 2e9, comm: 'claude', pid: 4242 }),
        ssl(
          'READ/RECV',
          'HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: 63\r\n\r\n{"error":{"message":"Incorrect API key provided","type":"x"}}\r\n',
          { mono: 2.05e9, comm: 'claude', pid: 4242 },
        ),
        ssl('WRITE/SEND', '\x00\x01junk\r\n', { conn: 'other' }),
      ],
    );
    const lines = out.flatMap((e) => renderHttpEvent(e, { width: 100 }));
    expect(lines).toEqual([
      `→ POST api.anthropic.com/v1/messages  ${formatBytes(JSON.stringify({ max_tokens: 1024, messages: [{ role: 'user', content: 'What is the capital of France?' }], model: 'claude-sonnet-4-5-20250929', stream: true }).length)}  claude[4242]`,
      '⇠ 200 POST api.anthropic.com/v1/messages  streaming text/event-stream; charset=utf-8  ttfb 812 ms  claude[4242]',
      '✦ anthropic claude-sonnet-4-5-20250929 · tool_use · 812 ms (first 812 ms) · in 14 / out 89 / cache read 1536 / cache write 2048 claude[4242]',
      '  The capital of France is **Paris**.',
      '  tool bash({"command": "ls -la"})',
      expect.stringMatching(/^← 200 OK {2}POST api\.anthropic\.com\/v1\/messages {2}812 ms {2}\d+\.\d KB {2}text\/event-stream {2}claude\[4242\]$/),
      '→ GET api.openai.com/v1/models  0 B  claude[4242]',
      '← 401 Unauthorized  GET api.openai.com/v1/models  50 ms  63 B  application/json  claude[4242]',
      '  {"error":{"message":"Incorrect API key provided","type":"x"}}',
      `! http invalid_start_line on ${connId('other')} WRITE/SEND @0: not an HTTP/1.x request or status line  "..junk.."`,
    ]);
    expect(renderHttp({ ...out[0], data: { type: 'body_chunk' } })).toEqual([]);
  });

  it('colours status codes when asked, and cuts previews to the width', () => {
    const e: Event = {
      timestamp: 1,
      source: 'http',
      pid: 1,
      comm: 'x',
      data: {
        type: 'response',
        status_code: 503,
        status_text: 'Service Unavailable',
        request: { method: 'POST', host: 'h', path: '/p' },
        body_size: 0,
        streamed: false,
        body: '',
      },
    };
    expect(renderHttp(e, { color: true })[0]).toContain('\x1b[31m503 Service Unavailable\x1b[0m');
    const s: Event = {
      timestamp: 1,
      source: 'sse',
      pid: 1,
      comm: 'x',
      data: {
        type: 'merged',
        provider: 'openai',
        model: 'gpt-4o',
        text: 'word '.repeat(100),
        thinking: '',
        tool_calls: [],
        errors: [{ type: 'server_error', message: 'The server had an error' }],
        end_reason: 'idle_timeout',
        duration_ms: 65000,
        time_to_first_event_ms: 300,
        usage: null,
        malformed_lines: 2,
      },
    };
    const lines = renderSse(s, { width: 40 });
    expect(lines[0]).toBe('✦ openai gpt-4o · 1m05s (first 300 ms) · idle_timeout x[1]');
    expect(lines[1].length).toBe(38);
    expect(lines[1].endsWith('…')).toBe(true);
    expect(lines[2]).toBe('  error The server had an error');
    expect(lines[3]).toBe('  2 malformed SSE line(s)');
  });

  it('formats sizes, durations and previews', () => {
    expect([formatBytes(512), formatBytes(3482), formatBytes(5 * 1024 * 1024)]).toEqual(['512 B', '3.4 KB', '5.0 MB']);
    expect([formatMs(85.4), formatMs(1240), formatMs(125000)]).toEqual(['85 ms', '1.24 s', '2m05s']);
    expect(preview('a\n\n  b\tc', 10)).toBe('a b c');
  });
});
