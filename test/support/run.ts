/**
 * Running client processes against a stand-in from tests. Always
 * asynchronous: the stand-in lives in the test's own process, so a
 * synchronous child would block the server it talks to.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import type { Standin } from '../../lib/standin';

export const REPO = path.resolve(__dirname, '../..');
export const AGENTS = {
  python: path.join(REPO, 'demo/agent.py'),
  node: path.join(REPO, 'demo/agent.js'),
  anthropicSdk: path.join(REPO, 'test/support/agents/anthropic-agent.js'),
  openaiSdk: path.join(REPO, 'test/support/agents/openai-agent.js'),
  openaiWs: path.join(REPO, 'test/support/agents/openai-ws-agent.js'),
};

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** stdout as bytes (for compressed or binary output). */
  raw: Buffer;
}

/** Run a command to completion (killed after timeoutMs). */
export function run(cmd: string, args: string[], opts: { env?: Record<string, string>; timeoutMs?: number; input?: string } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: opts.env ?? (process.env as Record<string, string>), stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 20_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const raw = Buffer.concat(out);
      resolve({ code, signal, stdout: raw.toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), raw });
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** The environment a client of `s` gets: the stand-in's variables, no proxies. */
export function clientEnv(s: Standin, extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || /^(https?|all|no)_proxy$/i.test(k)) continue;
    env[k] = v;
  }
  return { ...env, ...s.env(), NO_PROXY: '127.0.0.1,localhost,::1', ...extra };
}

export interface CurlResult {
  status: number;
  /** Header names lower-cased (last value wins). */
  headers: Record<string, string>;
  /** Raw header block. */
  head: string;
  body: Buffer;
  text: string;
}

/** curl against the stand-in: `-i` output split into status, headers and body. */
export async function curl(
  s: Standin,
  pathAndQuery: string,
  opts: { method?: string; headers?: Record<string, string>; json?: unknown; args?: string[] } = {},
): Promise<CurlResult> {
  const args = ['-sS', '-i', '--cacert', s.caFile, '-X', opts.method ?? (opts.json !== undefined ? 'POST' : 'GET')];
  for (const [k, v] of Object.entries(opts.headers ?? {})) args.push('-H', `${k}: ${v}`);
  if (opts.json !== undefined) args.push('-H', 'content-type: application/json', '--data-binary', '@-');
  args.push(...(opts.args ?? []), s.url + pathAndQuery);
  const r = await run('curl', args, { env: clientEnv(s), input: opts.json !== undefined ? JSON.stringify(opts.json) : '' });
  if (r.code !== 0) throw new Error(`curl failed (${r.code}): ${r.stderr}`);
  const sep = r.raw.indexOf('\r\n\r\n');
  const head = r.raw.subarray(0, sep).toString('latin1');
  const body = r.raw.subarray(sep + 4);
  const [statusLine, ...lines] = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const l of lines) {
    const i = l.indexOf(':');
    headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  return { status: Number(statusLine!.split(' ')[1]), headers, head, body, text: body.toString('utf8') };
}

/** Parse SSE text into events (the `\n\n` or `\r\n\r\n` separated blocks). */
export function parseSse(text: string): { event?: string; data: string }[] {
  const out: { event?: string; data: string }[] = [];
  for (const block of text.split(/\r?\n\r?\n/)) {
    if (!block.trim()) continue;
    let event: string | undefined;
    const data: string[] = [];
    for (const line of block.split(/\r?\n/)) {
      if (line.startsWith('event:')) event = line.slice(6).trim();
      else if (line.startsWith('data:')) data.push(line.slice(line[5] === ' ' ? 6 : 5));
    }
    out.push({ event, data: data.join('\n') });
  }
  return out;
}
