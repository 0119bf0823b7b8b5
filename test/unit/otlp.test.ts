/**
 * OTLP export without root: recorded sessions replayed through the analyzer
 * chain into the OtlpSink, received by a real OTLP/HTTP receiver on loopback
 * that decodes protobuf with the official .proto files (and OTLP JSON); the
 * receiver going away and coming back; the flush bound; `agentsight export`.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { chain, type Analyzer } from '../../lib/core/analyzer';
import type { Event } from '../../lib/core/event';
import { HttpParser } from '../../lib/analyzers/http-parser';
import { LlmAnalyzer } from '../../lib/analyzers/llm';
import { SseProcessor } from '../../lib/analyzers/sse-processor';
import { SessionSummary } from '../../lib/analyzers/summary';
import { readNdjson } from '../../lib/sinks/ndjson';
import { FileLogger } from '../../lib/sinks/file-logger';
import { OtlpSink, resolveOtlp } from '../../lib/otel';
import { main } from '../../lib/cli/main';
import { TEST_API_KEYS } from '../../lib/standin';
import { assertProtos, OtlpReceiver } from '../support/otlp-receiver';
import { expectSessionTrace } from '../support/otlp-session';
import { captureIo } from '../support/io';

const FIXTURES = path.join(__dirname, '../fixtures');
const SESSIONS = [
  'python-anthropic-stream',
  'python-openai-json',
  'sdk-anthropic-json',
  'sdk-anthropic-stream-thinking',
  'sdk-openai-chat-stream',
  'sdk-openai-responses-stream',
];

let rx: OtlpReceiver;
let dir: string;
beforeAll(async () => {
  assertProtos();
  rx = await OtlpReceiver.start();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentsight-otlp-'));
});
afterAll(async () => {
  await rx.close();
  fs.rmSync(dir, { recursive: true, force: true });
});
afterEach(() => {
  rx.spans.length = 0;
  rx.metrics.length = 0;
  rx.requests.length = 0;
  rx.failWith = 0;
});

/** A recorded session through the chain `record` runs, ending in `sinks`; the events at the end of the chain. */
async function replay(name: string, sinks: Analyzer[], edit?: (e: Event) => Event): Promise<Event[]> {
  const out: Event[] = [];
  const ctrl = new AbortController();
  const editor: Analyzer = {
    name: 'edit',
    async *process(input) {
      for await (const e of input) yield edit ? edit(e) : e;
    },
  };
  for await (const e of chain(
    readNdjson(path.join(FIXTURES, `${name}.ndjson`)),
    [new HttpParser(), new SseProcessor(), new LlmAnalyzer(), new SessionSummary(), editor, ...sinks],
    {
      signal: ctrl.signal,
    },
  ))
    out.push(e);
  return out;
}

const sink = (env: Record<string, string> = {}, o: Parameters<typeof resolveOtlp>[0] = {}, backoffMs?: [number, number]) =>
  new OtlpSink(resolveOtlp({ otlpEndpoint: rx.url, ...o }, env) as NonNullable<ReturnType<typeof resolveOtlp>>, { backoffMs });

describe('sessions as OTLP traces (GenAI conventions)', () => {
  for (const name of SESSIONS) {
    it(`${name}: one trace, invoke_agent > chat / execute_tool > exec, exact usage, times inside the session`, async () => {
      const evs = await replay(name, [sink()]);
      const t = expectSessionTrace(rx.spans, evs);
      expect(t.chats.length).toBeGreaterThanOrEqual(2);
      expect(t.tools.length).toBeGreaterThanOrEqual(1);
      expect(t.execs.length).toBeGreaterThanOrEqual(1);
      // protobuf, the default
      expect(rx.requests.find((r) => r.path === '/v1/traces')?.contentType).toBe('application/x-protobuf');
      const fin = evs.find((e) => e.source === 'stats' && e.data.event === 'EXPORT');
      expect(fin?.data).toMatchObject({ final: true, queue: { exported: rx.spans.length, dropped_queue_full: 0, dropped_not_sent: 0 } });
    });
  }

  it('the resource: service, host, the agent and its user; OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES', async () => {
    await replay('python-anthropic-stream', [
      sink({ OTEL_SERVICE_NAME: 'fleet-agents', OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=ci,team=ml%20ops' }),
    ]);
    const r = rx.spans[0].resource;
    expect(r).toMatchObject({
      'service.name': 'fleet-agents',
      'deployment.environment.name': 'ci',
      team: 'ml ops',
      'host.name': os.hostname(),
      'process.executable.name': 'python3',
      'process.executable.path': '/usr/bin/python3',
      'telemetry.sdk.language': 'nodejs',
    });
    expect(typeof r['process.owner']).toBe('string');
    const root = rx.spans.find((s) => !s.parentSpanId);
    expect(root?.name).toBe('invoke_agent agent.py');
    expect(root?.attributes['user.id']).toBe(r['process.owner']);
  });

  it('content only with otlpContent, in the structured form of the conventions, masked whatever the chain did', async () => {
    const key = TEST_API_KEYS[0];
    // a secret where an agent might put one: in a prompt and on a command line (the chain here masks nothing)
    const edit = (e: Event): Event => {
      if (e.source === 'llm') {
        const d = structuredClone(e.data);
        d.request.messages[0].content += ` my key is ${key}`;
        return { ...e, data: d };
      }
      if (e.source === 'process' && e.data.event === 'EXEC' && e.data.llm_call_id)
        return { ...e, data: { ...e.data, full_command: `${e.data.full_command} --key ${key}` } };
      return e;
    };
    const evs = await replay('python-anthropic-stream', [sink({}, { otlpContent: true })], edit);
    expectSessionTrace(rx.spans, evs, { content: true });
    const chat = rx.spans.filter((s) => s.attributes['gen_ai.operation.name'] === 'chat');
    const input = JSON.parse(String(chat[1].attributes['gen_ai.input.messages']));
    expect(input.map((m: { role: string }) => m.role)).toEqual(['user', 'assistant', 'user']);
    expect(input[1].parts.find((p: { type: string }) => p.type === 'tool_call')).toMatchObject({ name: 'bash', arguments: { command: 'uname -r' } });
    expect(input[2].parts[0]).toMatchObject({ type: 'tool_call_response' });
    const output = JSON.parse(String(chat[0].attributes['gen_ai.output.messages']));
    expect(output[0]).toMatchObject({ role: 'assistant', finish_reason: 'tool_call' });
    const tool = rx.spans.find((s) => s.attributes['gen_ai.operation.name'] === 'execute_tool');
    expect(JSON.parse(String(tool?.attributes['gen_ai.tool.call.arguments']))).toEqual({ command: 'uname -r' });
    expect(String(tool?.attributes['gen_ai.tool.call.result'])).toMatch(/\d+\.\d+/);
    const all = JSON.stringify(rx.spans, (_k, v) => (typeof v === 'bigint' ? String(v) : v));
    expect(all).toContain('my key is');
    for (const k of TEST_API_KEYS) expect(all.includes(k), 'a key reached the receiver').toBe(false);
  });

  it('http/json, gzip and headers from the environment (OTEL_EXPORTER_OTLP_*), with --otlp', async () => {
    const env = {
      OTEL_EXPORTER_OTLP_ENDPOINT: rx.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip',
      OTEL_EXPORTER_OTLP_HEADERS: 'Authorization=Basic%20cGstbGY6c2stbGY=,x-tenant=t1',
      OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'x-tenant=t2',
    };
    const s = new OtlpSink(resolveOtlp({ otlp: true }, env) as NonNullable<ReturnType<typeof resolveOtlp>>);
    const evs = await replay('sdk-openai-chat-stream', [s]);
    expectSessionTrace(rx.spans, evs);
    const req = rx.requests.find((r) => r.path === '/v1/traces');
    expect(req).toMatchObject({ contentType: 'application/json', encoding: 'gzip' });
    expect(req?.headers.authorization).toBe('Basic cGstbGY6c2stbGY=');
    expect(req?.headers['x-tenant']).toBe('t2');
    expect((req?.rawBytes ?? 0) < (req?.bytes ?? 0)).toBe(true);
    // no credential in a span
    const all = JSON.stringify(rx.spans, (_k, v) => (typeof v === 'bigint' ? String(v) : v));
    expect(all).not.toContain('cGstbGY6c2stbGY');
  });

  it('GenAI client metrics and agentsight health metrics', async () => {
    const evs = await replay('python-anthropic-stream', [sink()]);
    const llm = evs.filter((e) => e.source === 'llm');
    const tokens = rx.metrics.find((m) => m.name === 'gen_ai.client.token.usage');
    const sumOf = (type: string) => (tokens?.points ?? []).filter((p) => p.attributes['gen_ai.token.type'] === type).reduce((a, p) => a + (p.sum ?? 0), 0);
    expect(sumOf('input')).toBe(llm.reduce((a, e) => a + e.data['gen_ai.usage.input_tokens'], 0));
    expect(sumOf('output')).toBe(llm.reduce((a, e) => a + e.data['gen_ai.usage.output_tokens'], 0));
    const dur = rx.metrics.find((m) => m.name === 'gen_ai.client.operation.duration');
    expect(dur?.unit).toBe('s');
    expect(dur?.points.reduce((a, p) => a + (p.count ?? 0), 0)).toBe(llm.length);
    expect(dur?.points[0].attributes).toMatchObject({ 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'anthropic' });
    const counted = rx.metrics.find((m) => m.name === 'agentsight.events');
    expect(counted?.points.find((p) => p.attributes['agentsight.event.source'] === 'llm')?.value).toBe(llm.length);
  });
});

describe('the export never holds up capture', () => {
  it('the receiver away for a while, then back: spans are delivered after, retried', async () => {
    await rx.down();
    const s = sink({}, {}, [100, 400]);
    const done = replay('python-anthropic-stream', [s]);
    await new Promise((r) => setTimeout(r, 1500));
    await rx.up();
    const evs = await done;
    const t = expectSessionTrace(rx.spans, evs);
    expect(t.chats.length).toBe(2);
    const q = s.stats().queue;
    expect(q.retries).toBeGreaterThan(0);
    expect(q.failed_requests).toBeGreaterThan(0);
    expect(s.notSent()).toBe(0);
  });

  it('the receiver never comes back: the run ends within its flush bound and says what was not sent', async () => {
    await rx.down();
    try {
      const s = sink({}, { otlpFlushTimeoutMs: 800 }, [100, 400]);
      const t0 = Date.now();
      const evs = await replay('python-anthropic-stream', [s]);
      expect(Date.now() - t0).toBeLessThan(3000);
      const n = s.stats().spans.spans;
      expect(s.notSent()).toBe(n);
      expect(s.loss()).toMatchObject({ events_not_written: n, unit: 'span(s)', export: true });
      expect(s.loss()?.error).toMatch(/ECONNREFUSED/);
      expect(evs.at(-1)?.data).toMatchObject({ event: 'EXPORT', final: true, queue: { dropped_not_sent: n } });
    } finally {
      await rx.up();
    }
  });

  it('a full queue drops new spans and counts them; a refusing receiver (4xx) is not retried', async () => {
    await rx.down();
    let s: OtlpSink;
    try {
      s = sink({}, { otlpQueueSize: 3, otlpFlushTimeoutMs: 300 }, [5000, 5000]);
      await replay('python-anthropic-stream', [s]);
    } finally {
      await rx.up();
    }
    const q = s.stats().queue;
    expect(q.dropped_queue_full).toBe(s.stats().spans.spans - 3);
    expect(q.dropped_not_sent + q.exported).toBe(3);
    rx.failWith = 400;
    const r = sink({}, { otlpFlushTimeoutMs: 1000 }, [100, 100]);
    await replay('python-anthropic-stream', [r]);
    expect(r.stats().queue).toMatchObject({ dropped_rejected: r.stats().spans.spans, retries: 0 });
    expect(r.summaryLines().join('\n')).toMatch(/refused by the receiver/);
  });
});

describe('agentsight export FILE...', () => {
  it('a saved session (as record writes it) gives the same trace; the receiver away: exit 74 within the bound', async () => {
    const file = path.join(dir, 'session.ndjson');
    const evs = await replay('sdk-anthropic-stream-thinking', [new FileLogger({ path: file })]);
    const c = captureIo();
    const code = await main(['export', '--otlp-endpoint', `${rx.url}/v1/traces`, '--no-otlp-metrics', file], c.io);
    expect(code, c.err()).toBe(0);
    expectSessionTrace(rx.spans, evs);
    expect(c.err()).toMatch(/OTLP: \d+ span\(s\) of 1 session\(s\) sent to http:\/\/127\.0\.0\.1:\d+\/v1\/traces/);
    expect(rx.requests.every((r) => r.path === '/v1/traces')).toBe(true);

    await rx.down();
    try {
      const d = captureIo();
      const t0 = Date.now();
      const code2 = await main(['export', '--otlp-endpoint', rx.url, '--otlp-flush-timeout', '1', file, file], d.io);
      expect(code2).toBe(74);
      expect(Date.now() - t0).toBeLessThan(4000);
      expect(d.err()).toMatch(/WARNING: \d+ span\(s\) not sent to the OTLP endpoint/);
    } finally {
      await rx.up();
    }
  });

  it('a backfill waits for the receiver instead of dropping; a receiver gone stops the waiting after one flush timeout', async () => {
    const file = path.join(dir, 'small-queue.ndjson');
    const evs = await replay('python-anthropic-stream', [new FileLogger({ path: file })]);
    const c = captureIo();
    expect(await main(['export', '--otlp-endpoint', rx.url, '--otlp-queue-size', '2', file], c.io), c.err()).toBe(0);
    expectSessionTrace(rx.spans, evs);
    expect(rx.requests.length).toBeGreaterThan(1);
    await rx.down();
    try {
      const d = captureIo();
      const t0 = Date.now();
      expect(await main(['export', '--otlp-endpoint', rx.url, '--otlp-queue-size', '2', '--otlp-flush-timeout', '1', file, file, file], d.io)).toBe(74);
      // one wait for room given up, then the final flush: not a wait per span
      expect(Date.now() - t0).toBeLessThan(5000);
      expect(d.err()).toMatch(/dropped when the queue was full/);
    } finally {
      await rx.up();
    }
  });

  it('options from a config file (typed names, the same checks), flags win', async () => {
    const file = path.join(dir, 'session2.ndjson');
    await replay('python-openai-json', [new FileLogger({ path: file })]);
    const cfg = path.join(dir, 'agentsight.json');
    fs.writeFileSync(cfg, JSON.stringify({ otlpEndpoint: 'http://127.0.0.1:9/never', otlpProtocol: 'http/json', otlpFlushTimeoutMs: 2000 }));
    const c = captureIo();
    expect(await main(['export', '--config', cfg, '--otlp-endpoint', rx.url, file], c.io), c.err()).toBe(0);
    expect(rx.requests[0].contentType).toBe('application/json');
    fs.writeFileSync(cfg, JSON.stringify({ otlpEndpoint: rx.url, otlpQueue: 5 }));
    const bad = captureIo();
    expect(await main(['export', '--config', cfg, file], bad.io)).toBe(2);
    expect(bad.err()).toMatch(/unknown option "otlpQueue"/);
    fs.writeFileSync(cfg, JSON.stringify({ otlpEndpoint: rx.url, otlpQueueSize: '5' }));
    const wrong = captureIo();
    expect(await main(['export', '--config', cfg, file], wrong.io)).toBe(2);
    expect(wrong.err()).toMatch(/"otlpQueueSize" \(--otlp-queue-size\) must be a number/);
  });

  it('usage errors: no receiver, a missing file, gRPC', async () => {
    const c = captureIo();
    expect(await main(['export', path.join(dir, 'none.ndjson'), '--otlp-endpoint', rx.url], c.io)).toBe(2);
    expect(c.err()).toMatch(/no such file/);
    const d = captureIo();
    expect(await main(['export', __filename], d.io)).toBe(2);
    expect(d.err()).toMatch(/needs a receiver/);
    expect(() => resolveOtlp({ otlp: true }, {})).toThrow(/OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT/);
    expect(() => resolveOtlp({ otlp: true }, { OTEL_EXPORTER_OTLP_ENDPOINT: rx.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })).toThrow(/gRPC is not supported/);
    expect(() => resolveOtlp({ otlpEndpoint: 'ftp://x' })).toThrow(/http:\/\/ or https:\/\//);
    expect(() => resolveOtlp({ otlpEndpoint: rx.url }, { OTEL_EXPORTER_OTLP_COMPRESSION: 'zstd' })).toThrow(/gzip or none/);
    expect(() => resolveOtlp({ otlpEndpoint: 'http://u:p@h:4318' })).toThrow(/OTEL_EXPORTER_OTLP_HEADERS/);
    expect(() => resolveOtlp({ otlpEndpoint: rx.url, otlpHeaders: ['novalue'] })).toThrow(/NAME=VALUE/);
  });
});

describe('endpoints and precedence', () => {
  it('a base endpoint gets /v1/traces and /v1/metrics; a traces URL keeps its path; signal variables win', () => {
    const a = resolveOtlp({ otlpEndpoint: 'https://cloud.langfuse.com/api/public/otel' }, {});
    expect(a?.traces.url).toBe('https://cloud.langfuse.com/api/public/otel/v1/traces');
    expect(a?.metrics?.url).toBe('https://cloud.langfuse.com/api/public/otel/v1/metrics');
    const b = resolveOtlp({ otlpEndpoint: 'http://localhost:6006/v1/traces' }, {});
    expect(b?.traces.url).toBe('http://localhost:6006/v1/traces');
    expect(b?.metrics?.url).toBe('http://localhost:6006/v1/metrics');
    const c = resolveOtlp(
      { otlp: true },
      {
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://tempo:4318/custom',
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/protobuf',
        OTEL_EXPORTER_OTLP_TIMEOUT: '2500',
      },
    );
    expect(c?.traces).toMatchObject({ url: 'http://tempo:4318/custom', protocol: 'http/protobuf', timeoutMs: 2500 });
    expect(c?.metrics).toMatchObject({ url: 'http://collector:4318/v1/metrics', protocol: 'http/json' });
    expect(resolveOtlp({ otlpEndpoint: rx.url, otlpProtocol: 'http/json' }, { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' })?.traces.protocol).toBe(
      'http/json',
    );
    expect(resolveOtlp({ otlpEndpoint: rx.url, otlpMetrics: false }, {})?.metrics).toBeNull();
    expect(resolveOtlp({}, { OTEL_EXPORTER_OTLP_ENDPOINT: rx.url })).toBeNull();
  });
});
