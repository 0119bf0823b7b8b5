/**
 * `agentsight report`: totals of the recorded fixtures, the JSON a script
 * reads, several and concatenated files, damaged lines, errors and losses,
 * text and Markdown output with captured text made harmless.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../lib/cli/main';
import type { Event } from '../../lib/core/event';
import { buildReport, printable, renderReport, type SessionReport } from '../../lib/report';
import { captureIo } from '../support/io';
import { fixtureNames, sessionEvents, tempDir, writeSession } from '../support/sessions';

const tmp = tempDir();
afterAll(() => tmp.remove());
const files: Record<string, string> = {};
const events: Record<string, Event[]> = {};

beforeAll(async () => {
  for (const name of fixtureNames()) {
    events[name] = await sessionEvents(name);
    files[name] = writeSession(path.join(tmp.dir, `${name}.ndjson`), events[name]);
  }
});

async function cli(args: string[]) {
  const c = captureIo();
  const code = await main(args, c.io);
  return { code, out: c.out(), err: c.err() };
}

describe('report totals on the recorded fixtures', () => {
  it('every fixture: calls, tokens and cost per model match its llm events', async () => {
    for (const name of fixtureNames()) {
      const r = await buildReport([files[name]]);
      const calls = events[name].filter((e) => e.source === 'llm');
      expect(r.totals.calls, name).toBe(calls.length);
      expect(r.sessions, name).toBe(1);
      expect(r.totals.cost_usd, name).toBeCloseTo(
        calls.reduce((a, c) => a + c.data.cost_usd, 0),
        12,
      );
      expect(r.totals.output_tokens, name).toBe(calls.reduce((a, c) => a + c.data.usage.output_tokens, 0));
      expect(
        r.models.every((m) => m.latency_ms && m.latency_ms.count === m.calls),
        name,
      ).toBe(true);
      // each tool call ran its command, linked, with an exit code
      for (const tc of r.tool_calls) {
        expect(tc.pids.length, `${name} ${tc.tool_call_id}`).toBeGreaterThan(0);
        for (const pid of tc.pids) expect(r.commands.find((c) => c.pid === pid)?.exit_code, name).toBe(0);
      }
    }
  });

  it('python-anthropic-stream: exact numbers', async () => {
    const r = await buildReport([files['python-anthropic-stream']]);
    expect(r.totals).toEqual({
      calls: 2,
      errors: 0,
      input_tokens: 84 + 177,
      cache_read_tokens: 0,
      cache_write_tokens: 0,
      output_tokens: 22 + 71,
      reasoning_tokens: 0,
      cost_usd: 0.002178,
      unpriced_calls: 0,
    });
    expect(r.models).toHaveLength(1);
    expect(r.models[0]).toMatchObject({ provider: 'anthropic', model: 'claude-sonnet-4-6', calls: 2, cost_usd: 0.002178 });
    expect(r.tools).toEqual([{ name: 'bash', calls: 1, ran_commands: 1 }]);
    expect(r.tool_calls).toMatchObject([{ llm_call_id: 'llm-31852-1', name: 'bash', command: 'uname -r' }]);
    expect(r.commands.map((c) => c.command)).toEqual([expect.stringContaining('agent.py'), '/bin/sh -c uname -r', 'uname -r']);
    expect(r.hosts).toEqual([{ host: expect.stringMatching(/^127\.0\.0\.1:\d+$/), requests: 2, llm_calls: 2 }]);
    expect(r.errors).toEqual([]);
  });
});

describe('--format json', () => {
  it('is one object with models, totals, tools and commands', async () => {
    const { code, out } = await cli(['report', '--format', 'json', files['sdk-openai-responses-stream'], files['sdk-anthropic-json']]);
    expect(code).toBe(0);
    const r = JSON.parse(out) as SessionReport;
    expect(Object.keys(r)).toEqual(
      expect.arrayContaining([
        'files',
        'sessions',
        'events',
        'totals',
        'models',
        'tools',
        'tool_calls',
        'commands',
        'files_written',
        'hosts',
        'errors',
        'losses',
      ]),
    );
    expect(r.sessions).toBe(2);
    expect(r.models.map((m) => [m.provider, m.model, m.calls])).toEqual([
      ['openai', 'gpt-4.1', 2],
      ['anthropic', 'claude-sonnet-4-6', 2],
    ]);
    for (const m of r.models) {
      expect(typeof m.cost_usd).toBe('number');
      expect(m).toHaveProperty('input_tokens');
      expect(m).toHaveProperty('output_tokens');
      expect(m).toHaveProperty('cache_read_tokens');
      expect(m.latency_ms).toMatchObject({ count: 2, p50: expect.any(Number), p90: expect.any(Number), p99: expect.any(Number), max: expect.any(Number) });
    }
    expect(r.totals.cost_usd).toBeCloseTo((91 * 2 + 7 * 8 + 146 * 2 + 69 * 8 + 80 * 3 + 20 * 15 + 170 * 3 + 69 * 15) / 1e6, 12);
    expect(r.tools[0]).toEqual({ name: 'bash', calls: 2, ran_commands: 2 });
    expect(r.commands.length).toBeGreaterThan(2);
  });
});

describe('several sessions, damage, errors', () => {
  it('a file of sessions appended one after another, with a damaged line in between', async () => {
    const a = fs.readFileSync(files['python-anthropic-stream'], 'utf8');
    const b = fs.readFileSync(files['python-openai-json'], 'utf8');
    const f = path.join(tmp.dir, 'concatenated.ndjson');
    fs.writeFileSync(f, `${a}{"torn": \n${b}`);
    const r = await buildReport([f]);
    expect(r.sessions).toBe(2);
    expect(r.damaged_lines).toBe(1);
    expect(r.totals.calls).toBe(4);
    expect(r.errors).toEqual([expect.objectContaining({ kind: 'damaged_line', message: expect.stringContaining(`${f}:${a.split('\n').length}`) })]);
    expect(r.tool_calls.map((t) => t.pids.length > 0)).toEqual([true, true]);
  });

  it('HTTP errors, failed and incomplete calls, tracer losses and diagnostics are listed', async () => {
    const t = 1764300000000;
    const ev = (source: string, data: Record<string, unknown>, pid = 7): Event => ({ timestamp: t, source, pid, comm: 'x', data });
    const f = writeSession(path.join(tmp.dir, 'errors.ndjson'), [
      ev('http', {
        type: 'response',
        status_code: 529,
        status_text: 'Overloaded',
        request: { method: 'POST', url: 'https://api.anthropic.com/v1/messages' },
        conn_id: '7:1',
        seq: 0,
      }),
      ev('llm', {
        event: 'LLM_CALL',
        call_id: 'llm-7-1',
        api: 'anthropic.messages',
        'gen_ai.provider.name': 'anthropic',
        'gen_ai.request.model': 'claude-haiku-4-5',
        'http.response.status_code': 529,
        error: { type: 'overloaded_error', message: 'Overloaded' },
        usage: null,
        response: { tool_calls: [] },
      }),
      ev('llm', {
        event: 'LLM_CALL',
        call_id: 'llm-7-2',
        api: 'anthropic.messages',
        'gen_ai.provider.name': 'anthropic',
        'gen_ai.request.model': 'claude-haiku-4-5',
        incomplete: 'idle_timeout',
        usage: { input_tokens: 10, output_tokens: 1 },
        response: { tool_calls: [] },
      }),
      ev('process', { event: 'FILE_OPEN', filepath: '/tmp/out.txt', flags: 'O_WRONLY|O_CREAT|O_TRUNC', fd: 3, count: 1 }),
      ev('process', { event: 'FILE_OPEN', filepath: '/etc/passwd', flags: 'O_RDONLY', fd: 3, count: 1 }),
      ev('process', { event: 'FILE_OPEN', filepath: '/root/x', flags: 'O_WRONLY|O_CREAT', error: 'EACCES', count: 2, repeat: true }),
      ev('stats', { event: 'FINAL', tracer: 'ssl', kernel: { ringbuf_full_ssl: 3, ssl_bytes_lost: 4096 }, decode_errors: 0 }),
      ev('stats', { event: 'ANALYZER', analyzer: 'http_parser', gaps: 1, requests: 5 }),
      ev('diagnostic', { type: 'tls_discovery', level: 'warning', message: 'no TLS library found in 42' }),
    ]);
    const r = await buildReport([f]);
    expect(r.errors.map((e) => e.kind)).toEqual(['http', 'llm', 'incomplete', 'diagnostic', 'loss', 'loss', 'loss']);
    expect(r.errors[0].message).toBe('HTTP 529 Overloaded: POST https://api.anthropic.com/v1/messages');
    expect(r.errors[1].message).toContain('overloaded_error: Overloaded');
    expect(r.losses).toEqual({ 'ssl.ringbuf_full_ssl': 3, 'ssl.ssl_bytes_lost': 4096, 'http_parser.gaps': 1 });
    expect(r.files_written.map((w) => [w.path, w.opens, w.failed])).toEqual([
      ['/tmp/out.txt', 1, 0],
      ['/root/x', 2, 2],
    ]);
    expect(r.totals).toMatchObject({ calls: 2, errors: 1, unpriced_calls: 1, cost_usd: (10 * 1 + 1 * 5) / 1e6 });
  });

  it('a missing file is a usage error; no file at all too', async () => {
    const r = await cli(['report', path.join(tmp.dir, 'nope.ndjson')]);
    expect(r.code).toBe(2);
    expect(r.err).toContain('nope.ndjson: no such file');
    expect((await cli(['report'])).code).toBe(2);
  });

  it('a bad --prices file is a usage error', async () => {
    const p = path.join(tmp.dir, 'bad-prices.json');
    fs.writeFileSync(p, '[]');
    const r = await cli(['report', '--prices', p, files['curl-anthropic-gzip']]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--prices .*bad-prices\.json: expected \{"providers"/);
  });

  it('--prices prices every call again', async () => {
    const p = path.join(tmp.dir, 'prices.json');
    fs.writeFileSync(
      p,
      JSON.stringify({ providers: { anthropic: { models: { 'claude-sonnet-4-6': { input: 1000000, output: 0, as_of: '2026-12-01', source: 'test' } } } } }),
    );
    const r = JSON.parse((await cli(['report', '--format', 'json', '--prices', p, files['curl-anthropic-gzip']])).out) as SessionReport;
    expect(r.totals.cost_usd).toBe(11);
  });
});

describe('text and markdown', () => {
  it('text: aligned tables with the model, its cost and the command linked to its tool call', async () => {
    const { code, out } = await cli(['report', files['python-anthropic-stream']]);
    expect(code).toBe(0);
    expect(out).toContain('LLM calls: 2, cost $0.002178');
    const lines = out.split('\n');
    const head = lines.findIndex((l) => /^\s+provider\s+model\s+calls/.test(l));
    expect(lines[head + 1]).toMatch(/^\s+anthropic\s+claude-sonnet-4-6\s+2\s+0\s+261\s+0\s+0\s+93\s+\$0\.002178/);
    // columns line up: "calls" ends where the count does
    expect(lines[head].indexOf('calls') + 'calls'.length).toBe(lines[head + 1].indexOf(' 2 ') + 2);
    expect(out).toMatch(/31854\s+31853\s+0\s+\d+ ms\s+uname -r\s+bash toolu_\w+ of llm-31852-1/);
  });

  it('markdown: tables with escaped cells', async () => {
    const { out } = await cli(['report', '--format', 'markdown', files['python-anthropic-stream']]);
    expect(out).toContain('## LLM calls: 2, cost $0.002178');
    expect(out).toContain('| provider | model | calls |');
    expect(out).toMatch(/\| anthropic \| claude-sonnet-4-6 \| 2 \| 0 \| 261 \|/);
  });

  it('captured text is printable: escapes, control characters and markup are shown, not obeyed', async () => {
    expect(printable('a\x1b[31mred\x07\u202e')).toBe('a\\x1b[31mred\\x07\\u202e');
    const f = writeSession(path.join(tmp.dir, 'hostile.ndjson'), [
      { timestamp: 1, source: 'process', pid: 9, comm: 'sh', data: { event: 'EXEC', ppid: 1, full_command: 'echo \x1b]0;pwned\x07 <b>|x|</b>' } },
    ]);
    const r = await buildReport([f]);
    const text = renderReport(r, 'text');
    expect(text).not.toContain('\x1b');
    expect(text).toContain('echo \\x1b]0;pwned\\x07 <b>|x|</b>');
    const md = renderReport(r, 'markdown');
    expect(md).toContain('echo \\\\x1b\\]0;pwned\\\\x07 \\<b\\>\\|x\\|\\</b\\>');
  });
});
