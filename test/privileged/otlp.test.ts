/**
 * OTLP export end to end: `record --otlp-endpoint` of real agents (stdlib
 * Python, the @anthropic-ai/sdk and openai npm clients) against the local
 * LLM API stand-in, received by a real OTLP/HTTP receiver on loopback that
 * decodes protobuf with the official .proto files; `export FILE` of the
 * session file; the receiver going away mid-session and coming back; a
 * receiver that never comes back, or never answers.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { startStandin, TEST_API_KEYS, type Standin } from '../../lib/standin';
import { runCli, type CliRun } from '../support/cli';
import { assertProtos, OtlpReceiver, type ReceivedSpan } from '../support/otlp-receiver';
import { expectSessionTrace } from '../support/otlp-session';
import { describePrivileged } from '../support/privileged';
import { AGENTS, clientEnv } from '../support/run';

const PY = '/usr/bin/python3';
const json = (v: unknown) => JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? String(x) : x));

describePrivileged('OTLP export of recorded sessions', () => {
  let s: Standin;
  let rx: OtlpReceiver;
  let dir: string;
  let cli: CliRun | null = null;
  beforeAll(async () => {
    assertProtos();
    s = await startStandin({ chunkDelayMs: 2 });
    rx = await OtlpReceiver.start();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentsight-otlp-'));
  });
  afterAll(async () => {
    await s.close();
    await rx.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  afterEach(() => {
    if (cli && cli.child.exitCode === null) cli.child.kill('SIGKILL');
    cli = null;
    rx.spans.length = 0;
    rx.requests.length = 0;
    rx.metrics.length = 0;
  });

  const events = (file: string) =>
    fs
      .readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));

  async function record(name: string, command: string[], extra: string[] = [], env: Record<string, string> = {}) {
    const file = path.join(dir, `${name}.ndjson`);
    const first = s.requests.length;
    cli = runCli(['record', '-o', file, ...extra, '--', ...command], { env: clientEnv(s, env) });
    const r = await cli.exited;
    return { ...r, file, err: cli.stderr(), requests: s.requests.slice(first), evs: fs.existsSync(file) ? events(file) : [] };
  }

  /** The shape of a trace without its ids: names, kinds, parents' names, attributes. */
  const shape = (spans: readonly ReceivedSpan[]) => {
    const byId = new Map(spans.map((x) => [x.spanId, x]));
    return spans
      .map((x) => ({ name: x.name, kind: x.kind, parent: byId.get(x.parentSpanId)?.name ?? null, attributes: x.attributes, start: x.startNs, end: x.endNs }))
      .sort((a, b) => (a.start === b.start ? a.name.localeCompare(b.name) : a.start < b.start ? -1 : 1));
  };

  it('record --otlp-endpoint: a Python agent (urllib, streaming) is one trace; headers from the environment; no credential; no content', async () => {
    const r = await record('py', [PY, AGENTS.python, '--provider', 'anthropic', '--stream', 'What kernel? run: uname -r'], ['--otlp-endpoint', rx.url], {
      OTEL_EXPORTER_OTLP_HEADERS: 'Authorization=Basic%20cGstbGYtMTIzOnNrLWxmLTQ1Ng==',
      OTEL_SERVICE_NAME: 'agents-ci',
    });
    expect(r.code, r.err).toBe(0);
    expect(r.requests.length).toBe(2);
    const t = expectSessionTrace(rx.spans, r.evs);
    expect(t.root.name).toBe('invoke_agent agent.py');
    expect(t.tools.map((x) => x.name)).toEqual(['execute_tool bash']);
    expect(t.execs.map((x) => x.attributes['process.command_line'])).toContain('uname -r');
    expect(rx.spans[0].resource['service.name']).toBe('agents-ci');
    const traces = rx.requests.filter((q) => q.path === '/v1/traces');
    expect(traces.length).toBeGreaterThan(0);
    for (const q of traces) expect(q.headers.authorization).toBe('Basic cGstbGYtMTIzOnNrLWxmLTQ1Ng==');
    expect(rx.metrics.map((m) => m.name)).toEqual(
      expect.arrayContaining(['gen_ai.client.token.usage', 'gen_ai.client.operation.duration', 'agentsight.events']),
    );
    const all = json(rx.spans) + json(rx.metrics);
    for (const key of TEST_API_KEYS) expect(all.includes(key), `key ${key.slice(0, 10)}… exported`).toBe(false);
    expect(all).not.toContain('cGstbGYtMTIzOnNrLWxmLTQ1Ng');
    expect(r.err).toMatch(/OTLP: \d+ span\(s\) of 1 session\(s\) sent to http:\/\/127\.0\.0\.1:\d+\/v1\/traces/);
    // ...and the saved session exported later gives the same trace
    const first = shape(rx.spans);
    rx.spans.length = 0;
    const ex = runCli(['export', '--otlp-endpoint', rx.url, r.file], { env: { OTEL_SERVICE_NAME: 'agents-ci' } });
    const done = await ex.exited;
    expect(done.code, ex.stderr()).toBe(0);
    expectSessionTrace(rx.spans, r.evs);
    expect(shape(rx.spans)).toEqual(first);
  });

  for (const [name, agent] of [
    ['@anthropic-ai/sdk', [process.execPath, AGENTS.anthropicSdk, 'stream', 'Up? run: cat /proc/loadavg']],
    ['openai SDK, Responses API', [process.execPath, AGENTS.openaiSdk, 'stream', '--api', 'responses', 'Where? run: uname -m']],
  ] as const) {
    it(`record --otlp --otlp-content: the ${name} (http/json from the environment); content in the conventions' form, masked`, async () => {
      const r = await record(`content-${name.replace(/\W+/g, '-')}`, [...agent], ['--otlp', '--otlp-content'], {
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${rx.url}/v1/traces`,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      });
      expect(r.code, r.err).toBe(0);
      const t = expectSessionTrace(rx.spans, r.evs, { content: true });
      expect(rx.requests.every((q) => q.contentType === 'application/json')).toBe(true);
      const input = JSON.parse(String(t.chats[1].attributes['gen_ai.input.messages']));
      expect(input.some((m: { parts: { type: string }[] }) => m.parts.some((p) => p.type === 'tool_call_response'))).toBe(true);
      expect(JSON.parse(String(t.chats[0].attributes['gen_ai.output.messages']))[0].parts.some((p: { type: string }) => p.type === 'tool_call')).toBe(true);
      expect(t.tools[0].attributes['gen_ai.tool.call.arguments']).toBeTruthy();
      expect(t.tools[0].attributes['gen_ai.tool.call.result']).toBeTruthy();
      const all = json(rx.spans);
      for (const key of TEST_API_KEYS) expect(all.includes(key), `key ${key.slice(0, 10)}… exported`).toBe(false);
    });
  }

  it('the receiver away for 10 s mid-session, then back: capture unaffected, every span delivered after or counted as dropped', async () => {
    const file = path.join(dir, 'outage.ndjson');
    // the tool runs a command a second for 11 s: the receiver goes away after the first call, spans end while it is away, it comes back before the session ends
    cli = runCli(
      [
        'record',
        '-o',
        file,
        '--otlp-endpoint',
        rx.url,
        '--otlp-flush-timeout',
        '8',
        '--',
        PY,
        AGENTS.python,
        '--provider',
        'openai',
        '--stream',
        'Slow? run: for i in 1 2 3 4 5 6 7 8 9 10 11; do sleep 1; /bin/true; done; uname -r',
      ],
      {
        env: clientEnv(s),
      },
    );
    expect(await rx.until(() => rx.spans.some((x) => x.name.startsWith('chat ')), 15_000)).toBe(true);
    await rx.down();
    const downAt = Date.now();
    await new Promise((res) => setTimeout(res, 10_000));
    const before = rx.spans.length;
    await rx.up();
    const r = await cli.exited;
    expect(r.code, cli.stderr()).toBe(0);
    expect(Date.now() - downAt).toBeLessThan(25_000);
    const evs = events(file);
    // capture is complete: both calls, the tool's commands and their exits
    expect(evs.filter((e) => e.source === 'llm').length).toBe(2);
    expect(evs.some((e) => e.source === 'process' && e.data.event === 'EXIT' && e.data.llm_call_id === undefined && e.data.exit_code === 0)).toBe(true);
    const fin = evs.find((e) => e.source === 'stats' && e.data.event === 'EXPORT' && e.data.final);
    expect(fin).toBeDefined();
    const q = fin.data.queue;
    const made = fin.data.spans.spans;
    expect(q.exported + q.dropped_queue_full + q.dropped_rejected + q.dropped_not_sent).toBe(made);
    expect(rx.spans.length).toBe(q.exported);
    expect(rx.spans.length).toBeGreaterThan(before);
    expect(q.failed_requests).toBeGreaterThan(0);
    if (q.exported === made) expectSessionTrace(rx.spans, evs);
    else expect(cli.stderr()).toMatch(/WARNING: \d+ span\(s\) not sent/);
  }, 60_000);

  for (const kind of ['refused', 'never answers'] as const) {
    it(`a receiver that ${kind}: record exits within its flush bound and says what it could not send`, async () => {
      let port: number;
      let blackhole: net.Server | null = null;
      const held: net.Socket[] = [];
      if (kind === 'refused') {
        const srv = net.createServer();
        await new Promise<void>((res) => srv.listen(0, '127.0.0.1', () => res()));
        port = (srv.address() as net.AddressInfo).port;
        await new Promise((res) => srv.close(res));
      } else {
        blackhole = net.createServer((c) => held.push(c));
        await new Promise<void>((res) => blackhole?.listen(0, '127.0.0.1', () => res()));
        port = (blackhole.address() as net.AddressInfo).port;
      }
      try {
        const file = path.join(dir, `gone-${kind.replace(' ', '-')}.ndjson`);
        cli = runCli(
          [
            'record',
            '-o',
            file,
            '--otlp-endpoint',
            `http://127.0.0.1:${port}`,
            '--otlp-flush-timeout',
            '2',
            '--',
            PY,
            AGENTS.python,
            '--provider',
            'anthropic',
            '--no-stream',
            'Who? run: id -un',
          ],
          {
            env: clientEnv(s),
          },
        );
        const out = cli;
        const r = await out.exited;
        const ended = Date.now();
        expect(r.code, out.stderr()).toBe(0);
        const evs = events(file);
        // from the command's exit (kernel time) to agentsight's: the 2 s flush bound and stopping
        const exit = evs.find(
          (e) => e.source === 'process' && e.data.event === 'EXIT' && e.pid === evs.find((x) => x.source === 'process' && x.data.event === 'EXEC')?.pid,
        );
        expect(ended - exit.timestamp).toBeLessThan(2000 + 1500);
        expect(evs.filter((e) => e.source === 'llm').length).toBe(2);
        const fin = evs.find((e) => e.source === 'stats' && e.data.event === 'EXPORT' && e.data.final);
        expect(fin.data.queue.exported).toBe(0);
        expect(fin.data.queue.dropped_not_sent).toBe(fin.data.spans.spans);
        expect(out.stderr()).toMatch(
          new RegExp(`WARNING: ${fin.data.spans.spans} span\\(s\\) not sent to the OTLP endpoint http://127\\.0\\.0\\.1:${port}/v1/traces`),
        );
        if (kind === 'refused') expect(out.stderr()).toMatch(/OTLP export to .* failed \(ECONNREFUSED/);
        else expect(out.stderr()).toMatch(/still queued when the flush time was up[\s\S]*not sent to the OTLP endpoint .* \(no answer/);
      } finally {
        for (const c of held) c.destroy();
        if (blackhole) await new Promise((res) => blackhole?.close(res));
      }
    });
  }
});
