/**
 * HTTP/2 on the wire: curl takes h2 by ALPN from a stand-in that offers it
 * (as the real APIs do). The llm events of the same calls over HTTP/2 and
 * over HTTP/1.1 must be the same, and no key may reach any event.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startStandin, type Standin } from '../../lib/standin';
import { TEST_ANTHROPIC_API_KEY, TEST_OPENAI_API_KEY } from '../../lib/standin/keys';
import { runCli } from '../support/cli';
import { describePrivileged } from '../support/privileged';
import { clientEnv } from '../support/run';

interface Call {
  name: string;
  path: string;
  headers: string[];
  body: unknown;
}

const CALLS: Call[] = [
  {
    name: 'Anthropic Messages, streamed',
    path: '/v1/messages',
    headers: [`x-api-key: ${TEST_ANTHROPIC_API_KEY}`, 'anthropic-version: 2023-06-01'],
    body: { model: 'claude-sonnet-4-5', max_tokens: 200, stream: true, messages: [{ role: 'user', content: 'What kernel? run: uname -r' }] },
  },
  {
    name: 'Anthropic Messages, JSON',
    path: '/v1/messages',
    headers: [`x-api-key: ${TEST_ANTHROPIC_API_KEY}`, 'anthropic-version: 2023-06-01'],
    body: { model: 'claude-sonnet-4-5', max_tokens: 200, messages: [{ role: 'user', content: 'Say hello' }] },
  },
  {
    name: 'OpenAI Chat Completions, streamed',
    path: '/v1/chat/completions',
    headers: [`authorization: Bearer ${TEST_OPENAI_API_KEY}`],
    body: { model: 'gpt-4.1', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'Who am I? run: id -un' }] },
  },
];

/** What must be equal whatever the HTTP version: everything but times, connection ids and sequence numbers. */
function comparable(e: { data: Record<string, unknown> }) {
  const { latency_ms: _l, time_to_first_chunk_ms: _t, conn_id: _c, http_seq: _s, call_id: _i, ...rest } = e.data;
  return rest;
}

describePrivileged('HTTP/2: curl --http2 against a stand-in that offers h2', () => {
  let s: Standin;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentsight-h2-'));
  beforeAll(async () => {
    s = await startStandin({ http2: true, compression: false });
  });
  afterAll(async () => {
    await s.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function record(call: Call, version: '--http2' | '--http1.1'): Promise<any[]> {
    const file = path.join(dir, `${call.name.replace(/\W+/g, '-')}${version}.ndjson`);
    const curl = ['curl', '-sS', version, '--fail-with-body', '-o', '/dev/null', '-w', '%{http_version}', '-H', 'content-type: application/json'];
    for (const h of call.headers) curl.push('-H', h);
    curl.push('-d', JSON.stringify(call.body), `${s.url}${call.path}`);
    const cli = runCli(['record', '-q', '-o', file, '--', ...curl], { env: clientEnv(s) });
    const { code } = await cli.exited;
    expect({ code, stdout: cli.stdout() }).toEqual({ code: 0, stdout: version === '--http2' ? '2' : '1.1' });
    return fs
      .readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
  }

  for (const call of CALLS) {
    it(`${call.name}: the same llm event over HTTP/2 as over HTTP/1.1, and no key anywhere`, async () => {
      const h2 = await record(call, '--http2');
      const h1 = await record(call, '--http1.1');
      const llm2 = h2.filter((e) => e.source === 'llm');
      const llm1 = h1.filter((e) => e.source === 'llm');
      expect(llm2).toHaveLength(1);
      expect(llm1).toHaveLength(1);
      expect(comparable(llm2[0])).toEqual(comparable(llm1[0]));
      expect(llm2[0].data.response.text.length).toBeGreaterThan(0);
      const req2 = h2.find((e) => e.source === 'http' && e.data.type === 'request');
      expect(req2.data).toMatchObject({ version: '2', stream_id: 1, method: 'POST', path: call.path });
      for (const text of [JSON.stringify(h2), JSON.stringify(h1)]) {
        expect(text).not.toContain(TEST_ANTHROPIC_API_KEY.slice(10, 40));
        expect(text).not.toContain(TEST_OPENAI_API_KEY.slice(10, 40));
      }
    });
  }
});
