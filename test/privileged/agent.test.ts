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
import { uniqueShell } from '../support/procs';
import { AGENTS, clientEnv } from '../support/run';

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

  function expectSession(r: Awaited<ReturnType<typeof record>>, agentPid?: number) {
    expect(r.code, r.err).toBe(0);
    const llm = r.evs.filter((e) => e.source === 'llm');
    expect(llm.length).toBe(r.requests.length);
    expect(r.requests.length).toBe(2);
    r.requests.forEach((req, i) => {
      const d = llm[i].data;
      expect(d['gen_ai.request.model']).toBe(req.json?.model ?? req.path.match(/models\/([^:]+)/)?.[1]);
      expect(d.response.text).toBe(s.expectedText(req));
      expect(d['gen_ai.usage.input_tokens']).toBeGreaterThan(0);
      expect(d['gen_ai.usage.output_tokens']).toBeGreaterThan(0);
      if (req.response.toolCall) {
        expect(d.response.tool_calls.map((t: { name: string }) => t.name)).toEqual([req.response.toolCall.name]);
        expect(d.response.tool_calls[0].arguments).toEqual(JSON.parse(req.response.toolCall.arguments));
      }
      if (agentPid) expect(llm[i].pid).toBe(agentPid);
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
    expectSession(r);
    expect(r.evs.find((e) => e.source === 'process' && e.data.event === 'EXEC')?.comm).toBe('python3');
  });

  it('record: a stdlib Python agent, OpenAI non-streaming', async () => {
    expectSession(await record('py-json', [PY, AGENTS.python, '--provider', 'openai', '--no-stream', 'Who? run: id -un']));
  });

  for (const mode of ['stream', 'nostream']) {
    it(`record: the openai SDK (chat completions, ${mode})`, async () => {
      expectSession(await record(`openai-${mode}`, [process.execPath, AGENTS.openaiSdk, mode, '--api', 'chat', 'When? run: date -u +%Y']));
    });
    it(`record: the openai SDK (responses, ${mode})`, async () => {
      expectSession(await record(`responses-${mode}`, [process.execPath, AGENTS.openaiSdk, mode, '--api', 'responses', 'Where? run: uname -m']));
    });
    it(`record: the @anthropic-ai/sdk (${mode})`, async () => {
      expectSession(await record(`anthropic-${mode}`, [process.execPath, AGENTS.anthropicSdk, mode, 'Up? run: cat /proc/loadavg']));
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
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(await waitUnloaded(held)).toEqual({ programs: [], links: [] });
    const evs = events(file);
    expect(evs.find((e) => e.source === 'process' && e.data.event === 'EXIT' && e.data.argv === undefined && e.data.signal === 'SIGINT')).toBeDefined();
  });

  it('agent --comm attaches to an agent that is already running; --ssl false and --process false work', async () => {
    const shell = uniqueShell('asagent');
    try {
      const run = (extra: string[], name: string) => {
        // a running "agent": waits, then runs the Python agent as its child
        const agentProc = require('node:child_process').spawn(
          shell.path,
          ['-c', `sleep 1.5; exec ${PY} ${AGENTS.python} --provider anthropic --stream "Name? run: hostname"`],
          {
            env: clientEnv(s),
            stdio: 'ignore',
          },
        );
        const file = path.join(dir, `${name}.ndjson`);
        return { agentProc, file, cli: runCli(['agent', '--comm', shell.name, '--format', 'json', '--quiet', '-o', file, ...extra]) };
      };
      const both = run([], 'agent-both');
      cli = both.cli;
      await both.cli.ready;
      await new Promise((res) => both.agentProc.on('exit', res));
      await new Promise((res) => setTimeout(res, 600));
      both.cli.child.kill('SIGINT');
      expect((await both.cli.exited).code).toBe(0);
      const evs = events(both.file);
      const llm = evs.filter((e) => e.source === 'llm');
      expect(llm.length).toBe(2);
      expect(llm[0].pid).toBe(both.agentProc.pid);
      expect(evs.some((e) => e.source === 'process' && e.data.event === 'EXEC' && e.data.llm_call_id === llm[0].data.call_id)).toBe(true);

      const noSsl = run(['--ssl', 'false'], 'agent-nossl');
      cli = noSsl.cli;
      await noSsl.cli.ready;
      await new Promise((res) => noSsl.agentProc.on('exit', res));
      await new Promise((res) => setTimeout(res, 400));
      noSsl.cli.child.kill('SIGINT');
      expect((await noSsl.cli.exited).code).toBe(0);
      const e2 = events(noSsl.file);
      expect(e2.some((e) => e.source === 'process' && e.data.event === 'EXEC' && e.pid === noSsl.agentProc.pid)).toBe(true);
      expect(e2.some((e) => e.source === 'ssl' || e.source === 'http' || e.source === 'llm')).toBe(false);

      const noProc = run(['--process', 'false'], 'agent-noproc');
      cli = noProc.cli;
      await noProc.cli.ready;
      await new Promise((res) => noProc.agentProc.on('exit', res));
      await new Promise((res) => setTimeout(res, 600));
      noProc.cli.child.kill('SIGINT');
      expect((await noProc.cli.exited).code).toBe(0);
      const e3 = events(noProc.file);
      expect(e3.filter((e) => e.source === 'llm').length).toBe(2);
      expect(e3.some((e) => e.source === 'process')).toBe(false);
    } finally {
      shell.dispose();
    }
  });
});
