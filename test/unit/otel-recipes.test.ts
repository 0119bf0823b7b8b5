/**
 * The recipes of docs/otel.md, run: each `# recipe:` block's variables (as
 * bash sets them) and agentsight flags export a recorded session to a
 * receiver at the recipe's path, which must get it with the headers and
 * encoding the recipe is for.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { chain } from '../../lib/core/analyzer';
import { HttpParser } from '../../lib/analyzers/http-parser';
import { LlmAnalyzer } from '../../lib/analyzers/llm';
import { SseProcessor } from '../../lib/analyzers/sse-processor';
import { readNdjson } from '../../lib/sinks/ndjson';
import { FileLogger } from '../../lib/sinks/file-logger';
import { main } from '../../lib/cli/main';
import { OtlpReceiver } from '../support/otlp-receiver';
import { captureIo } from '../support/io';

const DOC = fs.readFileSync(path.join(__dirname, '../../docs/otel.md'), 'utf8');

interface Recipe {
  name: string;
  exports: string[];
  command: string;
}

function recipes(): Recipe[] {
  const out: Recipe[] = [];
  for (const m of DOC.matchAll(/```sh\n# recipe: (\S+)\n([\s\S]*?)```/g)) {
    const lines = m[2].trim().split('\n');
    out.push({ name: m[1], exports: lines.filter((l) => l.startsWith('export ')), command: lines.find((l) => l.startsWith('agentsight ')) ?? '' });
  }
  return out;
}

/** What each recipe is for: where the spans go, and what the receiver must see. */
const EXPECT: Record<
  string,
  { path: string; headers?: Record<string, string>; encoding?: string; json?: boolean; resource?: Record<string, string>; content?: boolean }
> = {
  collector: { path: '/v1/traces', encoding: 'gzip', resource: { 'deployment.environment.name': 'prod' } },
  langfuse: {
    path: '/api/public/otel/v1/traces',
    headers: { authorization: `Basic ${Buffer.from('pk-lf-1234:sk-lf-5678').toString('base64')}` },
    content: true,
  },
  phoenix: { path: '/v1/traces', resource: { 'openinference.project.name': 'agents' }, content: true },
  jaeger: { path: '/v1/traces' },
  tempo: { path: '/otlp/v1/traces', headers: { authorization: 'Basic MTIzNDU2OmdsY19leGFtcGxl' }, encoding: 'gzip' },
  honeycomb: { path: '/v1/traces', headers: { 'x-honeycomb-team': 'hcaik_example' }, resource: { 'service.name': 'coding-agents' } },
};

let rx: OtlpReceiver;
let dir: string;
let session: string;
beforeAll(async () => {
  rx = await OtlpReceiver.start();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentsight-recipes-'));
  session = path.join(dir, 'session.ndjson');
  const src = readNdjson(path.join(__dirname, '../fixtures/python-anthropic-stream.ndjson'));
  for await (const _ of chain(src, [new HttpParser(), new SseProcessor(), new LlmAnalyzer(), new FileLogger({ path: session })], {
    signal: new AbortController().signal,
  }));
});
afterAll(async () => {
  await rx.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

it('docs/otel.md has the recipes this test knows', () => {
  expect(recipes().map((r) => r.name)).toEqual(Object.keys(EXPECT));
});

for (const r of recipes()) {
  it(`recipe: ${r.name}`, async () => {
    const want = EXPECT[r.name];
    // the variables as bash sets them (quotes, $(...), ${...}), then the receiver in place of the host
    const sh = spawnSync('bash', ['-c', `${r.exports.join('\n')}\nenv -0`], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
    expect(sh.status, sh.stderr).toBe(0);
    const env: Record<string, string> = {};
    for (const kv of sh.stdout.split('\0')) {
      const i = kv.indexOf('=');
      if (i > 0 && kv.startsWith('OTEL_')) env[kv.slice(0, i)] = kv.slice(i + 1).replace(/^https?:\/\/[^/]+/, rx.url);
    }
    const flags = r.command.split(/\s+/).filter((w) => /^--(no-)?otlp/.test(w));
    expect(flags).toContain('--otlp');
    const saved = { ...process.env };
    rx.spans.length = 0;
    rx.requests.length = 0;
    try {
      for (const k of Object.keys(process.env)) if (k.startsWith('OTEL_')) delete process.env[k];
      Object.assign(process.env, env);
      const c = captureIo();
      expect(await main(['export', ...flags, session], c.io), c.err()).toBe(0);
    } finally {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
    }
    expect(rx.spans.length).toBeGreaterThan(0);
    for (const q of rx.requests) {
      expect(q.path).toBe(want.path);
      expect(q.contentType).toBe(want.json ? 'application/json' : 'application/x-protobuf');
      expect(q.encoding).toBe(want.encoding ?? null);
      for (const [h, v] of Object.entries(want.headers ?? {})) expect(q.headers[h]).toBe(v);
    }
    expect(rx.spans[0].resource).toMatchObject(want.resource ?? {});
    expect(rx.spans.some((s) => 'gen_ai.input.messages' in s.attributes)).toBe(want.content === true);
  });
}
