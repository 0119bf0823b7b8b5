/**
 * Go crypto/tls: Go programs built here (Debian's golang-go; with symbols and
 * DWARF, and stripped with -ldflags="-s -w") make LLM API calls with
 * net/http over HTTP/1.1 and over HTTP/2 (by ALPN) to a stand-in. Under
 * `agentsight record` their llm events must equal those of the same calls
 * made by curl, no key may reach any event, and the raw ssl events carry the
 * connection. Also: a Go TLS server traced while curl calls it, a read into a
 * buffer on a goroutine stack that moves during the call, the per-call cap,
 * and `agentsight ssl --binary-path` on a stripped Go binary.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startStandin, type Standin } from '../../lib/standin';
import { analyzeGoTls } from '../../lib/locator/go';
import { SslTracer } from '../../lib/tracers/ssl-tracer';
import { Collector } from '../support/collect';
import { run as spawnRun } from '../support/spawn';
import { TEST_ANTHROPIC_API_KEY, TEST_OPENAI_API_KEY } from '../../lib/standin/keys';
import { huffmanEncode } from '../../lib/http/h2/huffman';
import { runCli } from '../support/cli';
import { buildGo, goMissing, type GoVariant } from '../support/go';
import { need } from '../support/required';
import { describePrivileged } from '../support/privileged';
import { clientEnv, run } from '../support/run';
import { makeCert, type TestCert } from '../support/tls-server';

interface Call {
  name: string;
  path: string;
  headers: Record<string, string>;
  body: unknown;
}

const CALLS: Call[] = [
  {
    name: 'Anthropic Messages, streamed',
    path: '/v1/messages',
    headers: { 'x-api-key': TEST_ANTHROPIC_API_KEY, 'anthropic-version': '2023-06-01' },
    body: { model: 'claude-sonnet-4-5', max_tokens: 200, stream: true, messages: [{ role: 'user', content: 'What kernel? run: uname -r' }] },
  },
  {
    name: 'Anthropic Messages, JSON',
    path: '/v1/messages',
    headers: { 'x-api-key': TEST_ANTHROPIC_API_KEY, 'anthropic-version': '2023-06-01' },
    body: { model: 'claude-sonnet-4-5', max_tokens: 200, messages: [{ role: 'user', content: 'Say hello' }] },
  },
  {
    name: 'OpenAI Chat Completions, streamed',
    path: '/v1/chat/completions',
    headers: { authorization: `Bearer ${TEST_OPENAI_API_KEY}` },
    body: { model: 'gpt-4.1', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'Who am I? run: id -un' }] },
  },
];

type Ev = { source: string; pid: number; data: any };

/** What must be equal whatever the client: everything but times, connection ids and sequence numbers. */
function comparable(e: Ev) {
  const { latency_ms: _l, time_to_first_chunk_ms: _t, conn_id: _c, http_seq: _s, call_id: _i, ...rest } = e.data;
  return rest;
}

/** The bytes of an ssl event as latin1 text (binary data comes base64-encoded). */
function payload(e: Ev): string {
  return e.data.data_encoding === 'base64' ? Buffer.from(e.data.data, 'base64').toString('latin1') : e.data.data;
}

function readEvents(file: string): Ev[] {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

/** The bytes of an HPACK literal with Huffman coding, but its last octet (it holds the padding): what a raw HTTP/2 header block shows of `value`. */
function huffmanLiteral(value: string): Buffer {
  const h = huffmanEncode(Buffer.from(value, 'latin1'));
  return h.subarray(0, h.length - 1);
}

const KEY_BYTES = [
  Buffer.from(TEST_ANTHROPIC_API_KEY.slice(10, 40), 'latin1'),
  Buffer.from(TEST_OPENAI_API_KEY.slice(10, 40), 'latin1'),
  // HTTP/2: Go's HPACK encoder sends header values Huffman-coded when that is shorter
  huffmanLiteral(TEST_ANTHROPIC_API_KEY),
  huffmanLiteral(`Bearer ${TEST_OPENAI_API_KEY}`),
];

/**
 * No key in the file's text, nor in the bytes of its raw ssl events (base64
 * when they are not UTF-8, as HTTP/2 frames are), as text or Huffman-coded.
 * `h2Path`: the raw writes are HTTP/2 whose first request has this :path,
 * which must be found the same way (so the search can find a literal).
 */
function noKeys(file: string, h2Path?: string): void {
  const text = fs.readFileSync(file, 'utf8');
  expect(text).not.toContain(TEST_ANTHROPIC_API_KEY.slice(10, 40));
  expect(text).not.toContain(TEST_OPENAI_API_KEY.slice(10, 40));
  const ssl = readEvents(file).filter((e) => e.source === 'ssl');
  const raw = Buffer.concat(ssl.map((e) => Buffer.from(payload(e), 'latin1')));
  for (const k of KEY_BYTES) expect(raw.includes(k)).toBe(false);
  if (h2Path) expect(raw.includes(huffmanLiteral(h2Path))).toBe(true);
}

describePrivileged('Go crypto/tls', () => {
  let s: Standin;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentsight-go-'));
  const bins: Partial<Record<GoVariant, string>> = {};
  let server = '';
  const callsFile = path.join(dir, 'calls.json');
  /** curl's llm events of CALLS over each HTTP version, made once. */
  const curlLlm = new Map<string, Ev[]>();

  const missing = goMissing();
  beforeEach((ctx) => need(ctx, !missing, missing!));
  beforeAll(async () => {
    if (missing) return;
    bins.plain = buildGo('client', 'plain');
    bins.stripped = buildGo('client', 'stripped');
    bins.pie = buildGo('client', 'pie');
    server = buildGo('server', 'plain');
    s = await startStandin({ http2: true, compression: false });
    fs.writeFileSync(callsFile, JSON.stringify(CALLS.map((c) => ({ path: c.path, headers: c.headers, body: c.body }))));
  }, 600_000);
  afterAll(async () => {
    await s?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function record(
    name: string,
    cmd: string[],
    extra: string[] = [],
    env: Record<string, string> = {},
    stderr: string | RegExp = '',
  ): Promise<{ events: Ev[]; file: string; stdout: string; stderr: string }> {
    const file = path.join(dir, `${name}.ndjson`);
    const cli = runCli(['record', '-q', '--raw-ssl', '-o', file, ...extra, '--', ...cmd], { env: clientEnv(s, env) });
    const { code } = await cli.exited;
    expect({ code, stderr: cli.stderr() }).toEqual({ code: 0, stderr: typeof stderr === 'string' ? stderr : expect.stringMatching(stderr) });
    return { events: readEvents(file), file, stdout: cli.stdout(), stderr: cli.stderr() };
  }

  async function curlCalls(version: '--http2' | '--http1.1'): Promise<Ev[]> {
    const have = curlLlm.get(version);
    if (have) return have;
    const out: Ev[] = [];
    for (const [i, call] of CALLS.entries()) {
      const curl = ['curl', '-sS', version, '--fail-with-body', '-o', '/dev/null', '-w', '%{http_version}', '-H', 'content-type: application/json'];
      for (const [k, v] of Object.entries(call.headers)) curl.push('-H', `${k}: ${v}`);
      curl.push('-d', JSON.stringify(call.body), `${s.url}${call.path}`);
      const r = await record(`curl${version}-${i}`, curl);
      expect(r.stdout).toBe(version === '--http2' ? '2' : '1.1');
      noKeys(r.file);
      out.push(...r.events.filter((e) => e.source === 'llm'));
    }
    curlLlm.set(version, out);
    return out;
  }

  const BUILDS = { plain: 'symbols and DWARF', stripped: 'stripped: -s -w', pie: 'position-independent: -buildmode=pie' } as const;
  for (const variant of ['plain', 'stripped', 'pie'] as const) {
    for (const proto of ['h1', 'h2'] as const) {
      it(`net/http client (${BUILDS[variant]}, ${proto === 'h1' ? 'HTTP/1.1' : 'HTTP/2'}): the llm events of curl's calls over HTTP/1.1, no key, ssl events with the connection`, async () => {
        const r = await record(`go-${variant}-${proto}`, [bins[variant]!, '-proto', proto, '-base', s.url, '-calls', callsFile]);
        const want = proto === 'h2' ? 'HTTP/2.0' : 'HTTP/1.1';
        expect(r.stdout.trim().split('\n')).toEqual(CALLS.map(() => expect.stringMatching(new RegExp(`^200 ${want.replace('.', '\\.')} \\d+$`))));
        noKeys(r.file, proto === 'h2' ? CALLS[0].path : undefined);
        const llm = r.events.filter((e) => e.source === 'llm');
        // the same calls by curl over HTTP/1.1, and over this client's HTTP version
        expect(llm.map(comparable)).toEqual((await curlCalls('--http1.1')).map(comparable));
        if (proto === 'h2') expect(llm.map(comparable)).toEqual((await curlCalls('--http2')).map(comparable));
        const req = r.events.filter((e) => e.source === 'http' && e.data.type === 'request');
        expect(req.map((e) => [e.data.method, e.data.path, e.data.version])).toEqual(CALLS.map((c) => ['POST', c.path, proto === 'h2' ? '2' : '1.1']));
        const ssl = r.events.filter((e) => e.source === 'ssl');
        expect(ssl.length).toBeGreaterThan(0);
        const port = Number(new URL(s.url).port);
        for (const e of ssl) {
          expect(e.data).toMatchObject({ library: 'go', remote_addr: '127.0.0.1', remote_port: port, fd: expect.any(Number) });
          expect(e.data.truncated).toBe(false);
        }
        // one TLS connection carries every call, and its first write is the request (HTTP/1.1) or the preface (HTTP/2)
        expect(new Set(ssl.map((e) => e.data.conn_id)).size).toBe(1);
        const first = ssl.find((e) => e.data.function === 'WRITE/SEND')!;
        const head = proto === 'h2' ? 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n' : `POST ${CALLS[0].path} HTTP/1.1\r\n`;
        expect(payload(first).slice(0, head.length)).toBe(head);
      }, 120_000);
    }
  }

  it('HTTP/2 with masking off: the keys are in the raw bytes, Huffman-coded (what the search for them above finds)', async () => {
    const r = await record('go-h2-unmasked', [bins.stripped!, '-proto', 'h2', '-base', s.url, '-calls', callsFile], ['--disable-auth-removal']);
    const raw = Buffer.concat(r.events.filter((e) => e.source === 'ssl').map((e) => Buffer.from(payload(e), 'latin1')));
    expect(raw.includes(Buffer.from(TEST_ANTHROPIC_API_KEY, 'latin1'))).toBe(false);
    expect(raw.includes(huffmanLiteral(TEST_ANTHROPIC_API_KEY))).toBe(true);
    expect(raw.includes(huffmanLiteral(`Bearer ${TEST_OPENAI_API_KEY}`))).toBe(true);
  }, 120_000);

  it('a read into a buffer on a goroutine stack that moves during the call (the handshake grows it) is read where the buffer went', async () => {
    const cert = makeCert();
    try {
      const srv = await startGoServer(server, cert, 'greet', 1);
      // the 20 bytes are not HTTP: the parser says it left them out
      const r = await record(
        'go-stackbuf',
        [bins.stripped!, '-stackbuf', `127.0.0.1:${srv.port}`],
        [],
        { SSL_CERT_FILE: cert.certFile },
        'agentsight: WARNING: analyzers left out: http_parser.bytes_discarded=20 (see docs/events.md, loss counters)\n',
      );
      await srv.exited;
      // the program says whether the buffer moved: the test is only meaningful if it did
      expect(r.stdout.trim()).toBe('"HELLO FROM GO\\r\\n" moved=true');
      const ssl = r.events.filter((e) => e.source === 'ssl');
      expect(ssl.map((e) => [e.data.function, e.data.data, e.data.remote_port])).toEqual([
        ['READ/RECV', 'HELLO FROM GO\r\n', srv.port],
        ['WRITE/SEND', 'BYE\r\n', srv.port],
      ]);
    } finally {
      cert.dispose();
    }
  }, 120_000);

  it('a call over the per-call cap is cut there, flagged and counted', async () => {
    const big = 'x'.repeat(200_000);
    const file = path.join(dir, 'big.json');
    fs.writeFileSync(file, JSON.stringify([{ path: '/v1/messages', headers: CALLS[1].headers, body: { ...(CALLS[1].body as object), system: big } }]));
    const r = await record(
      'go-cap',
      [bins.plain!, '-proto', 'h1', '-base', s.url, '-calls', file],
      ['--max-bytes', '4096'],
      {},
      // the parser got the request cut as well
      /^agentsight: WARNING: \d+ record\(s\) lost or truncated: ssl\.ssl_calls_truncated=\d+, ssl\.ssl_bytes_lost=\d+\nagentsight: WARNING: analyzers left out: http_parser\.bodies_truncated=1, http_parser\.body_bytes_dropped=\d+ \(see docs\/events\.md, loss counters\)\n$/,
    );
    const writes = r.events.filter((e) => e.source === 'ssl' && e.data.function === 'WRITE/SEND');
    const cut = writes.filter((e) => e.data.truncated);
    expect(cut.length).toBeGreaterThan(0);
    for (const e of cut) expect({ lost: e.data.bytes_lost, kept: payload(e).length }).toEqual({ lost: e.data.len - 4096, kept: 4096 });
    for (const e of writes.filter((w) => !w.data.truncated)) expect(e.data.len).toBeLessThanOrEqual(4096);
    // the whole request went through the probed writes: what was kept and what was cut add up to more than the body
    const total = writes.reduce((n, e) => n + e.data.len, 0);
    expect(total).toBeGreaterThan(big.length);
    const lost = cut.reduce((n, e) => n + e.data.bytes_lost, 0);
    const fin = r.events.find((e) => e.source === 'stats' && e.data.event === 'FINAL' && e.data.tracer === 'ssl')!;
    expect(fin.data.kernel).toMatchObject({ ssl_calls_truncated: cut.length, ssl_bytes_lost: lost });
    noKeys(r.file);
  }, 120_000);

  it('a Go TLS server (HTTP/1.1 and HTTP/2) traced while curl calls it: the requests it read and the answers it wrote', async () => {
    const cert = makeCert();
    try {
      const file = path.join(dir, 'go-server.ndjson');
      const cli = runCli(['record', '-q', '--raw-ssl', '-o', file, '--', server, ...goServerArgs(cert, 'https', 2)]);
      const port = await portFrom(cli);
      for (const v of ['--http1.1', '--http2']) {
        const c = await run('curl', ['-sS', v, '--cacert', cert.certFile, '-d', `{"hello":"${v}"}`, `https://127.0.0.1:${port}/v1/echo`]);
        expect(c.code).toBe(0);
        expect(JSON.parse(c.stdout)).toEqual({ got: v.length + 12, echo: `{"hello":"${v}"}`, proto: v === '--http2' ? 'HTTP/2.0' : 'HTTP/1.1' });
      }
      expect((await cli.exited).code).toBe(0);
      const events = readEvents(file);
      const ssl = events.filter((e) => e.source === 'ssl');
      for (const e of ssl) expect(e.data).toMatchObject({ library: 'go', local_port: port, fd: expect.any(Number) });
      const reads = ssl.filter((e) => e.data.function === 'READ/RECV').map(payload);
      const writes = ssl.filter((e) => e.data.function === 'WRITE/SEND').map(payload);
      expect(reads.some((d) => d.startsWith('POST /v1/echo HTTP/1.1\r\n') && d.includes('{"hello":"--http1.1"}'))).toBe(true);
      expect(reads.some((d) => d.startsWith('PRI * HTTP/2.0\r\n'))).toBe(true);
      expect(reads.join('')).toContain('{"hello":"--http2"}');
      expect(writes.some((d) => d.startsWith('HTTP/1.1 200 OK\r\n') && d.includes('"proto":"HTTP/1.1"'))).toBe(true);
      expect(writes.join('')).toContain('"proto":"HTTP/2.0"');
      const http = events.filter((e) => e.source === 'http');
      expect(http.filter((e) => e.data.type === 'request').map((e) => [e.data.method, e.data.path, e.data.version])).toEqual([
        ['POST', '/v1/echo', '1.1'],
        ['POST', '/v1/echo', '2'],
      ]);
    } finally {
      cert.dispose();
    }
  }, 120_000);

  it('a Write on a connection the peer resets during the call: the event still has the connection (a closed socket has released its port)', async () => {
    const cert = makeCert();
    try {
      const file = path.join(dir, 'go-reset.ndjson');
      const cli = runCli(['record', '-q', '--raw-ssl', '--max-bytes', '4096', '-o', file, '--', server, ...goServerArgs(cert, 'flood', 1)]);
      const port = await portFrom(cli);
      // read a little of the 16 MiB, then close with unread data and SO_LINGER 0: a reset while the server is inside its Write
      const py = [
        'import socket, ssl, struct, sys',
        'ctx = ssl.create_default_context(cafile=sys.argv[2])',
        "s = ctx.wrap_socket(socket.create_connection(('127.0.0.1', int(sys.argv[1]))), server_hostname='127.0.0.1')",
        'got = 0',
        'while got < 65536: got += len(s.recv(65536))',
        "s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))",
        's.close()',
      ].join('\n');
      const c = await run('python3', ['-c', py, String(port), cert.certFile]);
      expect(c.stderr).toBe('');
      expect(c.code).toBe(0);
      expect((await cli.exited).code).toBe(0);
      expect(cli.stderr()).toMatch(/flood: wrote \d+, .*(reset|broken pipe)/);
      const wrote = Number(/flood: wrote (\d+)/.exec(cli.stderr())![1]);
      expect(wrote).toBeGreaterThan(0);
      const writes = readEvents(file).filter((e) => e.source === 'ssl' && e.data.function === 'WRITE/SEND');
      expect(writes.map((e) => [e.data.len, e.data.local_port, e.data.fd >= 0])).toEqual([[wrote, port, true]]);
    } finally {
      cert.dispose();
    }
  }, 120_000);

  it('per-function perf links and the sys_enter socket hook (older kernels): every call, with its socket', async () => {
    const bin = bins.stripped!;
    const a = await analyzeGoTls(bin);
    if (!a.go || !a.tls || !a.supported) throw new Error(`not probed: ${JSON.stringify(a)}`);
    const t = await SslTracer.start({ statsIntervalMs: 0, binaryPaths: [bin], systemLibraries: false, uprobeLinks: 'perf', socketHook: 'syscall' });
    const col = new Collector(t.events());
    let pid = 0;
    try {
      // one entry probe per function, one return probe per RET instruction
      expect(t.targets().find((x) => x.library === 'go')?.links).toBe(a.functions.reduce((n, f) => n + 1 + f.returns.length, 0));
      const c = await spawnRun(bin, ['-proto', 'h1', '-base', s.url, '-calls', callsFile], { env: clientEnv(s) });
      expect({ code: c.code, stderr: c.stderr }).toEqual({ code: 0, stderr: '' });
      pid = c.pid;
      await col.waitFor((e) => e.source === 'ssl' && e.pid === pid && payload(e as Ev).includes('"type":"message_stop"'), 10_000, 'the last answer');
    } finally {
      t.stop();
      await col.done;
    }
    const ssl = col.of((e) => e.source === 'ssl' && e.pid === pid) as Ev[];
    expect(ssl.filter((e) => e.data.function === 'WRITE/SEND' && payload(e).startsWith('POST /v1/')).length).toBe(CALLS.length);
    const port = Number(new URL(s.url).port);
    for (const e of ssl) expect(e.data).toMatchObject({ library: 'go', fd: expect.any(Number), remote_port: port });
  }, 120_000);

  it('a Read begun before the probes were attached: its return is counted (go_returns_unpaired), the calls after it are captured', async () => {
    const cert = makeCert();
    try {
      const srv = await startGoServer(server, cert, 'https', 1);
      // the TLS handshake happens inside the server's first (*Conn).Read, which then waits for the request
      const sock = tls.connect({ host: '127.0.0.1', port: srv.port, ca: fs.readFileSync(cert.certFile), ALPNProtocols: ['http/1.1'], servername: 'localhost' });
      await new Promise<void>((resolve, reject) => sock.once('secureConnect', resolve).once('error', reject));
      const t = await SslTracer.start({ statsIntervalMs: 0, binaryPaths: [server], systemLibraries: false });
      const col = new Collector(t.events());
      let answer = '';
      try {
        const body = '{"late":true}';
        sock.on('data', (d: Buffer) => (answer += d.toString('latin1')));
        sock.write(`POST /v1/echo HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
        await col.waitFor((e) => e.source === 'ssl' && e.pid === srv.pid && payload(e as Ev).startsWith('HTTP/1.1 200 OK\r\n'), 10_000, 'the answer');
      } finally {
        sock.end();
        await srv.exited;
        t.stop();
        await col.done;
      }
      expect(answer).toContain('"echo":"{\\"late\\":true}"');
      const ssl = col.of((e) => e.source === 'ssl' && e.pid === srv.pid) as Ev[];
      // the request's Read returned with no entry: not reported, counted
      expect(ssl.filter((e) => payload(e).startsWith('POST /v1/echo'))).toEqual([]);
      expect(ssl.filter((e) => e.data.function === 'WRITE/SEND').length).toBeGreaterThan(0);
      const fin = col.events.findLast((e) => e.source === 'stats' && (e as Ev).data.event === 'FINAL') as Ev;
      expect(fin.data.kernel.go_returns_unpaired).toBe(1);
    } finally {
      cert.dispose();
    }
  }, 120_000);

  describe('agentsight ssl', () => {
    it('--binary-path of a stripped Go client and --comm: its calls as ssl events', async () => {
      const cli = runCli(['ssl', '--comm', path.basename(bins.stripped!).slice(0, 15), '--binary-path', bins.stripped!, '--format', 'json']);
      await cli.ready;
      const c = await run(bins.stripped!, ['-proto', 'h1', '-base', s.url, '-calls', callsFile], { env: clientEnv(s) });
      expect(c.code).toBe(0);
      // SIGINT drains what the kernel delivered
      cli.child.kill('SIGINT');
      expect((await cli.exited).code).toBe(0);
      const events = cli
        .stdout()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Ev);
      const ssl = events.filter((e) => e.source === 'ssl');
      const writes = ssl.filter((e) => e.data.function === 'WRITE/SEND').map(payload);
      expect(writes.filter((d) => d.startsWith('POST /v1/')).length).toBe(CALLS.length);
      for (const e of ssl) expect(e.data.library).toBe('go');
      const text = cli.stdout();
      expect(text).not.toContain(TEST_ANTHROPIC_API_KEY.slice(10, 40));
      expect(text).not.toContain(TEST_OPENAI_API_KEY.slice(10, 40));
    }, 120_000);
  });
});

/** The port a Go server printed first on the stdout of agentsight record (the command's stdout is record's). */
function portFrom(cli: ReturnType<typeof runCli>): Promise<number> {
  return new Promise((resolve, reject) => {
    const t = setInterval(() => {
      const m = /^(\d+)\n/.exec(cli.stdout());
      if (m) {
        clearInterval(t);
        resolve(Number(m[1]));
      }
    }, 20);
    void cli.exited.then(() => {
      clearInterval(t);
      reject(new Error(`agentsight record exited before the server printed its port:\n${cli.stderr()}`));
    });
  });
}

/** The Go test server's arguments (test/support/go/server). */
function goServerArgs(cert: TestCert, mode: 'greet' | 'https' | 'flood', n: number): string[] {
  return ['-cert', cert.certFile, '-key', path.join(cert.dir, 'key.pem'), '-mode', mode, '-n', String(n)];
}

/** A Go server run directly (not traced). */
async function startGoServer(
  bin: string,
  cert: TestCert,
  mode: 'greet' | 'https',
  n: number,
): Promise<{ port: number; pid: number; exited: Promise<unknown> }> {
  const { spawn } = await import('node:child_process');
  const child = spawn(bin, goServerArgs(cert, mode, n), {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise((r) => child.on('exit', r));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = /^(\d+)\n/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.on('exit', (code) => reject(new Error(`the Go server exited (${code}) before printing its port`)));
  });
  return { port, pid: child.pid!, exited };
}
