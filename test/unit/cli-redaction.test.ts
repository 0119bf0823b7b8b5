/**
 * No secret leaves the CLI with its default settings: `agentsight ssl`
 * (raw TLS data, json), `ssl --http-parser --sse-merge` (pretty), `agent`
 * (json console and file, summary on stderr), through the real command
 * line with an injected kernel binding.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { setBinding } from '../../lib/kernel/binding';
import { main } from '../../lib/cli/main';
import { captureIo, until } from '../support/io';
import { fakeBinding } from '../support/fake-binding';
import { execRecord, sslRecord } from '../support/records';

/* eslint-disable @typescript-eslint/no-require-imports */
const C = require('../fixtures/redaction-corpus.js');
const W = require('../fixtures/wire-samples.js');
/* eslint-enable @typescript-eslint/no-require-imports */

afterEach(() => setBinding(null));

const KEY = 'sk-ant-api03-' + 'Cli9Leak8Check7Value6'.repeat(4) + 'AA';
const OPAQUE = 'opaqueCliToken' + 'Q9w8E7r6T5y4U3i2';
const TOKEN = 'refresh-' + 'z8x7c6v5b4n3m2l1';

const conn = { fd: 3, family: 2, lport: 40000, rport: 443, laddr: [127, 0, 0, 1], raddr: [127, 0, 0, 1] };
let ts = 2e9;
const rec = (func: 0 | 1, data: Buffer, pid = 77, comm = 'python3') => sslRecord({ ts: (ts += 1e6), pid, comm }, { func, data, ssl: 0x77aa00n, ...conn });
// func: 1 is WRITE, 0 is READ
const write = (b: Buffer) => rec(1, b);
const read = (b: Buffer) => rec(0, b);

/** The pieces of a secret a leak would show (8 characters in a row). */
function leaks(secret: string, text: string): string[] {
  return C.leaks(secret, [text]);
}

async function runCli(args: string[], feed: (fb: ReturnType<typeof fakeBinding>) => void, done: (out: string) => boolean) {
  const fb = fakeBinding();
  setBinding(fb);
  const cap = captureIo();
  const run = main(args, cap.io);
  await until(() => fb.readers.some((r) => r.mapName === 'ssl_rb'), 10_000, 'ssl ring reader');
  feed(fb);
  await until(() => done(cap.out()), 10_000, 'output');
  await new Promise((r) => setTimeout(r, 100));
  process.emit('SIGINT');
  const code = await run;
  return { code, out: cap.out(), err: cap.err() };
}

describe('no secret leaves the CLI (default settings)', () => {
  it('agentsight ssl: raw TLS data is masked, compressed body bytes replaced and said so', async () => {
    const body = zlib.gzipSync(JSON.stringify({ refresh_token: TOKEN, expires_in: 3599 }));
    const response = Buffer.concat([
      W.resHead(200, 'OK', ['Content-Type: application/json', 'Content-Encoding: gzip', `Content-Length: ${body.length}`]),
      body,
    ]);
    const request = W.req(
      'POST',
      '/v1/messages',
      'api.anthropic.com',
      [`Authorization: Bearer ${OPAQUE}`, 'Content-Type: application/json'],
      JSON.stringify({ messages: [{ role: 'user', content: `key ${KEY}` }] }),
    );
    const r = await runCli(
      ['ssl', '--format', 'json'],
      (fb) => {
        const reader = fb.readers.find((x) => x.mapName === 'ssl_rb');
        // the request in two TLS calls, cut inside the key
        const cut = request.indexOf('Cli9Leak') + 5;
        reader?.push([write(request.subarray(0, cut)), write(request.subarray(cut)), read(response)]);
      },
      (out) => out.split('\n').filter((l) => l.includes('"source":"ssl"')).length >= 3,
    );
    expect(r.code).toBe(0);
    for (const s of [KEY, OPAQUE]) expect(leaks(s, r.out)).toEqual([]);
    const lines = r.out
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    const resp = lines.find((l) => l.source === 'ssl' && l.data.function === 'READ/RECV');
    expect(resp.data.compressed_bytes_masked).toBe(body.length);
    const bytes = Buffer.from(resp.data.data, resp.data.data_encoding === 'base64' ? 'base64' : 'utf8');
    expect(bytes.length).toBe(response.length);
    expect(() => zlib.gunzipSync(bytes.subarray(bytes.length - body.length))).toThrow();
  });

  it('agentsight ssl --http-parser --sse-merge (pretty): a key streamed in small deltas is masked everywhere', async () => {
    const text = `Here is the key: ${KEY} keep it`;
    const response = C.sseResponse(W.anthropicEvents({ text: C.deltas(text, 4, 3) }));
    const r = await runCli(
      ['ssl', '--http-parser', '--sse-merge', '--format', 'pretty'],
      (fb) => {
        const reader = fb.readers.find((x) => x.mapName === 'ssl_rb');
        const pieces: Buffer[] = [];
        for (let i = 0; i < response.length; i += 97) pieces.push(response.subarray(i, i + 97));
        reader?.push([write(W.anthropicRequest()), ...pieces.map(read)]);
      },
      (out) => out.includes('anthropic'),
    );
    expect(r.code).toBe(0);
    expect(leaks(KEY, r.out)).toEqual([]);
    expect(r.out).toContain('Here is the key: sk-ant-');
  });

  it('agentsight agent: command lines, LLM calls, the file and the summary keep no secret, and the summary says what was sent', async () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'agentsight-cli-')), 'session.ndjson');
    const request = C.anthropicCall({ messages: [{ role: 'user', content: `deploy with ${KEY}` }] });
    const r = await runCli(
      ['agent', '--format', 'json', '--output', file],
      (fb) => {
        const ssl = fb.readers.find((x) => x.mapName === 'ssl_rb');
        const proc = fb.readers.find((x) => x.mapName !== 'ssl_rb');
        proc?.push([
          execRecord({ ts: (ts += 1e6), pid: 90, comm: 'curl' }, 77, '/usr/bin/curl', [
            'curl',
            '-H',
            `Authorization: Bearer ${OPAQUE}`,
            `https://x.example/?token=${TOKEN}`,
          ]),
        ]);
        ssl?.push([write(request), read(C.OK_MSG)]);
      },
      (out) => out.includes('"source":"llm"') && out.includes('"source":"process"'),
    );
    expect(r.code).toBe(0);
    const written = fs.readFileSync(file, 'utf8');
    for (const s of [KEY, OPAQUE, TOKEN]) {
      expect(leaks(s, r.out), `stdout: ${s}`).toEqual([]);
      expect(leaks(s, r.err), `stderr: ${s}`).toEqual([]);
      expect(leaks(s, written), `file: ${s}`).toEqual([]);
    }
    expect(r.out).toContain('"source":"exposure"');
    expect(r.err).toMatch(/secrets sent to LLM APIs: 1/);
    expect(r.err).toMatch(/anthropic_api_key in prompt messages\[0\] of llm-77-1, python3\[77\], fingerprint [0-9a-f]{4}/);
    expect(r.err).toMatch(/curl -H Authorization: \[REDACTED\]\**/);
  });
});
