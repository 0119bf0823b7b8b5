/**
 * Codex CLI and GitHub Copilot CLI, for real, under `agentsight record`,
 * against the local LLM API stand-in, several releases of each (months
 * apart; test/support/agents.json, fetched by scripts/fetch-npm-agents.sh):
 *  - Codex: a static-pie musl Rust executable without symbols. With a CA
 *    bundle (SSL_CERT_FILE, or the system bundle it finds itself) its HTTP
 *    client uses rustls; with SSL_CERT_FILE empty it "uses system root
 *    certificates" through its static OpenSSL. Both setups are run.
 *  - Copilot CLI: a Node single-executable application whose HTTP goes
 *    through runtime.node, a Rust addon it unpacks and dlopens (rustls in
 *    1.0.67/1.0.86, a static OpenSSL from 1.0.102 on).
 * Each over SSE and over the Responses API's WebSocket transport (Codex:
 * supports_websockets; Copilot: the openai BYOK provider with
 * COPILOT_PROVIDER_TRANSPORT=websockets), where every call must be a
 * response.create message on the WebSocket, none a fallback POST.
 * The locator's verdicts are made once (beforeAll) into a private cache, as a
 * user's second run finds them: a first analysis of runtime.node takes
 * seconds, longer than Copilot takes to make its first calls.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { locateOpenssl, locateRustls } from '../../lib/locator';
import { signalTree } from '../../lib/session/recording';
import { startStandin, TEST_ANTHROPIC_API_KEY, TEST_API_KEYS, TEST_OPENAI_API_KEY, type RecordedRequest, type Standin } from '../../lib/standin';
import agents from '../support/agents.json';
import { runCli, type CliRun } from '../support/cli';
import { describePrivileged } from '../support/privileged';
import { clientEnv } from '../support/run';

const CACHE = process.env.AGENTSIGHT_AGENT_CACHE ?? path.join(os.homedir(), '.cache', 'agentsight');
const codexBin = (v: string) => path.join(CACHE, 'codex', v, 'codex');
const copilotBin = (v: string) => path.join(CACHE, 'copilot', v, 'copilot');
const copilotXdg = (v: string) => path.join(CACHE, 'copilot', v, 'xdg-cache');
const copilotRuntime = (v: string) => path.join(copilotXdg(v), 'copilot', 'pkg', 'linux-x64', v, 'prebuilds', 'linux-x64', 'runtime.node');

/** A missing agent fails under CI (the setup fetches them) and is a visible skip elsewhere. */
function present(file: string, what: string, skip: (note: string) => void): boolean {
  if (fs.existsSync(file)) return true;
  const msg = `${what} not found at ${file}: run scripts/fetch-npm-agents.sh`;
  if (process.env.AGENTSIGHT_REQUIRE_PRIVILEGED) throw new Error(msg);
  skip(msg);
  return false;
}

/** The JSON events the stand-in sent for a request: the data of each SSE event, or each WebSocket text message. */
function sentEvents(q: RecordedRequest): any[] {
  if (q.websocket) return q.response.writes.map((w) => JSON.parse(w));
  return q.response.writes
    .flatMap((w) => w.split('\n'))
    .filter((l) => l.startsWith('data: ') && l !== 'data: [DONE]')
    .map((l) => JSON.parse(l.slice(6)));
}

/** Token usage the stand-in sent for a request: response.completed (Responses) or message_start + message_delta (Messages). */
function sentUsage(q: RecordedRequest): Record<string, number> {
  const datas = sentEvents(q);
  if (q.route === 'openai.responses') {
    const u = datas.find((d) => d.type === 'response.completed').response.usage;
    return { input_tokens: u.input_tokens, output_tokens: u.output_tokens };
  }
  const u = datas.find((d) => d.type === 'message_start').message.usage;
  const out = datas.filter((d) => d.type === 'message_delta').pop().usage.output_tokens;
  return {
    input_tokens: u.input_tokens,
    output_tokens: out,
    cache_read_input_tokens: u.cache_read_input_tokens,
    cache_creation_input_tokens: u.cache_creation_input_tokens,
  };
}

describePrivileged('Codex CLI and Copilot CLI under record', () => {
  let s: Standin;
  let work: string;
  let locatorCache: string;
  let certDir: string;
  let cli: CliRun | null = null;
  beforeAll(async () => {
    s = await startStandin({ chunkDelayMs: 1 });
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'agentsight-npm-agents-'));
    locatorCache = path.join(work, 'locator');
    // the stand-in's CA as an OpenSSL hashed directory (SSL_CERT_DIR), for the setups without SSL_CERT_FILE
    certDir = path.join(work, 'certs');
    fs.mkdirSync(certDir);
    const hash = execFileSync('openssl', ['x509', '-hash', '-noout', '-in', s.caFile], { encoding: 'utf8' }).trim();
    fs.copyFileSync(s.caFile, path.join(certDir, `${hash}.0`));
    const files = [...agents.codex.map(codexBin), ...agents.copilot.map(copilotRuntime)].filter((f) => fs.existsSync(f));
    for (const f of files) {
      await locateRustls(f, { cacheDir: locatorCache });
      await locateOpenssl(f, { cacheDir: locatorCache });
    }
  }, 180_000);
  afterAll(async () => {
    await s?.close();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });
  afterEach(() => {
    // a failed or timed-out test must not leave the agent running into the next one
    if (cli?.child.pid) signalTree(cli.child.pid, 'SIGKILL');
    cli = null;
  });

  async function record(name: string, command: string[], env: Record<string, string>) {
    const file = path.join(work, `${name}.ndjson`);
    const first = s.requests.length;
    cli = runCli(['record', '-o', file, '--', ...command], { env: { ...env, AGENTSIGHT_LOCATOR_CACHE: locatorCache }, cwd: work });
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

  /**
   * Every API call the stand-in answered is an llm event with its model, the
   * merged answer and the exact usage sent; the tool call's command ran as an
   * exec linked to it; no API key anywhere in the output.
   */
  function expectCaptured(r: Awaited<ReturnType<typeof record>>, toolName: string, model: string, transport: 'http' | 'websocket' = 'http'): void {
    expect(r.code, `${r.err.slice(-3000)}\n${r.out.slice(-2000)}`).toBe(0);
    if (process.env.AGENTSIGHT_TEST_DEBUG) console.log(r.err.slice(-3000), r.out.slice(-2000));
    const llm = r.evs.filter((e) => e.source === 'llm');
    const answered = r.requests.filter((q) => q.route === 'openai.responses' || q.route === 'anthropic.messages');
    expect(answered.length).toBeGreaterThanOrEqual(2);
    expect(llm.length, `llm events for ${answered.length} API calls`).toBe(answered.length);
    answered.forEach((q, i) => {
      expect(llm[i].data.transport).toBe(transport);
      expect(llm[i].data.response.text).toBe(s.expectedText(q));
      expect(llm[i].data['gen_ai.request.model']).toBe(model);
      // the exact numbers the stand-in sent
      expect(llm[i].data.usage).toMatchObject(sentUsage(q));
      expect(llm[i].data['gen_ai.usage.output_tokens']).toBe(sentUsage(q).output_tokens);
    });
    if (transport === 'websocket') expectWebSocket(r, answered, llm);
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
    const stats = r.evs.find((e) => e.source === 'stats' && e.data.tracer === 'ssl' && e.data.event === 'FINAL');
    expect(stats.data.rustls_unbound).toBe(0);
  }

  /**
   * The calls went over the WebSocket transport, with no fallback to SSE: the
   * stand-in answered every one as a response.create message and got no
   * POST; the session has the upgrade, each response.create the agent sent,
   * every event the stand-in sent, in order, and no parse error.
   */
  function expectWebSocket(r: Awaited<ReturnType<typeof record>>, answered: RecordedRequest[], llm: any[]): void {
    expect(answered.every((q) => q.websocket !== undefined && q.method === 'GET' && q.path === '/v1/responses')).toBe(true);
    expect(r.requests.filter((q) => q.method === 'POST')).toEqual([]);
    for (const e of llm) expect(e.data.endpoint).toMatchObject({ method: 'GET', path: '/v1/responses' });
    const upgrades = r.evs.filter((e) => e.source === 'http' && e.data.type === 'request' && e.data.method === 'GET' && e.data.path === '/v1/responses');
    expect(upgrades.length).toBe(new Set(answered.map((q) => q.connection)).size);
    const ws = r.evs.filter((e) => e.source === 'websocket');
    expect(ws.filter((e) => e.data.type === 'parse_error')).toEqual([]);
    const msgs = ws.filter((e) => e.data.type === 'message' && e.data.opcode === 'text').map((e) => e.data);
    const sentByAgent = msgs.filter((d) => d.direction === 'client_to_server').map((d) => JSON.parse(d.data));
    expect(sentByAgent.map((m) => m.type)).toEqual(answered.map(() => 'response.create'));
    // (what the stand-in recorded is the message as it read it: the captured one is the same JSON)
    expect(sentByAgent.map((m) => m.model)).toEqual(answered.map((q) => q.json.model));
    const fromServer = msgs.filter((d) => d.direction === 'server_to_client').map((d) => d.data);
    expect(fromServer).toEqual(answered.flatMap((q) => q.response.writes));
  }

  function codexHome(name: string, websockets: boolean): string {
    const home = path.join(work, `codex-home-${name}`);
    fs.mkdirSync(home, { recursive: true });
    fs.writeFileSync(
      path.join(home, 'config.toml'),
      [
        'model_provider = "standin"',
        'model = "gpt-5"',
        '[model_providers.standin]',
        'name = "agentsight stand-in"',
        `base_url = "${s.openaiBaseUrl}"`,
        'wire_api = "responses"',
        'env_key = "STANDIN_OPENAI_KEY"',
        `supports_websockets = ${websockets}`,
        'request_max_retries = 1',
        'stream_max_retries = 1',
        '',
      ].join('\n'),
    );
    return home;
  }

  // SSL_CERT_FILE: rustls ("building HTTP client with rustls backend for custom CA bundle");
  // SSL_CERT_FILE empty: OpenSSL ("using system root certificates"), the CA from SSL_CERT_DIR
  const setups = [
    { name: 'SSL_CERT_FILE (rustls)', library: 'rustls', env: (): Record<string, string> => ({ SSL_CERT_FILE: s.caFile }) },
    { name: 'no CA bundle (system roots: OpenSSL)', library: 'openssl', env: (): Record<string, string> => ({ SSL_CERT_FILE: '', SSL_CERT_DIR: certDir }) },
  ];
  // supports_websockets = true: `GET /v1/responses` upgraded to WebSocket, a warm-up response.create
  // (generate: false) then one per turn on the same connection, previous_response_id and only the new
  // input from the second turn on; it falls back to SSE when the upgrade fails (the check says it did not)
  const wires = [
    { name: 'SSE', websockets: false, transport: 'http' as const },
    { name: 'WebSocket', websockets: true, transport: 'websocket' as const },
  ];
  for (const v of agents.codex) {
    for (const wire of wires) {
      for (const setup of setups) {
        it(`Codex CLI ${v}, ${wire.name}, ${setup.name}: LLM calls, usage and the exec_command it runs`, { timeout: 120_000 }, async (ctx) => {
          const bin = codexBin(v);
          if (!present(bin, `Codex CLI ${v}`, (n) => ctx.skip(n))) return;
          const name = `${v}-${wire.transport}-${setup.library}`;
          const env = clientEnv(s, {
            CODEX_HOME: codexHome(name, wire.websockets),
            STANDIN_OPENAI_KEY: TEST_OPENAI_API_KEY,
            CODEX_CA_CERTIFICATE: '',
            ...setup.env(),
          });
          const r = await record(`codex-${name}`, [bin, 'exec', '--skip-git-repo-check', '--dangerously-bypass-approvals-and-sandbox', 'run: uname -a'], env);
          expectCaptured(r, 'exec_command', 'gpt-5', wire.transport);
          const ssl = r.evs.find((e) => e.source === 'stats' && e.data.tracer === 'ssl' && e.data.event === 'FINAL');
          const target = ssl.data.targets.find((t: { path: string }) => t.path === bin);
          expect(target?.functions).toEqual(
            expect.arrayContaining(['ssl_read_internal', 'ssl_write_internal', expect.stringMatching(/^MessageDecrypter::decrypt/)]),
          );
          const llm = r.evs.filter((e) => e.source === 'llm');
          expect(llm.every((e) => e.comm === 'codex')).toBe(true);
          // the calls went through the library this setup uses; the WebSocket client (tungstenite) is on
          // rustls in both setups, with the system's roots (SSL_CERT_DIR) when SSL_CERT_FILE is empty
          const library = wire.websockets ? 'rustls' : setup.library;
          const reqs = r.evs.filter((e) => e.source === 'http' && e.data.type === 'request' && e.data.path === '/v1/responses');
          expect(reqs.length).toBeGreaterThan(0);
          for (const q of reqs) expect(q.data.conn_id.startsWith(`${q.pid}:0x`)).toBe(library === 'openssl');
          if (wire.websockets) {
            // the warm-up first, answered without output; the next turns continue from the response before
            const sent = r.requests.map((q) => q.json);
            expect(sent[0].generate).toBe(false);
            expect(llm[0].data).toMatchObject({ request: { generate: false }, response: { text: '', tool_calls: [] }, 'gen_ai.usage.output_tokens': 0 });
            expect(sent.at(-1).previous_response_id).toBe(llm.at(-2).data['gen_ai.response.id']);
            expect(llm.at(-1).data.request.previous_response_id).toBe(llm.at(-2).data['gen_ai.response.id']);
          }
        });
      }
    }
  }

  // BYOK providers: Anthropic Messages; OpenAI Responses (the base URL ending in /v1, as for the
  // openai SDK) over SSE and, with COPILOT_PROVIDER_TRANSPORT=websockets, over WebSocket: every
  // connection, the WebSocket too, is made by runtime.node
  const providers = [
    {
      name: 'anthropic',
      model: 'claude-sonnet-4.5',
      transport: 'http' as const,
      env: (): Record<string, string> => ({
        COPILOT_PROVIDER_BASE_URL: s.anthropicBaseUrl,
        COPILOT_PROVIDER_TYPE: 'anthropic',
        COPILOT_PROVIDER_API_KEY: TEST_ANTHROPIC_API_KEY,
      }),
    },
    {
      name: 'openai responses over SSE',
      model: 'gpt-5',
      transport: 'http' as const,
      env: (): Record<string, string> => ({
        COPILOT_PROVIDER_BASE_URL: s.openaiBaseUrl,
        COPILOT_PROVIDER_TYPE: 'openai',
        COPILOT_PROVIDER_WIRE_API: 'responses',
        COPILOT_PROVIDER_API_KEY: TEST_OPENAI_API_KEY,
      }),
    },
    {
      name: 'openai responses over WebSocket',
      model: 'gpt-5',
      transport: 'websocket' as const,
      env: (): Record<string, string> => ({
        COPILOT_PROVIDER_BASE_URL: s.openaiBaseUrl,
        COPILOT_PROVIDER_TYPE: 'openai',
        COPILOT_PROVIDER_WIRE_API: 'responses',
        COPILOT_PROVIDER_TRANSPORT: 'websockets',
        COPILOT_PROVIDER_API_KEY: TEST_OPENAI_API_KEY,
      }),
    },
  ];
  for (const v of agents.copilot) {
    for (const p of providers) {
      it(
        `Copilot CLI ${v} (Node SEA, HTTP in its dlopened runtime.node), ${p.name}: LLM calls, usage and the bash tool it runs`,
        { timeout: 120_000 },
        async (ctx) => {
          const bin = copilotBin(v);
          if (!present(bin, `Copilot CLI ${v}`, (n) => ctx.skip(n))) return;
          if (!present(copilotRuntime(v), `Copilot CLI ${v} runtime.node`, (n) => ctx.skip(n))) return;
          const name = `${v}-${p.name.replace(/\W+/g, '-')}`;
          const home = path.join(work, `copilot-home-${name}`);
          fs.mkdirSync(home, { recursive: true });
          const env = clientEnv(s, {
            HOME: home,
            XDG_CACHE_HOME: copilotXdg(v),
            COPILOT_AUTO_UPDATE: 'false',
            ...p.env(),
            COPILOT_MODEL: p.model,
          });
          const r = await record(`copilot-${name}`, [bin, '-p', 'What kernel is this machine running? run: uname -a', '--allow-all-tools'], env);
          expectCaptured(r, 'bash', p.model, p.transport);
          const ssl = r.evs.find((e) => e.source === 'stats' && e.data.tracer === 'ssl' && e.data.event === 'FINAL');
          const rt = ssl.data.targets.find((t: { path: string }) => t.path.endsWith('/runtime.node'));
          expect(rt?.via).toMatch(/^(opened|mapped) by pid \d+$/);
          // the calls went through runtime.node's library: rustls (its connections are named by their
          // addresses), or OpenSSL where runtime.node has it (1.0.102: its rustls is not used)
          const openssl = rt.functions.includes('ssl_read_internal');
          const reqs = r.evs.filter((e) => e.source === 'http' && e.data.type === 'request' && /^\/v1\/(messages|responses)$/.test(e.data.path));
          expect(reqs.length).toBeGreaterThan(0);
          for (const q of reqs) expect(q.data.conn_id.startsWith(`${q.pid}:0x`)).toBe(openssl);
          if (p.transport === 'websocket') {
            // the second turn continues from the first response with only the tool's output
            const sent = r.requests.map((q) => q.json);
            const llm = r.evs.filter((e) => e.source === 'llm');
            expect(sent.at(-1).previous_response_id).toBe(llm.at(-2).data['gen_ai.response.id']);
            expect(llm.at(-1).data.request.previous_response_id).toBe(llm.at(-2).data['gen_ai.response.id']);
          }
        },
      );
    }
  }
});
