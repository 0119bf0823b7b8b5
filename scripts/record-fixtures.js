#!/usr/bin/env node
'use strict';
/*
 * Records real sessions with the tracer, for replay tests that run without
 * root: each client runs against the local LLM API stand-in while the TLS and
 * process tracers capture it (selected by pid, from its first instruction).
 * Writes, per session, test/fixtures/<name>.ndjson (the raw ssl and process
 * events) and test/fixtures/<name>.expected.json (what the stand-in received
 * and sent: the ground truth the replay is checked against).
 *
 *   sudo node scripts/record-fixtures.js [name...]     (after npm run build)
 */
const fs = require('node:fs');
const path = require('node:path');
const dist = path.join(__dirname, '..', 'dist');
const { AgentRunner, SslRunner, ProcessRunner, launchGated } = require(path.join(dist, 'index'));
const { startStandin } = require(path.join(dist, 'standin'));

const repo = path.join(__dirname, '..');
const out = path.join(repo, 'test', 'fixtures');
const PY = '/usr/bin/python3';
const agents = {
  python: path.join(repo, 'demo/agent.py'),
  node: path.join(repo, 'demo/agent.js'),
  anthropicSdk: path.join(repo, 'test/support/agents/anthropic-agent.js'),
  openaiSdk: path.join(repo, 'test/support/agents/openai-agent.js'),
};

/** name -> [command, args] given the stand-in */
const SESSIONS = {
  'curl-anthropic-gzip': (s) => [
    'curl',
    [
      '-s',
      '--compressed',
      '-H',
      'content-type: application/json',
      '-H',
      'anthropic-version: 2023-06-01',
      '-H',
      `x-api-key: ${s.env().ANTHROPIC_API_KEY}`,
      '-d',
      JSON.stringify({ model: 'claude-sonnet-4-6', max_tokens: 256, messages: [{ role: 'user', content: 'Say hello' }] }),
      `${s.url}/v1/messages`,
    ],
  ],
  'curl-gemini-sse': (s) => [
    'curl',
    [
      '-s',
      '-N',
      '-H',
      'content-type: application/json',
      '-H',
      `x-goog-api-key: ${s.env().GEMINI_API_KEY ?? s.env().GOOGLE_API_KEY}`,
      '-d',
      JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'Say hello' }] }] }),
      `${s.url}/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse`,
    ],
  ],
  'python-anthropic-stream': () => [PY, [agents.python, '--provider', 'anthropic', '--stream', 'What kernel is this? run: uname -r']],
  'python-openai-json': () => [PY, [agents.python, '--provider', 'openai', '--no-stream', 'List the root directory. run: ls /']],
  'sdk-openai-chat-stream': () => [process.execPath, [agents.openaiSdk, 'stream', '--api', 'chat', 'Who am I? run: id -un']],
  'sdk-openai-responses-stream': () => [process.execPath, [agents.openaiSdk, 'stream', '--api', 'responses', 'What time is it? run: date -u +%Y']],
  'sdk-anthropic-stream-thinking': () => [process.execPath, [agents.anthropicSdk, 'stream', '--thinking', 'How long has it been up? run: cat /proc/uptime']],
  'sdk-anthropic-json': () => [process.execPath, [agents.anthropicSdk, 'nostream', 'Where am I? run: pwd']],
};

async function recordOne(name, standin) {
  const [cmd, args] = SESSIONS[name](standin);
  const env = { ...process.env, ...standin.env(), NO_PROXY: '127.0.0.1,localhost' };
  const first = standin.requests.length;
  const child = launchGated(cmd, args, { env, stdio: 'pipe' });
  let stdout = '';
  child.child.stdout.on('data', (d) => (stdout += d));
  let stderr = '';
  child.child.stderr.on('data', (d) => (stderr += d));
  const runner = new AgentRunner('record')
    .addRunner(new SslRunner({ pid: [child.pid], statsIntervalMs: 0 }))
    .addRunner(new ProcessRunner({ pid: [child.pid], statsIntervalMs: 0 }));
  runner.once('ready', () => child.release());
  const ctrl = new AbortController();
  const events = [];
  const done = (async () => {
    for await (const e of runner.run({ signal: ctrl.signal })) if (e.source === 'ssl' || e.source === 'process') events.push(e);
  })();
  const status = await child.exited;
  await new Promise((r) => setTimeout(r, 800));
  ctrl.abort();
  await done;
  if (status.status !== 0) throw new Error(`${name}: ${cmd} exited ${status.status}\n${stderr}`);
  const requests = standin.requests.slice(first).map((r) => ({
    method: r.method,
    path: r.path,
    route: r.route,
    model: r.json?.model ?? null,
    stream: r.response.stream,
    status: r.response.status,
    encoding: r.response.encoding ?? null,
    text: r.response.text,
    thinking: r.response.thinking,
    tool_call: r.response.toolCall ?? null,
    usage: r.response.usage ?? null,
    request_body: r.body.toString('utf8'),
  }));
  fs.writeFileSync(path.join(out, `${name}.ndjson`), events.map((e) => JSON.stringify(e)).join('\n') + '\n');
  fs.writeFileSync(
    path.join(out, `${name}.expected.json`),
    JSON.stringify({ command: [path.basename(cmd), ...args.map((a) => a.replace(repo, '<repo>'))], pid: child.pid, stdout, requests }, null, 2) + '\n',
  );
  console.log(`${name}: ${events.length} events (${events.filter((e) => e.source === 'ssl').length} ssl), ${requests.length} request(s)`);
}

async function main() {
  if (process.getuid() !== 0) throw new Error('record-fixtures loads eBPF programs: run it as root');
  fs.mkdirSync(out, { recursive: true });
  const names = process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(SESSIONS);
  for (const n of names) if (!SESSIONS[n]) throw new Error(`unknown session ${n}; known: ${Object.keys(SESSIONS).join(', ')}`);
  const standin = await startStandin({ created: 1764288000 });
  try {
    for (const n of names) await recordOne(n, standin);
  } finally {
    await standin.close();
  }
}

main().catch((err) => {
  console.error(err.stack || String(err));
  process.exit(1);
});
