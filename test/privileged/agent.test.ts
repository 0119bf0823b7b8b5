/**
 * The job users come for: `record` and `agent` over real agents (stdlib
 * Python, the openai and @anthropic-ai/sdk npm clients) talking to the local
 * LLM API stand-in, as a user runs the CLI.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { startStandin, TEST_API_KEYS, type Standin } from '../../lib/standin';
import { heldBy, waitUnloaded } from '../support/bpftool';
import { runCli, type CliRun } from '../support/cli';
import { describePrivileged } from '../support/privileged';
import { gatedShell, uniqueShell } from '../support/procs';
import { AGENTS, clientEnv } from '../support/run';
import { expectSentUsage } from '../support/usage';

const PY = '/usr/bin/python3';

describePrivileged('record and agent over real agents', () => {
  let s: Standin;
  let dir: string;
  let cli: CliRun | null = null;
  beforeAll(async () => {
    s = await startStandin({ chunkDelayMs: 2 });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentsight-rec-'));
  });
  afterAll(async () => {
    await s.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  afterEach(() => {
    if (cli && cli.child.exitCode === null) cli.child.kill('SIGKILL');
    cli = null;
  });

  const events = (file: string) =>
    fs
      .readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));

  async function record(name: string, command: string[], extra: string[] = []) {
    const file = path.join(dir, `${name}.ndjson`);
    const first = s.requests.length;
    cli = runCli(['record', '-o', file, ...extra, '--', ...command], { env: clientEnv(s) });
    const r = await cli.exited;
    return { ...r, file, out: cli.stdout(), err: cli.stderr(), requests: s.requests.slice(first), evs: fs.existsSync(file) ? events(file) : [] };
  }

  /**
   * Both API calls captured from the agent process (the one that runs `agentScript`),
   * with the text, tool call and exact token counts the stand-in sent.
   */
  function expectSession(r: Awaited<ReturnType<typeof record>>, agentScript: string) {
    expect(r.code, r.err).toBe(0);
    const llm = r.evs.filter((e) => e.source === 'llm');
    expect(llm.length).toBe(r.requests.length);
    expect(r.requests.length).toBe(2);
    const agent = r.evs.find((e) => e.source === 'process' && e.data.event === 'EXEC' && e.data.argv.includes(agentScript));
    expect(agent, `no EXEC of ${agentScript}`).toBeDefined();
    r.requests.forEach((req, i) => {
      const d = llm[i].data;
      expect(d['gen_ai.request.model']).toBe(req.json?.model ?? req.path.match(/models\/([^:]+)/)?.[1]);
      expect(d.response.text).toBe(s.expectedText(req));
      expectSentUsage(d, req.response.usage, `request ${i + 1} (${req.route}, ${req.response.stream ? 'streamed' : 'JSON'})`);
      if (req.response.toolCall) {
        expect(d.response.tool_calls.map((t: { name: string }) => t.name)).toEqual([req.response.toolCall.name]);
        expect(d.response.tool_calls[0].arguments).toEqual(JSON.parse(req.response.toolCall.arguments));
      }
      expect(llm[i].pid).toBe(agent.pid);
    });
    // the tool's exec is a descendant of the agent and names the call that asked for it
    const call = llm[0].data;
    const tool = call.response.tool_calls[0];
    const execs = r.evs.filter((e) => e.source === 'process' && e.data.event === 'EXEC');
    const root = execs[0].pid;
    const linked = execs.filter((e) => e.data.llm_call_id === call.call_id);
    expect(linked.length).toBeGreaterThan(0);
    expect(linked.every((e) => e.data.tool_call_id === tool.id && e.pid !== root)).toBe(true);
    expect(linked.some((e) => String(e.data.full_command).includes(tool.command))).toBe(true);
    // no API key anywhere: the session file, stdout, stderr
    const all = fs.readFileSync(r.file, 'utf8') + r.out + r.err;
    for (const key of TEST_API_KEYS) expect(all.includes(key), `key ${key.slice(0, 10)}… leaked`).toBe(false);
    expect(fs.statSync(r.file).mode & 0o777).toBe(0o600);
    expect(r.err).toMatch(/LLM calls: 2/);
    expect(r.err).toMatch(/linked to commands: 1/);
  }

  it('record: a stdlib Python agent (urllib, system libssl), streaming', async () => {
    const r = await record('py-stream', [PY, AGENTS.python, '--provider', 'anthropic', '--stream', 'What kernel? run: uname -r']);
    expectSession(r, AGENTS.python);
    expect(r.evs.find((e) => e.source === 'process' && e.data.event === 'EXEC')?.comm).toBe('python3');
  });

  it('record: a stdlib Python agent, OpenAI non-streaming', async () => {
    expectSession(await record('py-json', [PY, AGENTS.python, '--provider', 'openai', '--no-stream', 'Who? run: id -un']), AGENTS.python);
  });

  for (const mode of ['stream', 'nostream']) {
    it(`record: the openai SDK (chat completions, ${mode})`, async () => {
      expectSession(await record(`openai-${mode}`, [process.execPath, AGENTS.openaiSdk, mode, '--api', 'chat', 'When? run: date -u +%Y']), AGENTS.openaiSdk);
    });
    it(`record: the openai SDK (responses, ${mode})`, async () => {
      expectSession(
        await record(`responses-${mode}`, [process.execPath, AGENTS.openaiSdk, mode, '--api', 'responses', 'Where? run: uname -m']),
        AGENTS.openaiSdk,
      );
    });
    it(`record: the @anthropic-ai/sdk (${mode})`, async () => {
      expectSession(await record(`anthropic-${mode}`, [process.execPath, AGENTS.anthropicSdk, mode, 'Up? run: cat /proc/loadavg']), AGENTS.anthropicSdk);
    });
    it(`record: the @anthropic-ai/sdk with prompt caching (${mode}): cache written, then read`, async () => {
      const r = await record(`anthropic-cache-${mode}`, [process.execPath, AGENTS.anthropicSdk, mode, '--cache', 'Up? run: cat /proc/loadavg']);
      expectSession(r, AGENTS.anthropicSdk);
      // not zeros: the numbers pinned above are the cache's
      expect(r.requests.map((q) => [q.response.usage?.cacheWrite ? 'write' : '-', q.response.usage?.cacheRead ? 'read' : '-'])).toEqual([
        ['write', '-'],
        ['-', 'read'],
      ]);
    });
  }

  it('record propagates the exit status and a missing command', async () => {
    const r = await record('exit', ['sh', '-c', 'exit 7']);
    expect(r.code).toBe(7);
    expect(r.err).toMatch(/command exited with status 7/);
    const missing = await record('missing', ['agentsight-no-such-command']);
    expect(missing.code).toBe(127);
  });

  it('record: Ctrl-C stops the command and the tracer cleanly and leaves nothing loaded', async () => {
    const file = path.join(dir, 'ctrlc.ndjson');
    cli = runCli(['record', '-o', file, '--', 'sh', '-c', 'echo started; sleep 30'], { env: clientEnv(s) });
    const started = Date.now();
    while (!cli.stdout().includes('started') && Date.now() - started < 10_000) await new Promise((r) => setTimeout(r, 20));
    const held = heldBy(cli.child.pid as number);
    expect(held.programs.length).toBeGreaterThan(5);
    cli.child.kill('SIGINT');
    const { code } = await cli.exited;
    expect(code).toBe(130);
    expect(await waitUnloaded(held)).toEqual({ programs: [], links: [] });
    const evs = events(file);
    expect(evs.find((e) => e.source === 'process' && e.data.event === 'EXIT' && e.data.argv === undefined && e.data.signal === 'SIGINT')).toBeDefined();
  });

  it('agent --comm attaches to an agent that is already running; --ssl false and --process false work', async () => {
    const shell = uniqueShell('asagent');
    try {
      /** A running "agent" (our shell, selected by name) that starts the Python agent as its child once released. */
      const run = async (extra: string[], name: string) => {
        const agentProc = gatedShell(shell.path, `exec ${PY} ${AGENTS.python} --provider anthropic --stream "Name? run: hostname"`, clientEnv(s));
        const file = path.join(dir, `${name}.ndjson`);
        cli = runCli(['agent', '--comm', shell.name, '--format', 'json', '--quiet', '-o', file, ...extra]);
        // released only once the probes are attached (the ready line), never on a guess of how long that takes
        await cli.ready;
        agentProc.release();
        expect(await agentProc.exited).toBe(0);
        // SIGINT drains the kernel rings: everything the agent did is in before the run ends
        cli.child.kill('SIGINT');
        expect((await cli.exited).code).toBe(0);
        return { pid: agentProc.pid as number, evs: events(file) };
      };
      const both = await run([], 'agent-both');
      const llm = both.evs.filter((e) => e.source === 'llm');
      expect(llm.length).toBe(2);
      expect(llm[0].pid).toBe(both.pid);
      expect(both.evs.some((e) => e.source === 'process' && e.data.event === 'EXEC' && e.data.llm_call_id === llm[0].data.call_id)).toBe(true);

      const noSsl = await run(['--ssl', 'false'], 'agent-nossl');
      expect(noSsl.evs.some((e) => e.source === 'process' && e.data.event === 'EXEC' && e.pid === noSsl.pid)).toBe(true);
      expect(noSsl.evs.some((e) => e.source === 'ssl' || e.source === 'http' || e.source === 'llm')).toBe(false);

      const noProc = await run(['--process', 'false'], 'agent-noproc');
      expect(noProc.evs.filter((e) => e.source === 'llm').length).toBe(2);
      expect(noProc.evs.some((e) => e.source === 'process')).toBe(false);
    } finally {
      shell.dispose();
    }
  });
});
