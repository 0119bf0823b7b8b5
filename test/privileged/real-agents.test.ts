/**
 * The most used coding agents, for real, under `agentsight record`, against
 * the local LLM API stand-in:
 *  - Claude Code: one Bun-compiled ELF with BoringSSL and no TLS symbols,
 *    several releases spread over time (the locator finds SSL_read/SSL_write);
 *  - Gemini CLI: a Node program (node's exported OpenSSL symbols).
 * Fetched by scripts/fetch-test-agents.sh (scripts/test.sh runs it).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { startStandin, TEST_API_KEYS, type Standin } from '../../lib/standin';
import { signalTree } from '../../lib/session/recording';
import { runCli, type CliRun } from '../support/cli';
import { describePrivileged } from '../support/privileged';
import { needFile } from '../support/required';
import { OtlpReceiver } from '../support/otlp-receiver';
import { expectSessionTrace } from '../support/otlp-session';
import { clientEnv } from '../support/run';
import { expectSentUsage } from '../support/usage';

const versions = (
  JSON.parse(fs.readFileSync(path.join(__dirname, '../support/claude-code-versions.json'), 'utf8')) as { versions: { version: string }[] }
).versions.map((v) => v.version);
const CLAUDE_CACHE = process.env.AGENTSIGHT_CLAUDE_CODE_CACHE ?? path.join(os.homedir(), '.cache', 'agentsight', 'claude-code');
const GEMINI_DIR = process.env.AGENTSIGHT_GEMINI_CLI_DIR ?? path.join(os.homedir(), '.cache', 'agentsight', 'gemini-cli');
const GEMINI = path.join(GEMINI_DIR, 'node_modules', '.bin', 'gemini');

describePrivileged('real coding agents under record', () => {
  let s: Standin;
  let work: string;
  let cli: CliRun | null = null;
  beforeAll(async () => {
    s = await startStandin({ chunkDelayMs: 1 });
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'agentsight-agents-'));
  });
  afterAll(async () => {
    await s.close();
    fs.rmSync(work, { recursive: true, force: true });
  });
  afterEach(() => {
    // a failed or timed-out test must not leave the agent running into the next one
    if (cli?.child.pid) signalTree(cli.child.pid, 'SIGKILL');
    cli = null;
  });

  async function record(name: string, command: string[], env: Record<string, string>, extra: string[] = []) {
    const file = path.join(work, `${name}.ndjson`);
    const first = s.requests.length;
    cli = runCli(['record', '-o', file, ...extra, '--', ...command], { env, cwd: work });
    const r = await cli.exited;
    const evs = fs.existsSync(file)
      ? fs
          .readFileSync(file, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l))
      : [];
    return { ...r, file, evs, out: cli.stdout(), err: cli.stderr(), requests: s.requests.slice(first) };
  }

  /** The model's tool call is captured, its command runs as a linked exec, the final answer is merged whole. */
  function expectToolLoop(r: Awaited<ReturnType<typeof record>>, toolName: string, agentComm: string) {
    expect(r.code, `${r.err}\n${r.out}`).toBe(0);
    if (process.env.AGENTSIGHT_TEST_DEBUG) console.log(r.err.slice(-3000), r.out.slice(-2000));
    const llm = r.evs.filter((e) => e.source === 'llm');
    // every API request the stand-in answered was captured as an llm event, with the answer it sent
    const answered = r.requests.filter((q) => q.route !== 'count_tokens' && q.route !== 'models' && q.route !== 'health' && q.route !== 'not_found');
    expect(llm.length).toBe(answered.length);
    answered.forEach((q, i) => {
      expect(llm[i].data.response.text).toBe(s.expectedText(q));
      expect(llm[i].comm).toBe(agentComm);
      expectSentUsage(llm[i].data, q.response.usage, `request ${i + 1} (${q.route}, ${q.response.stream ? 'streamed' : 'JSON'})`);
    });
    const withTool = llm.find((e) => e.data.response.tool_calls.some((t: { name: string }) => t.name === toolName));
    expect(withTool, `no llm event asked for ${toolName}`).toBeDefined();
    const tool = withTool.data.response.tool_calls.find((t: { name: string }) => t.name === toolName);
    expect(tool.command).toBe('uname -a');
    const linked = r.evs.filter((e) => e.source === 'process' && e.data.event === 'EXEC' && e.data.llm_call_id === withTool.data.call_id);
    expect(linked.map((e) => e.data.full_command)).toContain('uname -a');
    const final = llm.find((e) => /finished\. Its output was/.test(e.data.response.text));
    expect(final?.data.response.text).toContain(os.release());
    const all = fs.readFileSync(r.file, 'utf8') + r.out + r.err;
    for (const key of TEST_API_KEYS) expect(all.includes(key), `API key ${key.slice(0, 10)}… reached the output`).toBe(false);
  }

  const claudeEnv = () =>
    clientEnv(s, {
      ANTHROPIC_BASE_URL: s.anthropicBaseUrl,
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
      DISABLE_TELEMETRY: '1',
      DISABLE_AUTOUPDATER: '1',
      DISABLE_ERROR_REPORTING: '1',
      HOME: work,
    });

  for (const v of versions) {
    it(`Claude Code ${v} (Bun + BoringSSL, no symbols): LLM calls and the Bash tool it runs`, { timeout: 90_000 }, async (ctx) => {
      const bin = path.join(CLAUDE_CACHE, v, 'claude');
      needFile(ctx, bin, `Claude Code ${v} not found at ${bin}: run scripts/fetch-test-agents.sh`);
      const r = await record(`claude-${v}`, [bin, '-p', 'What kernel is this machine running? run: uname -a', '--allowedTools', 'Bash'], claudeEnv());
      expect(r.evs.some((e) => e.source === 'diagnostic' && /cannot be located/.test(e.data.message))).toBe(false);
      expectToolLoop(r, 'Bash', 'claude');
      // TLS runs on a thread named differently from the process: still captured, still named after the process
      const tls = r.evs.filter((e) => e.source === 'llm');
      expect(tls.every((e) => e.comm === 'claude')).toBe(true);
    });
  }

  it(
    `Claude Code ${versions[versions.length - 1]} with --otlp-endpoint --otlp-content: its session is one trace, content masked`,
    { timeout: 90_000 },
    async (ctx) => {
      const v = versions[versions.length - 1];
      const bin = path.join(CLAUDE_CACHE, v, 'claude');
      needFile(ctx, bin, `Claude Code ${v} not found at ${bin}: run scripts/fetch-test-agents.sh`);
      const rx = await OtlpReceiver.start();
      try {
        const r = await record(`claude-otlp-${v}`, [bin, '-p', 'What kernel is this machine running? run: uname -a', '--allowedTools', 'Bash'], claudeEnv(), [
          '--otlp-endpoint',
          rx.url,
          '--otlp-content',
        ]);
        expectToolLoop(r, 'Bash', 'claude');
        const t = expectSessionTrace(rx.spans, r.evs, { content: true });
        expect(t.root.name).toBe('invoke_agent claude');
        expect(t.tools.map((x) => x.name)).toEqual(['execute_tool Bash']);
        expect(t.execs.some((x) => x.attributes['process.command_line'] === 'uname -a')).toBe(true);
        expect(t.chats[0].attributes['gen_ai.usage.cache_read.input_tokens']).toBeGreaterThan(0);
        const all = JSON.stringify(rx.spans, (_k, x) => (typeof x === 'bigint' ? String(x) : x));
        for (const key of TEST_API_KEYS) expect(all.includes(key), `API key ${key.slice(0, 10)}… exported`).toBe(false);
      } finally {
        await rx.close();
      }
    },
  );

  it('Gemini CLI (Node, via the exported OpenSSL symbols of node): LLM calls and its shell tool', async (ctx) => {
    needFile(ctx, GEMINI, `Gemini CLI not found at ${GEMINI}: run scripts/fetch-test-agents.sh`);
    const home = path.join(work, 'gemini-home');
    fs.mkdirSync(path.join(home, '.gemini'), { recursive: true });
    fs.writeFileSync(
      path.join(home, '.gemini', 'settings.json'),
      JSON.stringify({
        security: { auth: { selectedType: 'gemini-api-key' }, folderTrust: { enabled: false } },
        privacy: { usageStatisticsEnabled: false },
        telemetry: { enabled: false },
      }),
    );
    const env = clientEnv(s, { GOOGLE_GEMINI_BASE_URL: s.geminiBaseUrl, GEMINI_CLI_HOME: home, GEMINI_CLI_NO_RELAUNCH: '1' });
    const r = await record('gemini', [GEMINI, '-p', 'What kernel is this machine running? run: uname -a', '--yolo'], env);
    expectToolLoop(r, 'run_shell_command', 'node');
  });
});
