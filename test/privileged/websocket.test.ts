/**
 * The Responses API over WebSocket under `agentsight record`: the openai
 * SDK's ResponsesWS (the `ws` package on node's TLS) against the stand-in,
 * with and without permessage-deflate. The session has the websocket
 * messages, one llm event per response.create with the model, text, usage
 * (the exact numbers the stand-in sent) and tool call, the tool's exec
 * linked to its call, and no API key anywhere.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startStandin, TEST_API_KEYS, type Standin } from '../../lib/standin';
import { runCli } from '../support/cli';
import { describePrivileged } from '../support/privileged';
import { AGENTS, clientEnv } from '../support/run';

describePrivileged('record: the Responses API over WebSocket (openai SDK ResponsesWS)', () => {
  let s: Standin;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentsight-ws-'));
  beforeAll(async () => {
    s = await startStandin({ chunkDelayMs: 2 });
  });
  afterAll(async () => {
    await s.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  for (const deflate of [false, true]) {
    it(`websocket events and llm events with what the stand-in sent${deflate ? ' (permessage-deflate)' : ''}, no key anywhere`, async () => {
      const file = path.join(dir, `ws-${deflate}.ndjson`);
      const first = s.requests.length;
      const cmd = [process.execPath, AGENTS.openaiWs, 'stream', '--json', ...(deflate ? ['--deflate'] : []), 'Who am I? run: id -un'];
      const cli = runCli(['record', '-o', file, '--', ...cmd], { env: clientEnv(s) });
      const { code } = await cli.exited;
      expect(code, cli.stderr()).toBe(0);
      // the agent's report: its stdout line that is JSON (record passes the agent's output through)
      const report = JSON.parse(
        cli
          .stdout()
          .split('\n')
          .find((l) => l.startsWith('{"sdk":"openai"')) as string,
      );
      const requests = s.requests.slice(first);
      expect(requests.map((r) => r.websocket?.message)).toEqual([0, 1]);
      const evs = fs
        .readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l));

      const ws = evs.filter((e) => e.source === 'websocket');
      const msgs = ws.filter((e) => e.data.type === 'message').map((e) => e.data);
      expect(msgs.length).toBeGreaterThan(20);
      for (const d of msgs) expect(d).toMatchObject({ role: 'client', path: '/v1/responses', truncated: false, incomplete: false });
      expect(msgs.filter((d) => d.direction === 'client_to_server' && d.opcode === 'text').map((d) => JSON.parse(d.data).type)).toEqual([
        'response.create',
        'response.create',
      ]);
      expect(msgs.some((d) => d.compressed)).toBe(deflate);
      expect(msgs.at(-1)).toMatchObject({ opcode: 'close', close_code: 1000 });
      // every event the stand-in sent arrived, in order
      const fromServer = msgs.filter((d) => d.direction === 'server_to_client' && d.opcode === 'text').map((d) => d.data);
      expect(fromServer).toEqual(requests.flatMap((r) => r.response.writes));
      expect(ws.filter((e) => e.data.type === 'parse_error')).toEqual([]);

      const llm = evs.filter((e) => e.source === 'llm').map((e) => e.data);
      expect(llm).toHaveLength(2);
      llm.forEach((d, i) => {
        const sent = JSON.parse(requests[i].response.writes.at(-1) as string).response;
        expect(d).toMatchObject({
          api: 'openai.responses',
          transport: 'websocket',
          'gen_ai.request.model': 'gpt-4.1',
          'gen_ai.response.model': sent.model,
          'gen_ai.response.id': report.response_ids[i],
          'gen_ai.usage.input_tokens': sent.usage.input_tokens,
          'gen_ai.usage.output_tokens': sent.usage.output_tokens,
          usage: { input_tokens: sent.usage.input_tokens, output_tokens: sent.usage.output_tokens, total_tokens: sent.usage.total_tokens },
          endpoint: { method: 'GET', path: '/v1/responses' },
          response: { text: s.expectedText(requests[i]) },
        });
        expect(sent.usage).toEqual(report.usage[i]);
      });
      expect(llm[0].response.tool_calls).toMatchObject([{ name: 'bash', arguments: { command: 'id -un' }, id: report.tool_calls[0].id }]);
      expect(llm[1].response.text).toContain(report.tool_calls[0].output.trim());
      const linked = evs.filter((e) => e.source === 'process' && e.data.event === 'EXEC' && e.data.llm_call_id === llm[0].call_id);
      expect(linked.some((e) => String(e.data.full_command).includes('id -un'))).toBe(true);

      const all = fs.readFileSync(file, 'utf8') + cli.stdout() + cli.stderr();
      for (const key of TEST_API_KEYS) expect(all.includes(key), `key ${key.slice(0, 10)}… leaked`).toBe(false);
      expect(cli.stderr()).toMatch(/LLM calls: 2/);
    });
  }
});
