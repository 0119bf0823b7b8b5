/**
 * WebSocket through the analyzers: real bytes (the ws package through a
 * relay; the openai SDK's ResponsesWS against the stand-in through a TLS
 * relay that keeps the plaintext) replayed as ssl events into HttpParser
 * (websocket events, any split of the reads) and LlmAnalyzer (llm events
 * with the exact model, text, usage and tool call the stand-in sent, the
 * same as over SSE; tool calls linked to execs before the answer ends).
 */
import fc from 'fast-check';
import * as https from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { ResponsesWS } from 'openai/resources/responses/ws';
import { WebSocket } from 'ws';
import { HttpParser } from '../../lib/analyzers/http-parser';
import { LlmAnalyzer } from '../../lib/analyzers/llm';
import { Redactor } from '../../lib/analyzers/redactor';
import { SseProcessor } from '../../lib/analyzers/sse-processor';
import type { Event } from '../../lib/core/event';
import { startStandin, type Standin } from '../../lib/standin';
import { TEST_OPENAI_API_KEY } from '../../lib/standin/keys';
import { exec, run, splitAt, ssl } from '../support/events';
import { plaintextRelay, type PlaintextRelay } from '../support/plaintext-relay';
import { captureWs, type WsCapture } from '../support/ws-capture';

type Piece = { from: 'client' | 'server'; bytes: Buffer };

/** ssl events of a traced client (or of the server, `asServer`), each piece cut where `cuts` say. */
function sslEvents(pieces: Piece[], opts: { asServer?: boolean; cuts?: number[] } = {}): Event[] {
  const out: Event[] = [];
  for (const p of pieces) {
    const write = (p.from === 'client') !== (opts.asServer ?? false);
    for (const b of opts.cuts
      ? splitAt(
          p.bytes,
          opts.cuts.map((c) => c % (p.bytes.length + 1)),
        )
      : [p.bytes]) {
      out.push(ssl(write ? 'WRITE/SEND' : 'READ/RECV', b));
    }
  }
  return out;
}

const ws = (events: Event[]) => events.filter((e) => e.source === 'websocket').map((e) => e.data as Record<string, any>);
const noRefs = (ds: Record<string, any>[]) => ds.map(({ ssl: _s, ...rest }) => rest);

describe('HttpParser follows an upgraded connection as WebSocket', () => {
  let cap: WsCapture;
  beforeAll(async () => {
    cap = await captureWs({
      deflate: { threshold: 0 },
      headers: { authorization: `Bearer ${TEST_OPENAI_API_KEY}` },
      client: [
        { send: JSON.stringify({ type: 'response.create', model: 'gpt-5', input: `my key is ${TEST_OPENAI_API_KEY}` }) },
        { send: 'part one, ', fin: false },
        { ping: 'ping!' },
        { send: 'part two' },
        { send: Buffer.from([0, 1, 2, 250]) },
        { await: 2 },
      ],
      server: [{ send: JSON.stringify({ type: 'response.created', response: { id: 'resp_1' } }) }, { send: 'x'.repeat(100_000) }],
    });
  });

  it('one websocket event per message, with the upgrade request, then the end', async () => {
    const events = await run([new Redactor(), new HttpParser()], sslEvents(cap.pieces));
    const http = events.filter((e) => e.source === 'http').map((e) => e.data);
    expect(http.map((d) => `${d.type} ${d.status_code ?? d.method}`)).toEqual(['request GET', 'response 101']);
    const w = ws(events);
    const msgs = w.filter((d) => d.type === 'message');
    expect(msgs.map((d) => d.index)).toEqual(msgs.map((_, i) => i));
    for (const d of w) expect(d).toMatchObject({ role: 'client', path: '/v1/responses', http_seq: 0, host: expect.stringMatching(/^127\.0\.0\.1:\d+$/) });
    const c2s = msgs.filter((d) => d.direction === 'client_to_server');
    expect(c2s.map((d) => [d.opcode, d.compressed, d.fragmented])).toEqual([
      ['text', true, false],
      ['ping', false, false],
      ['text', true, true],
      ['binary', true, false],
      ['close', false, false],
    ]);
    // the API key in a compressed, masked message is masked all the same
    expect(c2s[0].data).toContain('my key is ');
    expect(JSON.stringify(events).includes(TEST_OPENAI_API_KEY.slice(10, 40))).toBe(false);
    expect(c2s[2]).toMatchObject({ data: 'part one, part two', frames: 2, size: 18 });
    expect(c2s[3]).toMatchObject({ data: Buffer.from([0, 1, 2, 250]).toString('base64'), data_encoding: 'base64', size: 4 });
    expect(c2s[4]).toMatchObject({ close_code: 1000, data: 'done' });
    const s2c = msgs.filter((d) => d.direction === 'server_to_client');
    expect(s2c.map((d) => d.opcode)).toEqual(['text', 'text', 'pong', 'close']);
    expect(s2c[1]).toMatchObject({ size: 100_000, truncated: false, compressed: true });
    expect(s2c[1].wire_size).toBeLessThan(1000);
    const end = w.at(-1) as Record<string, any>;
    expect(end).toMatchObject({
      type: 'end',
      reason: 'closed',
      messages: { client_to_server: 5, server_to_client: 4 },
      deflate: { client_no_context_takeover: false, server_no_context_takeover: false },
    });
    const stats = events.find((e) => e.source === 'stats')?.data;
    expect(stats).toMatchObject({ websocket_connections: 1, websocket_messages: 9, websocket_errors: 0, connections_opaque: 0 });
  });

  it('any split of the reads gives the same websocket events; a traced server sees the same messages', async () => {
    const whole = noRefs(ws(await run(new HttpParser(), sslEvents(cap.pieces))));
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 0, max: 5000 }), { maxLength: 12 }), async (cuts) => {
        expect(noRefs(ws(await run(new HttpParser(), sslEvents(cap.pieces, { cuts }))))).toEqual(whole);
      }),
      { numRuns: 25 },
    );
    const server = noRefs(ws(await run(new HttpParser(), sslEvents(cap.pieces, { asServer: true }))));
    expect(server).toEqual(whole.map((d) => ({ ...d, role: 'server' })));
  });

  it('a lost read ends that direction with a parse_error; the other goes on', async () => {
    const events = sslEvents(cap.pieces);
    // the first read after the 101 response loses its bytes
    const at = events.findIndex((e, i) => i > 1 && e.data.function === 'READ/RECV');
    const cut = [...events.slice(0, at), ssl('READ/RECV', 'x', { truncated: true, bytes_lost: 50 }), ...events.slice(at + 1)];
    const w = ws(await run(new HttpParser(), cut));
    const err = w.find((d) => d.type === 'parse_error') as Record<string, any>;
    expect(err).toMatchObject({ kind: 'gap', fatal: true, direction: 'server_to_client', function: 'READ/RECV' });
    expect(w.filter((d) => d.type === 'message' && d.direction === 'client_to_server')).toHaveLength(5);
    expect(w.at(-1)).toMatchObject({ type: 'end', stopped: { server_to_client: expect.stringMatching(/bytes lost/) } });
  });
});

const TOOLS = [
  {
    type: 'function' as const,
    name: 'bash',
    strict: false,
    description: 'Run a shell command',
    parameters: { type: 'object', properties: { command: { type: 'string' } } },
  },
];

describe('LLM calls over the Responses API WebSocket transport (openai SDK against the stand-in)', () => {
  let s: Standin;
  let relay: PlaintextRelay;
  beforeAll(async () => {
    s = await startStandin({ compression: false });
    relay = await plaintextRelay(s);
  });
  afterAll(async () => {
    await relay.close();
    await s.close();
  });

  /** Run the SDK's ResponsesWS through the relay: a tool call, its result, the final answer. Returns the plaintext of that connection. */
  async function converse(deflate: boolean): Promise<{ pieces: Piece[]; ids: string[] }> {
    const first = relay.pieces.length;
    const client = new OpenAI({ baseURL: `${relay.url}/v1`, apiKey: TEST_OPENAI_API_KEY });
    const rws = new ResponsesWS(client, { ca: s.tls.caCert, perMessageDeflate: deflate });
    const done: ((r: any) => void)[] = [];
    rws.on('error', (e) => {
      throw e;
    });
    rws.on('response.completed', (e) => done.shift()?.(e.response));
    const turn = (body: Record<string, unknown>) =>
      new Promise<any>((resolve) => {
        done.push(resolve);
        rws.send({ type: 'response.create', ...body } as never);
      });
    const r1 = await turn({ model: 'gpt-5', input: 'Who am I? run: id -un', tools: TOOLS });
    const call = r1.output.find((o: any) => o.type === 'function_call');
    const r2 = await turn({
      model: 'gpt-5',
      previous_response_id: r1.id,
      input: [{ type: 'function_call_output', call_id: call.call_id, output: 'agent\n' }],
      tools: TOOLS,
    });
    await new Promise<void>((resolve) => {
      rws.socket.on('close', () => resolve());
      rws.close({ code: 1000, reason: 'bye' });
    });
    return { pieces: relay.pieces.slice(first), ids: [r1.id, r2.id] };
  }

  /** The stand-in's record of the call whose response id is `id`: what it sent. */
  function sent(id: string) {
    const rec = s.requests.find((r) => r.response.writes.some((w) => w.includes(id) && w.includes('response.completed')));
    if (!rec) throw new Error(`no record of ${id}`);
    const last = JSON.parse(rec.response.writes.at(-1)?.replace(/^(event: .*\n)?data: /, '') as string);
    return { rec, usage: last.response.usage, model: last.response.model, output: last.response.output as { type: string; call_id?: string }[] };
  }

  for (const deflate of [false, true]) {
    it(`one llm event per response.create${deflate ? ', permessage-deflate' : ''}: model, text, usage and tool call as sent, no key anywhere`, async () => {
      const { pieces, ids } = await converse(deflate);
      const exchanges = sslEvents(pieces);
      const parsed = await run([new Redactor(), new HttpParser()], exchanges);
      // an exec of the asked-for command before the answer ended: linked through the early registration
      const completedAt = parsed.findIndex((e) => e.source === 'websocket' && String(e.data.data).includes('"response.completed"'));
      expect(completedAt).toBeGreaterThan(0);
      const withExec = [...parsed.slice(0, completedAt), exec({ pid: 5001, ppid: 4242, argv: ['sh', '-c', 'id -un'] }), ...parsed.slice(completedAt)];
      const out = await run([new SseProcessor(), new LlmAnalyzer()], withExec);
      const llm = out.filter((e) => e.source === 'llm').map((e) => e.data as Record<string, any>);
      expect(llm).toHaveLength(2);
      const [one, two] = llm;
      const a = sent(ids[0]);
      const b = sent(ids[1]);
      expect(one).toMatchObject({
        api: 'openai.responses',
        transport: 'websocket',
        streaming: true,
        'gen_ai.request.model': 'gpt-5',
        'gen_ai.response.model': a.model,
        'gen_ai.response.id': ids[0],
        'gen_ai.usage.input_tokens': a.usage.input_tokens,
        'gen_ai.usage.output_tokens': a.usage.output_tokens,
        usage: { input_tokens: a.usage.input_tokens, output_tokens: a.usage.output_tokens, total_tokens: a.usage.total_tokens },
        endpoint: { method: 'GET', path: '/v1/responses' },
        request: { messages: [{ role: 'user', content: 'Who am I? run: id -un' }], tools: [{ name: 'bash' }] },
        response: { text: '', tool_calls: [{ name: 'bash', arguments: { command: 'id -un' }, command: 'id -un' }] },
        'http.response.status_code': null,
      });
      expect(one.response.tool_calls[0].id).toBe(a.output.find((o) => o.type === 'function_call')?.call_id);
      expect(two).toMatchObject({ transport: 'websocket', 'gen_ai.response.id': ids[1], response: { text: b.rec.response.text, tool_calls: [] } });
      expect(two.response.text).toContain('agent');
      // the second turn sends only the tool's output and names the response it continues from
      expect(two.request).toMatchObject({ previous_response_id: ids[0], messages: [{ role: 'tool', tool_results: [{ content: 'agent\n' }] }] });
      expect(one.request.previous_response_id).toBeUndefined();
      expect(one.websocket_index).toBeLessThan(two.websocket_index);
      expect(one.latency_ms).toBeGreaterThanOrEqual(one.time_to_first_chunk_ms);
      const linked = out.find((e) => e.source === 'process' && e.data.event === 'EXEC')?.data;
      expect(linked).toMatchObject({ llm_call_id: one.call_id, tool_name: 'bash', tool_call_id: one.response.tool_calls[0].id });
      expect(JSON.stringify(out).includes(TEST_OPENAI_API_KEY.slice(10, 40))).toBe(false);
      const msgs = out.filter((e) => e.source === 'websocket' && e.data.type === 'message');
      expect(msgs.some((e) => e.data.compressed)).toBe(deflate);
    });
  }

  it('the llm event of a call over WebSocket is the one the same call gets over SSE', async () => {
    const { pieces } = await converse(false);
    const overWs = (await run([new HttpParser(), new SseProcessor(), new LlmAnalyzer()], sslEvents(pieces))).filter((e) => e.source === 'llm')[0];
    const first = relay.pieces.length;
    await postStream(relay.url, s.tls.caCert, { model: 'gpt-5', input: 'Who am I? run: id -un', tools: TOOLS, stream: true });
    const overSse = (await run([new HttpParser(), new SseProcessor(), new LlmAnalyzer()], sslEvents(relay.pieces.slice(first)))).filter(
      (e) => e.source === 'llm',
    )[0];
    const comparable = (d: Record<string, any>) => {
      const {
        latency_ms: _l,
        time_to_first_chunk_ms: _t,
        conn_id: _c,
        http_seq: _s,
        call_id: _i,
        transport: _x,
        endpoint: _e,
        websocket_index: _w,
        ...rest
      } = d;
      // ids derive from a hash of the request as sent, which differs between the transports
      return {
        ...rest,
        'gen_ai.response.id': null,
        response: { ...rest.response, tool_calls: rest.response.tool_calls.map((t: any) => ({ ...t, id: null })) },
      };
    };
    expect(overSse.data).toMatchObject({ transport: 'http', endpoint: { method: 'POST' }, 'http.response.status_code': 200 });
    expect(comparable(overWs.data)).toEqual({ ...comparable(overSse.data), 'http.response.status_code': null });
  });
});

/** POST a streamed Responses call over HTTPS and read the answer to its end. */
function postStream(url: string, ca: string, body: unknown): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      `${url}/v1/responses`,
      { method: 'POST', ca, headers: { authorization: `Bearer ${TEST_OPENAI_API_KEY}`, 'content-type': 'application/json' } },
      (res) => {
        res.on('data', () => undefined);
        res.on('end', () => resolve());
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

describe('the stand-in WebSocket transport', () => {
  let s: Standin;
  beforeAll(async () => {
    s = await startStandin({ compression: false, chunkDelayMs: 0 });
  });
  afterAll(async () => {
    await s.close();
  });

  const open = (headers: Record<string, string>, path = '/v1/responses') =>
    new WebSocket(`wss://127.0.0.1:${s.port}${path}`, { ca: s.tls.caCert, headers, perMessageDeflate: { clientNoContextTakeover: true } });

  it('refuses an upgrade without a key (401, OpenAI shape) or on another path (404)', async () => {
    for (const [headers, path, status] of [
      [{}, '/v1/responses', 401],
      [{ authorization: `Bearer ${TEST_OPENAI_API_KEY}` }, '/v1/chat/completions', 404],
    ] as const) {
      const ws = open(headers, path);
      const got = await new Promise<number>((resolve) =>
        ws.on('unexpected-response', (req, res) => {
          resolve(res.statusCode ?? 0);
          req.destroy();
        }),
      );
      ws.on('error', () => undefined);
      expect(got).toBe(status);
    }
  });

  it('answers bad messages and the error knobs with error events and stays open; pings get pongs', async () => {
    const ws = open({ authorization: `Bearer ${TEST_OPENAI_API_KEY}` });
    const got: any[] = [];
    ws.on('message', (d) => got.push(JSON.parse(String(d))));
    await new Promise((r) => ws.once('open', r));
    const pong = new Promise<Buffer>((r) => ws.once('pong', (d) => r(d)));
    ws.ping('hi');
    expect(String(await pong)).toBe('hi');
    ws.send('not json');
    ws.send(JSON.stringify({ type: 'session.update' }));
    ws.send(JSON.stringify({ type: 'response.create', model: 'error-429', input: 'x' }));
    ws.send(JSON.stringify({ type: 'response.create', input: 'x' }));
    ws.send(JSON.stringify({ type: 'response.create', model: 'gpt-5', input: 'Say hello' }));
    const deadline = Date.now() + 5000;
    while (!got.some((m) => m.type === 'response.completed') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    const errors = got.filter((m) => m.type === 'error');
    expect(errors.map((m) => m.status)).toEqual([400, 400, 429, 400]);
    expect(errors[3].error).toMatchObject({ param: 'model', code: 'missing_required_parameter' });
    const completed = got.find((m) => m.type === 'response.completed');
    expect(completed.response.output[0].content[0].text).toBe(s.expectedText(s.requests.at(-1) as never));
    expect(s.requests.slice(-5).map((r) => r.websocket?.message)).toEqual([0, 1, 2, 3, 4]);
    const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
    ws.close(1000, 'bye');
    expect(await closed).toBe(1000);
  });
});
