/**
 * Real clients against the stand-in, over real TLS: the stdlib Python agent,
 * the Node https agent, and the official openai / @anthropic-ai/sdk clients.
 * Each run must complete the whole tool loop: the model asks for a command,
 * the agent really runs it, sends the output back, and prints the final
 * answer, which must be exactly what the server sent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import zlib from 'node:zlib';
import { startStandin, type RecordedRequest, type Standin } from '../../lib/standin';
import { AGENTS, clientEnv, run } from '../support/run';

let s: Standin;
beforeAll(async () => {
  s = await startStandin({ chunkDelayMs: 1 });
});
afterAll(async () => {
  await s?.close();
});

let counter = 0;
/** A marker unique to one run, and a command whose output only the shell can produce. */
function marker(): { mark: string; command: string; output: string } {
  const mark = `m${process.pid}x${++counter}`;
  return { mark, command: `echo ${mark}-$((6*7))`, output: `${mark}-42\n` };
}

interface Report {
  final: string;
  tool_calls: { name: string; input: { command: string }; output: string; exit_code: number }[];
  thinking?: string;
  usage?: unknown[];
  event_types?: Record<string, number>;
}

/** Run an agent with `--json` and the marker prompt; return its report and the two requests it made. */
async function runAgent(cmd: string, args: string[], extraEnv: Record<string, string> = {}) {
  const m = marker();
  const r = await run(cmd, [...args, '--json', `What does this print? run: ${m.command}`], { env: clientEnv(s, extraEnv) });
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  const report = JSON.parse(r.stdout) as Report;
  const recs = s.requests.filter((q) => q.body.includes(m.mark));
  return { m, report, recs, stderr: r.stderr };
}

/** The checks every successful tool loop must pass. */
function expectToolLoop(m: ReturnType<typeof marker>, report: Report, recs: RecordedRequest[], stream: boolean) {
  // The agent ran exactly the command the model asked for, and it really ran.
  expect(report.tool_calls).toHaveLength(1);
  expect(report.tool_calls[0]!.input.command).toBe(m.command);
  expect(report.tool_calls[0]!.output).toBe(m.output);
  expect(report.tool_calls[0]!.exit_code).toBe(0);
  // Two requests: the prompt, then the tool result.
  expect(recs).toHaveLength(2);
  const [first, second] = recs as [RecordedRequest, RecordedRequest];
  expect(first.reply?.kind).toBe('tool_call');
  expect(first.response.toolCall?.arguments).toBe(JSON.stringify({ command: m.command }));
  expect(second.conversation?.toolResult?.output).toBe(m.output);
  expect(second.reply?.kind).toBe('final');
  for (const rec of recs) {
    expect(rec.response.status).toBe(200);
    expect(rec.response.complete).toBe(true);
    expect(rec.response.stream).toBe(stream);
    if (stream) {
      expect(rec.response.headers['content-type']).toMatch(/^text\/event-stream/);
      expect(rec.response.headers['content-length']).toBeUndefined();
    } else {
      expect(Number(rec.response.headers['content-length'])).toBe((rec.response.encodedBody ?? rec.response.body).length);
    }
  }
  if (stream) expect(second.response.writes.length).toBeGreaterThan(20);
  // The final answer is exactly the text the server sent, and quotes the real output.
  expect(report.final).toBe(s.expectedText(second));
  expect(report.final).toContain(m.output);
}

describe.concurrent('stdlib agents', () => {
  for (const provider of ['anthropic', 'openai'] as const) {
    for (const stream of [true, false]) {
      const mode = stream ? '--stream' : '--no-stream';
      it(`python urllib, ${provider} ${mode}`, async () => {
        const { m, report, recs } = await runAgent('python3', [AGENTS.python, '--provider', provider, mode]);
        expectToolLoop(m, report, recs, stream);
        expect(recs[0]!.headers['user-agent']).toMatch(/python urllib/);
      });
      it(`node https, ${provider} ${mode}`, async () => {
        const { m, report, recs } = await runAgent('node', [AGENTS.node, '--provider', provider, mode]);
        expectToolLoop(m, report, recs, stream);
        // One keep-alive connection carries both requests.
        expect(recs[0]!.connection).toBe(recs[1]!.connection);
      });
    }
  }

  it('python asks for gzip and deflate and decodes them', async () => {
    for (const enc of ['gzip', 'deflate']) {
      const { m, report, recs } = await runAgent('python3', [AGENTS.python, '--provider', 'openai', '--no-stream', '--accept-encoding', enc]);
      expectToolLoop(m, report, recs, false);
      for (const r of recs) expect(r.response.encoding).toBe(enc);
    }
  });

  it('node https asks for br and decodes it', async () => {
    const { m, report, recs } = await runAgent('node', [AGENTS.node, '--provider', 'anthropic', '--no-stream', '--accept-encoding', 'br']);
    expectToolLoop(m, report, recs, false);
    for (const r of recs) {
      expect(r.response.encoding).toBe('br');
      expect(zlib.brotliDecompressSync(r.response.encodedBody!).equals(r.response.body)).toBe(true);
    }
  });

  it('python reports an API error and exits non-zero', async () => {
    const r = await run('python3', [AGENTS.python, '--provider', 'anthropic', '--model', 'error-429', 'hi'], { env: clientEnv(s) });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/HTTP 429 .*rate limit/);
  });
});

describe.concurrent('official SDKs', () => {
  for (const stream of [true, false]) {
    const mode = stream ? 'stream' : 'nostream';
    it(`@anthropic-ai/sdk ${mode}`, async () => {
      const { m, report, recs } = await runAgent('node', [AGENTS.anthropicSdk, mode]);
      expectToolLoop(m, report, recs, stream);
      expect(recs[0]!.headers['user-agent']).toMatch(/^Anthropic\/JS /);
      if (stream) {
        // The SDK's own accumulator saw the whole event sequence.
        expect(report.event_types).toMatchObject({ message_start: 2, message_delta: 2, message_stop: 2 });
      }
      // Usage (with the cache token fields) reached the SDK as the server sent it.
      recs.forEach((r, i) => {
        let sent: Record<string, unknown>;
        if (stream) {
          const events = r.response.writes.map((w) => JSON.parse(w.slice(w.indexOf('data: ') + 6)));
          const start = events.find((e) => e.type === 'message_start').message.usage;
          const delta = events.find((e) => e.type === 'message_delta').usage;
          sent = { ...start, ...delta };
        } else sent = JSON.parse(r.response.body.toString('utf8')).usage;
        expect(sent).toHaveProperty('cache_creation_input_tokens');
        expect(sent).toHaveProperty('cache_read_input_tokens');
        expect(report.usage![i]).toMatchObject(sent);
      });
    });
    it(`openai chat ${mode}`, async () => {
      const { m, report, recs } = await runAgent('node', [AGENTS.openaiSdk, mode]);
      expectToolLoop(m, report, recs, stream);
      expect(recs[0]!.headers['user-agent']).toMatch(/^OpenAI\/JS /);
      // With include_usage, the last chunk's usage reached the SDK.
      expect(report.usage).toHaveLength(2);
    });
    it(`openai responses ${mode}`, async () => {
      const { m, report, recs } = await runAgent('node', [AGENTS.openaiSdk, mode, '--api', 'responses']);
      expectToolLoop(m, report, recs, stream);
      expect(recs[0]!.route).toBe('openai.responses');
    });
  }

  it('@anthropic-ai/sdk streams thinking, text and tool_use blocks', async () => {
    const { m, report, recs } = await runAgent('node', [AGENTS.anthropicSdk, 'stream', '--thinking']);
    expectToolLoop(m, report, recs, true);
    expect(report.thinking).toBe(recs.map((r) => r.response.thinking).join(''));
    expect(report.thinking).toContain(m.command);
    expect(recs[0]!.response.writes.some((w) => w.includes('"signature_delta"'))).toBe(true);
  });

  it('openai responses streams a reasoning summary and reports reasoning tokens', async () => {
    const { m, report, recs } = await runAgent('node', [AGENTS.openaiSdk, 'stream', '--api', 'responses', '--reasoning']);
    expectToolLoop(m, report, recs, true);
    expect(report.thinking).toBe(recs.map((r) => r.response.thinking).join(''));
    const usage = report.usage as { output_tokens_details: { reasoning_tokens: number } }[];
    for (const u of usage) expect(u.output_tokens_details.reasoning_tokens).toBeGreaterThan(0);
  });

  for (const enc of ['gzip', 'br', 'deflate'] as const) {
    it(`both SDKs decode ${enc} bodies`, async () => {
      for (const agent of [AGENTS.anthropicSdk, AGENTS.openaiSdk]) {
        const { m, report, recs } = await runAgent('node', [agent, 'nostream', '--encoding', enc]);
        expectToolLoop(m, report, recs, false);
        for (const r of recs) {
          expect(r.response.encoding).toBe(enc);
          expect(r.response.headers['content-encoding']).toBe(enc);
          const decoded =
            enc === 'gzip'
              ? zlib.gunzipSync(r.response.encodedBody!)
              : enc === 'br'
                ? zlib.brotliDecompressSync(r.response.encodedBody!)
                : zlib.inflateSync(r.response.encodedBody!);
          expect(decoded.equals(r.response.body)).toBe(true);
        }
      }
    });
  }

  it('SDKs negotiate gzip from their own Accept-Encoding', async () => {
    const { recs } = await runAgent('node', [AGENTS.openaiSdk, 'nostream']);
    expect(recs[0]!.headers['accept-encoding']).toMatch(/gzip/);
    expect(recs[0]!.response.encoding).toBe('gzip');
  });

  it("API errors raise the SDKs' typed errors", async () => {
    const cases: [string, string[], RegExp, RegExp][] = [
      [AGENTS.anthropicSdk, ['nostream', '--model', 'error-429'], /RateLimitError 429/, /"type":"error","error":\{"type":"rate_limit_error"/],
      [AGENTS.anthropicSdk, ['stream', '--model', 'error-529'], /OverloadedError 529/, /"overloaded_error"/],
      [AGENTS.anthropicSdk, ['nostream', '--model', 'error-400'], /BadRequestError 400/, /"invalid_request_error"/],
      [AGENTS.openaiSdk, ['nostream', '--model', 'error-401'], /AuthenticationError 401/, /"code":"invalid_api_key"/],
      [AGENTS.openaiSdk, ['stream', '--model', 'error-404'], /NotFoundError 404/, /"code":"model_not_found"/],
      [AGENTS.openaiSdk, ['nostream', '--api', 'responses', '--model', 'error-429'], /RateLimitError 429/, /"code":"rate_limit_exceeded"/],
      [AGENTS.openaiSdk, ['nostream', '--model', 'error-500'], /InternalServerError 500/, /"type":"server_error"/],
    ];
    await Promise.all(
      cases.map(async ([agent, args, cls, body]) => {
        const r = await run('node', [agent, ...args, '--max-retries', '0', 'hi'], { env: clientEnv(s) });
        expect(r.code, r.stderr).toBe(1);
        expect(r.stderr).toMatch(cls);
        expect(r.stderr).toMatch(body);
      }),
    );
  });

  it('an error event in the middle of a stream reaches the SDK', async () => {
    const before = s.requests.length;
    const r = await run('node', [AGENTS.anthropicSdk, 'stream', '--model', 'error-midstream', '--max-retries', '0', 'hi'], { env: clientEnv(s) });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Overloaded/);
    const rec = s.requests.slice(before).find((q) => q.json?.model === 'error-midstream')!;
    expect(rec.response.complete).toBe(true);
    expect(rec.response.writes.at(-1)).toMatch(/^event: error\n/);
    // What was sent before the error is recorded exactly.
    const full = rec.reply!.text + (rec.reply!.toolCall?.arguments ?? '');
    const sent = rec.response.text + (rec.response.toolCall?.arguments ?? '');
    expect(full.startsWith(sent)).toBe(true);
    expect(sent.length).toBeGreaterThan(0);
    expect(sent.length).toBeLessThan(full.length);
  });
});
