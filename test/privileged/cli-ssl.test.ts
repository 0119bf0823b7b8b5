/**
 * `agentsight ssl` as a user runs it, over real streaming clients.
 */
import { spawn } from 'node:child_process';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { startStandin, type Standin } from '../../lib/standin';
import { signalTree } from '../../lib/session/recording';
import { runCli, type CliRun } from '../support/cli';
import { describePrivileged } from '../support/privileged';
import { uniqueShell } from '../support/procs';
import { AGENTS, clientEnv } from '../support/run';

const PY = '/usr/bin/python3';

describePrivileged('agentsight ssl --http-parser --sse-merge over real streaming clients', () => {
  let s: Standin;
  let cli: CliRun | null = null;
  const shell = uniqueShell('asssl');
  beforeAll(async () => {
    s = await startStandin({ chunkDelayMs: 2 });
  });
  afterAll(async () => {
    await s.close();
    shell.dispose();
  });
  afterEach(() => {
    if (cli?.child.pid) signalTree(cli.child.pid, 'SIGKILL');
    cli = null;
  });

  async function capture(agent: string[]): Promise<{ events: any[]; requests: Standin['requests'] }> {
    cli = runCli(['ssl', '--comm', shell.name, '--http-parser', '--sse-merge', '--format', 'json']);
    await cli.ready;
    const first = s.requests.length;
    const child = spawn(shell.path, ['-c', `exec "$@"`, 'sh', ...agent], { env: clientEnv(s), stdio: 'ignore' });
    const code = await new Promise((r) => child.on('exit', r));
    expect(code).toBe(0);
    // SIGINT drains the kernel ring and flushes the analyzers: nothing the client did is left out
    cli.child.kill('SIGINT');
    expect((await cli.exited).code).toBe(0);
    const events = cli
      .stdout()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    return { events, requests: s.requests.slice(first) };
  }

  for (const [name, agent] of [
    ['python urllib, Anthropic streaming', [PY, AGENTS.python, '--provider', 'anthropic', '--stream', 'Run: uname -s']],
    ['openai SDK, Responses streaming', [process.execPath, AGENTS.openaiSdk, 'stream', '--api', 'responses', 'run: uname -s']],
  ] as [string, string[]][]) {
    it(`${name}: one merged event per streamed answer, with exactly the text the server sent`, async () => {
      const { events, requests } = await capture(agent);
      const merged = events.filter((e) => e.source === 'sse' && e.data.type === 'merged');
      expect(requests.length).toBe(2);
      expect(merged.length).toBe(2);
      requests.forEach((r, i) => {
        expect(merged[i].data.text).toBe(s.expectedText(r));
        expect(merged[i].data.end_reason).toBe('terminal');
        // the API's own counts, exactly as the stand-in sent them (Anthropic reports cached input apart)
        const u = r.response.usage;
        expect(u, 'the stand-in reported no usage').toBeDefined();
        const cached = r.route === 'anthropic.messages' ? (u?.cacheRead ?? 0) + (u?.cacheWrite ?? 0) : 0;
        expect(merged[i].data.usage).toMatchObject({ input_tokens: (u?.input ?? 0) - cached, output_tokens: u?.output, cache_read_input_tokens: u?.cacheRead });
      });
      expect(merged[0].data.tool_calls[0].arguments).toEqual(JSON.parse(requests[0].response.toolCall?.arguments ?? 'null'));
      // the raw ssl events are still there (ssl command), and HTTP requests/responses were paired
      expect(events.some((e) => e.source === 'ssl')).toBe(true);
      expect(events.filter((e) => e.source === 'http' && e.data.type === 'response').length).toBe(2);
    });
  }
});
