/**
 * Captured text never drives the terminal: hostile process names, argv,
 * paths, model text, HTTP fields and tool calls through every renderer,
 * notice, summary and error line.
 */
import { PassThrough } from 'node:stream';
import { EventEmitter } from 'eventemitter3';
import { describe, expect, it } from 'vitest';
import type { Event } from '../../lib/core/event';
import { UsageError, AgentsightError } from '../../lib/core/errors';
import { renderEvent } from '../../lib/render/events';
import { renderHttpEvent } from '../../lib/render/http';
import { jsonText, printable, printableLines, terminalLine, writeLine } from '../../lib/render/safe-text';
import { summaryText, type SessionSummaryData } from '../../lib/analyzers/summary';
import { OutputAnalyzer } from '../../lib/sinks/output';
import { toJsonLine } from '../../lib/sinks/ndjson';
import { runSession, summaryLines } from '../../lib/session/run';
import { reportError } from '../../lib/cli/main';
import type { Runner } from '../../lib/runners/runner';
import { captureIo } from '../support/io';

/** Everything a terminal would act on, and a forged line of agentsight's own. */
const NASTY = [
  '\x1b]0;pwned title\x07', // OSC 0: window title, BEL-terminated
  '\x1b]2;other\x1b\\', // OSC 2, ST-terminated
  '\x1b[2J\x1b[H', // clear screen, cursor home
  '\x1b[5A\x1b[2K', // cursor up, erase line
  '\x9b2J', // 8-bit CSI
  '\x90q\x9c', // DCS ... ST (C1)
  '\x07', // BEL
  '\rREWRITTEN', // carriage return over the line
  'ab\b\bXY', // backspaces
  '\x7f', // DEL
  '\u202eevil\u202c', // bidi override
  '\u2066iso\u2069\u200f', // bidi isolate, RLM
  '\u2028LS\u2029PS', // line and paragraph separators
  '\x85NEL', // next line (C1)
  '\nagentsight: FORGED line', // a line of ours
].join('');
const H = `x${NASTY}y`;

/** Unsafe characters (as printable() escapes them). */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
const OWN_SGR = /\x1b\[(?:0|1|2|22|3[1-6]|39)m/g;

/** The output holds no control character but agentsight's own colours and `newlines` line breaks of its own. */
function expectSafe(out: string, opts: { color: boolean; newlines?: number }) {
  const bare = opts.color ? out.replace(OWN_SGR, '') : out;
  if (!opts.color) expect(out).not.toContain('\x1b');
  const breaks = bare.split('\n').length - 1;
  expect(breaks).toBe(opts.newlines ?? 0);
  expect(bare.replace(/\n/g, '')).not.toMatch(UNSAFE);
  // nothing forged: every line is ours
  for (const line of bare.split('\n')) expect(line).not.toMatch(/^\s*agentsight: FORGED/);
}

/** The event with every hostile string made harmless. */
function benign<T>(v: T): T {
  return JSON.parse(JSON.stringify(v).split(JSON.stringify(H).slice(1, -1)).join('x'));
}

const base = { timestamp: 1_700_000_000_000, pid: 4242, comm: H };

const EVENTS: Event[] = [
  {
    ...base,
    source: 'process',
    data: { event: 'EXEC', ppid: 1, filename: H, full_command: `${H} --flag ${H}`, llm_call_id: H, tool_name: H, argv_truncated: true },
  },
  { ...base, source: 'process', data: { event: 'EXIT', ppid: 1, exit_code: H, signal: H, duration_ms: H } },
  { ...base, source: 'process', data: { event: 'FORK', ppid: H } },
  { ...base, source: 'process', data: { event: 'FILE_OPEN', filepath: `/tmp/new\nline${H}`, flags: H, fd: H, error: H, repeat: true, count: H, window_ms: H } },
  { ...base, source: 'process', data: { event: H, x: H } },
  { ...base, source: 'stats', data: { event: 'ANALYZER', analyzer: H, [H]: 3 } },
  { ...base, source: 'stats', data: { event: 'FINAL', tracer: H, records: H, events: H, kernel: { [H]: 2 } } },
  { ...base, source: 'http', data: { type: 'request', method: H, host: H, path: `/v1/${H}`, body_size: 10, incomplete: true } },
  {
    ...base,
    source: 'http',
    data: { type: 'response_headers', status_code: 200, content_type: H, ttfb_ms: 5, request: { method: H, host: H, path: H } },
  },
  {
    ...base,
    source: 'http',
    data: {
      type: 'response',
      status_code: 500,
      status_text: H,
      request: { method: H, host: H, path: H },
      latency_ms: 3,
      body_size: 9,
      content_type: `${H};charset=${H}`,
      incomplete: true,
      incomplete_reason: H,
      body_truncated: true,
      streamed: false,
      body_encoding: 'utf8',
      body: H,
    },
  },
  { ...base, source: 'http', data: { type: 'parse_error', kind: H, conn_id: H, function: H, offset: 0, message: H, excerpt_text: H } },
  {
    ...base,
    source: 'sse',
    data: {
      type: 'merged',
      provider: H,
      model: H,
      stop_reason: H,
      end_reason: H,
      duration_ms: 10,
      thinking: H,
      text: H,
      tool_calls: [{ name: H, arguments_raw: H, arguments_error: true }],
      errors: [{ message: H }],
      malformed_lines: 1,
      request: { host: H, path: H },
    },
  },
  {
    ...base,
    source: 'websocket',
    data: { type: 'message', host: H, path: H, direction: 'server_to_client', opcode: H, size: 3, data: H, data_encoding: 'utf8', fragmented: true, frames: H },
  },
  {
    ...base,
    source: 'websocket',
    data: { type: 'message', host: H, path: H, direction: 'client_to_server', opcode: 'close', close_code: H, data: H, size: 2 },
  },
  { ...base, source: 'websocket', data: { type: 'parse_error', host: H, path: H, kind: H, message: H } },
  { ...base, source: 'websocket', data: { type: 'end', host: H, path: H, reason: H, messages: { client_to_server: H, server_to_client: 1 } } },
  { ...base, source: 'diagnostic', data: { type: 'tls_discovery', level: 'warning', message: `no TLS code found in pid 7 (${H}, /tmp/${H})` } },
  {
    ...base,
    source: 'llm',
    data: {
      'gen_ai.provider.name': H,
      'gen_ai.request.model': H,
      'gen_ai.usage.input_tokens': H,
      'gen_ai.usage.output_tokens': 2,
      'http.response.status_code': H,
      latency_ms: H,
      error: { type: H, message: H },
      response: { text: H, tool_calls: [{ name: H, command: H }] },
    },
  },
  { ...base, source: 'llm', data: { 'gen_ai.provider.name': 'anthropic', 'http.response.status_code': 200, response: { text: H, tool_calls: [] } } },
  { ...base, source: 'summary', data: { llm_calls: H, commands: [], tool_calls_linked: H, tool_calls_requested: H } },
  { ...base, source: H, data: { x: H } },
];

describe('printable()', () => {
  it('shows every control, separator and bidi character as a visible escape, and leaves other text alone', () => {
    expect(printable('\x1b]0;t\x07')).toBe('\\x1b]0;t\\x07');
    expect(printable('a\nb\rc\td')).toBe('a\\nb\\rc\\td');
    expect(printable('\x9b2J\x7f\x85')).toBe('\\x9b2J\\x7f\\x85');
    expect(printable('\u202eabc\u2066\u2069\u2028\u2029\u200e\u061c')).toBe('\\u202eabc\\u2066\\u2069\\u2028\\u2029\\u200e\\u061c');
    expect(printable('ünïcödé → ✦ 日本 \\x1b')).toBe('ünïcödé → ✦ 日本 \\x1b');
    expect(printable(42)).toBe('42');
    expect(printable(printable(H))).toBe(printable(H));
    expectSafe(printable(H), { color: false });
  });

  it('terminalLine() keeps only agentsight’s own colour codes; printableLines() only the text’s own line breaks', () => {
    expect(terminalLine('\x1b[31mred\x1b[39m \x1b[38;5;1mx\x1b]0;t\x07', true)).toBe('\x1b[31mred\x1b[39m \\x1b[38;5;1mx\\x1b]0;t\\x07');
    expect(terminalLine('\x1b[31mred\x1b[39m', false)).toBe('\\x1b[31mred\\x1b[39m');
    expect(printableLines('one\x1b[2J\ntwo\r\nthree')).toBe('one\\x1b[2J\ntwo\nthree');
  });

  it('jsonText() escapes what JSON.stringify leaves raw (DEL, C1, separators, bidi) without changing the value', () => {
    const json = JSON.stringify({ s: H });
    expect(json).toMatch(/[\u009b\u202e\u2028]/); // JSON.stringify leaves them
    const safe = jsonText(json);
    expect(safe).not.toMatch(UNSAFE);
    expect(JSON.parse(safe)).toEqual({ s: H });
  });
});

describe('every renderer, with hostile text in every field', () => {
  for (const color of [false, true]) {
    it(`renderEvent (${color ? 'colour' : 'no colour'}): no control character but our colours, no forged line, the text shown escaped`, () => {
      for (const e of EVENTS) {
        const out = renderEvent(e, { color });
        // the only line breaks are the event's own continuation lines: as many as with harmless text
        const own = renderEvent(benign(e), { color }).split('\n').length - 1;
        expectSafe(out, { color, newlines: own });
        for (const cont of out.split('\n').slice(1)) expect(cont.startsWith(' '.repeat(13))).toBe(true);
        expect(out).toContain('\\x1b');
      }
    });
  }

  it('renderHttpEvent lines are one line each', () => {
    for (const e of EVENTS.filter((x) => x.source === 'http' || x.source === 'sse')) {
      const lines = renderHttpEvent(e, { color: true });
      expect(lines.length).toBeGreaterThan(0);
      for (const l of lines) expectSafe(l, { color: true });
    }
  });

  it('a file named "new\\nline" and an argv element with a newline show as \\n on their own line', () => {
    const open = renderEvent(EVENTS[3]);
    expect(open).toContain('/tmp/new\\nline');
    const exec = renderEvent({ ...base, comm: 'sh', source: 'process', data: { event: 'EXEC', ppid: 1, full_command: "sh -c 'a\nagentsight: FORGED'" } });
    expect(exec).toContain("sh -c 'a\\nagentsight: FORGED'");
    expectSafe(exec, { color: false });
  });

  it('OutputAnalyzer: pretty output is safe; JSON output is exact JSON with no raw control character', async () => {
    for (const format of ['pretty', 'json'] as const) {
      const stream = new PassThrough();
      let text = '';
      stream.on('data', (d) => (text += d));
      const out = new OutputAnalyzer({ stream, format, color: format === 'pretty' });
      async function* src() {
        yield* EVENTS;
      }
      for await (const _ of out.process(src(), { signal: new AbortController().signal } as never)) void _;
      await new Promise((r) => setImmediate(r));
      expect(text).not.toMatch(/\x1b(?!\[(?:0|1|2|22|3[1-6]|39)m)/);
      expect(text.replace(OWN_SGR, '').replace(/\n/g, '')).not.toMatch(UNSAFE);
      if (format === 'json') {
        const lines = text.trimEnd().split('\n');
        expect(lines).toHaveLength(EVENTS.length);
        expect(lines.map((l) => JSON.parse(l))).toEqual(EVENTS);
        expect(lines.map((l) => `${l}\n`)).toEqual(EVENTS.map(toJsonLine));
      }
    }
  });
});

describe('lines agentsight writes to stderr', () => {
  it('notices and the ready line of a run are one escaped line each', async () => {
    const runner = new (class extends EventEmitter {
      name = 'fake';
      validate() {}
      async *run() {
        this.emit('ready', { runner: 'fake', programs: 1, links: 1, detail: `probing ${H}` });
        this.emit('notice', `no TLS code found in pid 7 (${H}, /tmp/${H}): it maps no libssl`);
        yield EVENTS[0];
      }
    })();
    const cap = captureIo();
    const r = await runSession(runner as unknown as Runner, cap.io, { handleSignals: false });
    await new Promise((res) => setImmediate(res));
    expect(r.events).toBe(1);
    const err = cap.err();
    expectSafe(err, { color: false, newlines: 2 });
    expect(err).toMatch(/^agentsight: probing x\\x1b\]0;pwned title\\x07.*; Ctrl-C to stop\nagentsight: no TLS code found in pid 7 \(x\\x1b/);
    for (const l of summaryLines(r)) expectSafe(l, { color: false });
  });

  it('the end-of-run summary quotes commands, models and tools escaped', () => {
    const s: SessionSummaryData = {
      llm_calls: 1,
      llm_errors: 0,
      models: [
        {
          provider: H,
          model: H,
          calls: 1,
          input_tokens: 1,
          output_tokens: 1,
          cache_read_input_tokens: 0,
          cache_creation_input_tokens: 0,
          reasoning_tokens: 0,
          cost_usd: 0.002,
          unpriced_calls: 0,
        },
      ],
      cost_usd: 0.002,
      unpriced_calls: 0,
      tool_calls_requested: 1,
      tool_calls_linked: 1,
      commands: [
        { pid: 9, command: `rm -rf ${H}`, exit_code: 0, llm_call_id: H, tool_name: H, tool_call_id: H },
        { pid: 10, command: `${H}`.repeat(10), signal: H },
      ],
      commands_not_listed: 0,
      events: {},
    } as unknown as SessionSummaryData;
    const lines = summaryText(s);
    // LLM calls, the model, cost, tool calls, commands run, and the two commands
    expect(lines.length).toBe(7);
    for (const l of lines) expectSafe(l, { color: false });
    expect(lines.join('\n')).toContain('rm -rf x\\x1b]0;pwned title\\x07');
  });

  it('errors quoting a path or argument are one escaped line each; a stack keeps only its own line breaks', () => {
    const cap = captureIo();
    expect(reportError(new UsageError(`--output ${H}: is a directory`), cap.io, 'record')).toBe(2);
    expect(reportError(new AgentsightError(`cannot attach to ${H}`), cap.io)).toBe(1);
    const err = new Error(`boom ${H}`);
    expect(reportError(err, cap.io)).toBe(1);
    const out = cap.err();
    const frames = (err.stack ?? '').split('\n').filter((l) => /^\s+at /.test(l)).length;
    expect(frames).toBeGreaterThan(0);
    // usage error (2 lines) + error (1) + unexpected error (its message on one line, then its stack frames)
    expectSafe(out, { color: false, newlines: 2 + 1 + 1 + frames });
    expect(out).toContain('agentsight: --output x\\x1b]0;pwned title');
  });

  it('writeLine() writes one line', () => {
    const s = new PassThrough();
    let t = '';
    s.on('data', (d) => (t += d));
    writeLine(s, `agentsight: ${H}`);
    expectSafe(t, { color: false, newlines: 1 });
    expect(t.endsWith('\n')).toBe(true);
  });
});
