import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Event } from '../../lib/core/event';
import { sslPayload } from '../../lib/core/payload';
import { SslTracer, type SslTracerOptions } from '../../lib/tracers/ssl-tracer';
import { Collector } from '../support/collect';
import { describePrivileged } from '../support/privileged';
import { execed, gatedShell, uniqueShell } from '../support/procs';
import { run } from '../support/spawn';
import { body, makeCert, startServer, type TestCert, type TestServer } from '../support/tls-server';

const PY = '/usr/bin/python3';
const isSsl = (pid: number, fn?: string) => (e: Event) => e.source === 'ssl' && e.pid === pid && (!fn || e.data.function === fn);
const bytesOf = (events: Event[]) => Buffer.concat(events.map(sslPayload));

let current: SslTracer | null = null;

async function traced(opts: SslTracerOptions, work: (col: Collector) => Promise<void>): Promise<Collector> {
  const t = await SslTracer.start({ statsIntervalMs: 0, ...opts });
  current = t;
  // the host's libssl must be probed before any client runs
  expect(t.targets().map((x) => x.path)).toContain('/usr/lib/x86_64-linux-gnu/libssl.so.3');
  // each probed once (the host's libraries are probed as soon as the object loads, then taken by the first pass):
  // the object's links are the targets' and the socket hook's
  const hooks = t.object.programs().filter((p) => p.autoload && /^ssl_(sock|sys)_/.test(p.name)).length;
  expect(t.object.linkCount()).toBe(t.targets().reduce((n, x) => n + x.links, 0) + hooks);
  expect(new Set(t.targets().map((x) => x.path)).size).toBe(t.targets().length);
  const col = new Collector(t.events());
  try {
    await work(col);
  } finally {
    t.stop();
    await col.done;
  }
  expect(col.error).toBeNull();
  return col;
}

/** Wait until the client's captured reads add up to n bytes. */
async function readsReach(col: Collector, pid: number, n: number): Promise<void> {
  const end = Date.now() + 10_000;
  while (bytesOf(col.of(isSsl(pid, 'READ/RECV'))).length < n) {
    if (Date.now() > end) {
      const st = current?.stats();
      throw new Error(
        `captured ${bytesOf(col.of(isSsl(pid, 'READ/RECV'))).length} of ${n} response bytes; ${col.of(isSsl(pid)).length} ssl events of pid ${pid}, ` +
          `${col.events.length} events in all; kernel ${JSON.stringify(st?.kernel)} ring ${JSON.stringify(st?.ring)} ` +
          `port_filtered ${st?.port_filtered} port_unknown ${st?.port_unknown}; events: ${JSON.stringify(col.events.map((e) => [e.source, e.pid, e.comm, e.data.function ?? e.data.event ?? e.data.type]))}`,
      );
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

function connOf(srv: TestServer, marker: string) {
  const c = srv.conns.find((x) => Buffer.concat(x.received).includes(marker));
  if (!c) throw new Error(`the server saw no request with ${marker}`);
  return { received: Buffer.concat(c.received), sent: Buffer.concat(c.sent), port: c.remotePort };
}

describePrivileged('TLS capture on the real kernel', () => {
  let cert: TestCert;
  let srv: TestServer;
  beforeAll(async () => {
    cert = makeCert();
    srv = await startServer(cert);
  });
  afterAll(async () => {
    await srv.close();
    cert.dispose();
  });

  function expectExactExchange(col: Collector, pid: number, marker: string, lib = 'openssl') {
    const conn = connOf(srv, marker);
    const writes = col.of(isSsl(pid, 'WRITE/SEND'));
    const reads = col.of(isSsl(pid, 'READ/RECV'));
    expect(bytesOf(writes).equals(conn.received)).toBe(true);
    expect(bytesOf(reads).equals(conn.sent)).toBe(true);
    const ids = new Set([...writes, ...reads].map((e) => e.data.conn_id));
    expect(ids.size).toBe(1);
    expect([...ids][0]).toMatch(new RegExp(`^${pid}:0x[0-9a-f]+$`));
    for (const e of [...writes, ...reads]) {
      expect(e.data).toMatchObject({ pid, tid: pid, library: lib, truncated: false, bytes_lost: 0 });
      expect(e.data.len).toBe(sslPayload(e).length);
      expect(e.data.latency_ms).toBeGreaterThanOrEqual(0);
    }
    return { conn, writes, reads };
  }

  it('curl (system libssl, SSL_write/SSL_read): exact request and response bytes, direction, pid, tid, connection, socket', async () => {
    let pid = 0;
    const col = await traced({}, async (c) => {
      const r = await run('curl', ['-s', '--cacert', cert.certFile, '-d', 'hello-from-curl', `https://localhost:${srv.port}/echo?curl`]);
      expect(r.code).toBe(0);
      pid = r.pid;
      await readsReach(c, pid, connOf(srv, '/echo?curl').sent.length);
    });
    const { writes, conn } = expectExactExchange(col, pid, '/echo?curl');
    expect(sslPayload(writes[0]).toString()).toMatch(/^POST \/echo\?curl HTTP\/1\.1\r\n/);
    expect(writes[0].comm).toBe('curl');
    expect(writes[0].data).toMatchObject({ local_addr: '127.0.0.1', remote_addr: '127.0.0.1', remote_port: srv.port, local_port: conn.port });
    expect(writes[0].data.fd).toBeGreaterThan(2);
  });

  it('python3 urllib (libssl via SSL_write_ex/SSL_read_ex): exact bytes with the right direction', async () => {
    let pid = 0;
    const col = await traced({}, async (c) => {
      const code = `import urllib.request,ssl; c=ssl.create_default_context(cafile='${cert.certFile}'); print(urllib.request.urlopen(urllib.request.Request('https://localhost:${srv.port}/echo?python', data=b'hello-from-python'), context=c).read())`;
      const r = await run(PY, ['-c', code]);
      expect(r.stderr).toBe('');
      pid = r.pid;
      await readsReach(c, pid, connOf(srv, '/echo?python').sent.length);
    });
    const { writes, reads } = expectExactExchange(col, pid, '/echo?python');
    expect(sslPayload(writes[0]).toString()).toMatch(/^POST \/echo\?python HTTP\/1\.1\r\n/);
    expect(sslPayload(reads[0]).toString()).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(writes[0].data.remote_port).toBe(srv.port);
  });

  it('node https (OpenSSL linked into the node executable): exact bytes', async () => {
    let pid = 0;
    const col = await traced({}, async (c) => {
      const code = `const https=require('https'); const r=https.request('https://localhost:${srv.port}/echo?node',{method:'POST',ca:require('fs').readFileSync('${cert.certFile}')},res=>{res.resume(); res.on('end',()=>process.exit(0))}); r.end('hello-from-node');`;
      const r = await run(process.execPath, ['-e', code]);
      expect(r.code).toBe(0);
      pid = r.pid;
      await readsReach(c, pid, connOf(srv, '/echo?node').sent.length);
    });
    const { writes, reads, conn } = expectExactExchange(col, pid, '/echo?node');
    expect(writes[0].comm).toBe('node');
    // node does TLS in memory and uses the socket outside its SSL calls: the socket is the one its
    // thread received on just before SSL_read (the handshake's), so even the first request has it
    for (const e of [...writes, ...reads])
      expect(e.data).toMatchObject({ local_addr: '127.0.0.1', local_port: conn.port, remote_addr: '127.0.0.1', remote_port: srv.port });
    expect(writes[0].data.fd).toBeGreaterThan(2);
  });

  it('node: a receive on a plain socket just before a new TLS connection is not taken for that connection', async () => {
    const plain = net.createServer((c) => c.end('plain hello'));
    await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r));
    const plainPort = (plain.address() as net.AddressInfo).port;
    const N = 12;
    try {
      let pid = 0;
      const col = await traced({}, async (c) => {
        // each TLS connection starts in the callback of a plain receive, on the same thread, soon after
        const code =
          `const ca=require('fs').readFileSync('${cert.certFile}'); const https=require('https'), net=require('net');` +
          `function round(i){ if(i===${N}) process.exit(0); let once=false;` +
          `net.connect(${plainPort},'127.0.0.1').on('data',()=>{ if(once) return; once=true;` +
          `https.request({host:'127.0.0.1',servername:'localhost',port:${srv.port},path:'/echo?after-plain-'+i,method:'POST',ca,agent:false},` +
          `res=>{res.resume(); res.on('end',()=>round(i+1))}).end('x'); }); }` +
          `round(0);`;
        const r = await run(process.execPath, ['-e', code]);
        expect(r.code).toBe(0);
        pid = r.pid;
        await readsReach(c, pid, connOf(srv, `/echo?after-plain-${N - 1}`).sent.length);
      });
      const ssl = col.of(isSsl(pid));
      for (let i = 0; i < N; i++) {
        const conn = connOf(srv, `/echo?after-plain-${i} `);
        const mine = ssl.filter((e) => e.data.local_port === conn.port);
        expect(bytesOf(mine.filter((e) => e.data.function === 'WRITE/SEND')).equals(conn.received)).toBe(true);
        expect(bytesOf(mine.filter((e) => e.data.function === 'READ/RECV')).equals(conn.sent)).toBe(true);
      }
      // every event has the socket of its own TLS connection, none the plain socket's
      for (const e of ssl) expect(e.data.remote_port).toBe(srv.port);
    } finally {
      await new Promise((r) => plain.close(r));
    }
  });

  it('GnuTLS (gnutls-cli) and NSS (tstclnt): exact bytes', async () => {
    const nssdb = fs.mkdtempSync(path.join(os.tmpdir(), 'agentsight-nss-'));
    try {
      await run('certutil', ['-N', '-d', `sql:${nssdb}`, '--empty-password']);
      await run('certutil', ['-A', '-d', `sql:${nssdb}`, '-n', 'local', '-t', 'C,,', '-i', cert.certFile]);
      let g = 0;
      let n = 0;
      const col = await traced({}, async (c) => {
        const req = (p: string) => `GET ${p} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`;
        const gr = await run('gnutls-cli', ['--x509cafile', cert.certFile, '-p', String(srv.port), 'localhost'], { input: req('/gnutls') });
        g = gr.pid;
        const nr = await run('tstclnt', ['-h', '127.0.0.1', '-p', String(srv.port), '-d', `sql:${nssdb}`, '-a', 'localhost'], { input: req('/nss') });
        n = nr.pid;
        await readsReach(c, g, connOf(srv, '/gnutls').sent.length);
        await readsReach(c, n, connOf(srv, '/nss').sent.length);
      });
      expect(bytesOf(col.of(isSsl(g, 'WRITE/SEND'))).equals(connOf(srv, '/gnutls').received)).toBe(true);
      expect(bytesOf(col.of(isSsl(g, 'READ/RECV'))).equals(connOf(srv, '/gnutls').sent)).toBe(true);
      expect(col.of(isSsl(g)).every((e) => e.data.library === 'gnutls')).toBe(true);
      // NSPR's PR_Write/PR_Read also carry non-TLS I/O of the process: compare the TLS connection's bytes
      const nssWrites = col.of(isSsl(n, 'WRITE/SEND')).filter((e) => sslPayload(e).includes('GET /nss'));
      expect(nssWrites.length).toBe(1);
      expect(bytesOf(nssWrites).equals(connOf(srv, '/nss').received)).toBe(true);
      const conn = nssWrites[0].data.conn_id;
      expect(bytesOf(col.of((e) => isSsl(n, 'READ/RECV')(e) && e.data.conn_id === conn)).equals(connOf(srv, '/nss').sent)).toBe(true);
      expect(nssWrites[0].data.library).toBe('nss');
    } finally {
      fs.rmSync(nssdb, { recursive: true, force: true });
    }
  });

  it('a 1 MiB request body and a 1 MiB response arrive complete and byte-identical', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentsight-big-'));
    const file = path.join(dir, 'body');
    fs.writeFileSync(file, body(1 << 20, 'request'));
    let up = 0;
    let down = 0;
    try {
      const col = await traced({}, async (c) => {
        const r1 = await run('curl', ['-s', '--cacert', cert.certFile, '--data-binary', `@${file}`, `https://localhost:${srv.port}/echo?big-up`]);
        up = r1.pid;
        const r2 = await run(PY, [
          '-c',
          `import urllib.request,ssl; c=ssl.create_default_context(cafile='${cert.certFile}'); urllib.request.urlopen('https://localhost:${srv.port}/big?n=1048576&py', context=c).read()`,
        ]);
        down = r2.pid;
        await readsReach(c, up, connOf(srv, '/echo?big-up').sent.length);
        await readsReach(c, down, connOf(srv, 'big?n=1048576&py').sent.length);
      });
      const upConn = connOf(srv, '/echo?big-up');
      expect(bytesOf(col.of(isSsl(up, 'WRITE/SEND'))).equals(upConn.received)).toBe(true);
      expect(bytesOf(col.of(isSsl(up, 'READ/RECV'))).equals(upConn.sent)).toBe(true);
      expect(upConn.received.length).toBeGreaterThan(1 << 20);
      const downConn = connOf(srv, 'big?n=1048576&py');
      expect(bytesOf(col.of(isSsl(down, 'READ/RECV'))).equals(downConn.sent)).toBe(true);
      expect(col.of((e) => e.source === 'ssl' && e.data.truncated)).toEqual([]);
      expect(col.events.at(-1)?.data.kernel).toEqual({});
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('filters', () => {
    it('--pid includes the process and its descendants and excludes the rest', async () => {
      const sh = gatedShell('/bin/sh', `curl -s --cacert ${cert.certFile} https://localhost:${srv.port}/pid-in >/dev/null`);
      let outside = 0;
      const col = await traced({ pid: [sh.pid as number] }, async (c) => {
        outside = (await run('curl', ['-s', '--cacert', cert.certFile, `https://localhost:${srv.port}/pid-out`])).pid;
        sh.release();
        await sh.exited;
        await c.waitFor((e) => e.source === 'ssl' && e.data.function === 'READ/RECV');
      });
      const ssl = col.of((e) => e.source === 'ssl');
      expect(ssl.some((e) => sslPayload(e).includes('/pid-in'))).toBe(true);
      expect(ssl.some((e) => e.pid === outside)).toBe(false);
      expect(ssl.every((e) => e.pid !== process.pid)).toBe(true);
    });

    it('--comm matches the process name (not a thread name), for processes started later', async () => {
      const shell = uniqueShell('astls');
      try {
        let other = 0;
        let inside = 0;
        const col = await traced({ comm: [shell.name] }, async (c) => {
          other = (await run('curl', ['-s', '--cacert', cert.certFile, `https://localhost:${srv.port}/comm-out`])).pid;
          // a node client inside the selected shell: TLS on the main thread of a process named "node"
          const r = await run(shell.path, ['-c', `curl -s --cacert ${cert.certFile} https://localhost:${srv.port}/comm-in`]);
          inside = r.pid;
          await c.waitFor((e) => e.source === 'ssl' && e.data.function === 'READ/RECV');
        });
        const ssl = col.of((e) => e.source === 'ssl');
        expect(ssl.some((e) => sslPayload(e).includes('/comm-in'))).toBe(true);
        expect(ssl.some((e) => e.pid === other)).toBe(false);
        expect(inside).toBeGreaterThan(0);
      } finally {
        shell.dispose();
      }
    });

    it('--uid includes only that user', async () => {
      let nobody = 0;
      let root = 0;
      const col = await traced({ uid: 65534 }, async (c) => {
        root = (await run('curl', ['-s', '--cacert', cert.certFile, `https://localhost:${srv.port}/uid-root`])).pid;
        const r = await run('setpriv', [
          '--reuid=65534',
          '--regid=65534',
          '--clear-groups',
          'curl',
          '-s',
          '--cacert',
          cert.certFile,
          `https://localhost:${srv.port}/uid-nobody`,
        ]);
        expect(r.code).toBe(0);
        nobody = r.pid;
        await c.waitFor(isSsl(nobody, 'READ/RECV'));
      });
      expect(col.of(isSsl(nobody)).every((e) => e.data.uid === 65534)).toBe(true);
      expect(col.of(isSsl(root))).toEqual([]);
    });

    it('--port keeps connections on that port only and counts what it dropped', async () => {
      const other = await startServer(cert);
      // only our clients are selected (by the name of the shell they are exec'd from): TLS traffic of anything
      // else running on the machine meanwhile neither passes nor counts
      const shell = uniqueShell('asport');
      const under = (cmd: string, ...args: string[]) => run(shell.path, ['-c', 'exec "$@"', 'sh', cmd, ...args]);
      try {
        // node's own OpenSSL is probed from the start (--binary-path), not when the node client execs: no race with its first calls
        const t = await SslTracer.start({ statsIntervalMs: 0, port: [other.port], comm: [shell.name], binaryPaths: [process.execPath] });
        current = t;
        const col = new Collector(t.events());
        const pid = (await under('curl', '-s', '--cacert', cert.certFile, `https://localhost:${srv.port}/port-a`, `https://localhost:${other.port}/port-b`))
          .pid;
        // node (TLS in memory, socket I/O outside its SSL calls) is selected by port too
        const get = (port: number, p: string) =>
          `await new Promise((ok,ko)=>require('https').get('https://localhost:${port}${p}',{ca},r=>{r.resume();r.on('end',ok)}).on('error',ko));`;
        const code = `const ca=require('fs').readFileSync('${cert.certFile}'); (async()=>{${get(srv.port, '/node-port-a')}${get(other.port, '/node-port-b')}})()`;
        const npid = (await under(process.execPath, '-e', code)).pid;
        await readsReach(col, pid, connOf(other, '/port-b').sent.length);
        await readsReach(col, npid, connOf(other, '/node-port-b').sent.length);
        const { port_filtered: filtered, port_unknown: unknown } = t.stats();
        t.stop();
        await col.done;
        for (const [p, a, b] of [
          [pid, '/port-a', '/port-b'],
          [npid, '/node-port-a', '/node-port-b'],
        ] as const) {
          const mine = col.of(isSsl(p));
          expect(mine.length).toBeGreaterThan(0);
          expect(mine.every((e) => e.data.remote_port === other.port)).toBe(true);
          expect(mine.some((e) => sslPayload(e).includes(a))).toBe(false);
          expect(bytesOf(col.of(isSsl(p, 'WRITE/SEND'))).equals(connOf(other, b).received)).toBe(true);
        }
        // nothing but our two clients was traced, and the calls on the other port were counted, not passed
        expect(col.of((e) => e.source === 'ssl' && e.pid !== pid && e.pid !== npid)).toEqual([]);
        expect(filtered).toBeGreaterThanOrEqual(4);
        expect(unknown).toBe(0);
      } finally {
        shell.dispose();
        await other.close();
      }
    });
  });

  it('handshakes are reported only with handshake: true', async () => {
    let a = 0;
    let b = 0;
    const without = await traced({}, async (c) => {
      a = (await run('curl', ['-s', '--cacert', cert.certFile, `https://localhost:${srv.port}/hs-a`])).pid;
      await c.waitFor(isSsl(a, 'READ/RECV'));
    });
    expect(without.of(isSsl(a, 'HANDSHAKE'))).toEqual([]);
    const withHs = await traced({ handshake: true }, async (c) => {
      b = (await run('curl', ['-s', '--cacert', cert.certFile, `https://localhost:${srv.port}/hs-b`])).pid;
      await c.waitFor(isSsl(b, 'READ/RECV'));
    });
    const hs = withHs.of(isSsl(b, 'HANDSHAKE'));
    expect(hs.length).toBeGreaterThan(0);
    expect(hs[0].data).toMatchObject({ len: 0, data: '' });
    expect(hs.some((e) => e.data.ret === 1)).toBe(true);
  });

  it('a tiny ring buffer under load reports drops and lost bytes instead of losing them silently', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentsight-big-'));
    const file = path.join(dir, 'body');
    fs.writeFileSync(file, body(256 << 10, 'flood'));
    try {
      const col = await traced({ ringBytes: 64 << 10 }, async () => {
        const r = await run('curl', ['-s', '--cacert', cert.certFile, '--data-binary', `@${file}`, `https://localhost:${srv.port}/echo?flood`]);
        expect(r.code).toBe(0);
        await new Promise((res) => setTimeout(res, 200));
      });
      const final = col.events.at(-1);
      expect(final?.data.event).toBe('FINAL');
      expect(final?.data.kernel.ringbuf_full_ssl).toBeGreaterThan(0);
      expect(final?.data.kernel.ssl_bytes_lost).toBeGreaterThanOrEqual(256 << 10);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the per-call cap truncates and says how much was lost', async () => {
    let pid = 0;
    const col = await traced({ maxBytes: 1000 }, async (c) => {
      pid = (await run('curl', ['-s', '--cacert', cert.certFile, `https://localhost:${srv.port}/big?n=50000&cap`])).pid;
      await c.waitFor(isSsl(pid, 'READ/RECV'));
      await new Promise((r) => setTimeout(r, 100));
    });
    const reads = col.of(isSsl(pid, 'READ/RECV'));
    const cut = reads.filter((e) => e.data.truncated);
    expect(cut.length).toBeGreaterThan(0);
    for (const e of cut) {
      expect(sslPayload(e).length).toBe(1000);
      expect(e.data.bytes_lost).toBe(e.data.len - 1000);
    }
    // other processes' long calls are cut too while this runs: the counter covers at least curl's
    expect(col.events.at(-1)?.data.kernel.ssl_calls_truncated).toBeGreaterThanOrEqual(cut.length);
  });
});

describePrivileged('TLS discovery on the real kernel', () => {
  let cert: TestCert;
  let srv: TestServer;
  beforeAll(async () => {
    cert = makeCert();
    srv = await startServer(cert);
  });
  afterAll(async () => {
    await srv.close();
    cert.dispose();
  });

  /** A Python client that loads libssl (import ssl), then waits for a line on stdin before its request. */
  const pyClient = (tag: string) =>
    `import sys,urllib.request,ssl; sys.stdin.readline(); c=ssl.create_default_context(cafile='${cert.certFile}'); urllib.request.urlopen('https://localhost:${srv.port}/${tag}', context=c).read()`;
  /** Resolves when the tracer has attached to a file matching `match` (the ready signal of discovery); fails after 30 s. */
  const attachedTo = (t: SslTracer, match: (a: { path: string; via: string }) => boolean) =>
    new Promise<void>((resolve, reject) => {
      if (t.targets().some(match)) return resolve();
      const timer = setTimeout(() => reject(new Error(`not probed within 30 s; probed: ${JSON.stringify(t.targets().map((x) => [x.path, x.via]))}`)), 30_000);
      const on = (a: { path: string; via: string }) => {
        if (!match(a)) return;
        t.off('attached', on);
        clearTimeout(timer);
        resolve();
      };
      t.on('attached', on);
    });

  it('per-function perf links (kernels without uprobe_multi) capture the same bytes', async () => {
    const t = await SslTracer.start({ statsIntervalMs: 0, uprobeLinks: 'perf' });
    expect(t.multiLinks).toBe(false);
    // an entry and a return probe per function, SSL_free only an entry probe
    expect(t.targets().find((x) => x.path.endsWith('libssl.so.3'))?.links).toBe(11);
    const col = new Collector(t.events());
    const r = await run('curl', ['-s', '--cacert', cert.certFile, `https://localhost:${srv.port}/perf-links`]);
    await readsReach(col, r.pid, connOf(srv, '/perf-links').sent.length);
    t.stop();
    await col.done;
    expect(bytesOf(col.of(isSsl(r.pid, 'WRITE/SEND'))).equals(connOf(srv, '/perf-links').received)).toBe(true);
  });

  it.each(['sock', 'syscall'] as const)('socket hook "%s": the connection fd (a high one) and addresses', async (hook) => {
    const tag = `fd-${hook}`;
    // 1500 open fds first, so the socket's fd is far from the first ones
    const code = [
      'import os,socket,ssl',
      "hold=[os.open('/dev/null',os.O_RDONLY) for _ in range(1500)]",
      `c=ssl.create_default_context(cafile='${cert.certFile}')`,
      `s=c.wrap_socket(socket.create_connection(('127.0.0.1',${srv.port})),server_hostname='localhost')`,
      `s.sendall(b'GET /${tag} HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n')`,
      'while s.recv(65536): pass',
      'print(s.fileno())',
    ].join('\n');
    const t = await SslTracer.start({ statsIntervalMs: 0, socketHook: hook });
    const col = new Collector(t.events());
    const r = await run(PY, ['-c', code]);
    expect(r.stderr).toBe('');
    const fd = Number(r.stdout.toString().trim());
    expect(fd).toBeGreaterThan(1500);
    await readsReach(col, r.pid, connOf(srv, `/${tag}`).sent.length);
    t.stop();
    await col.done;
    const conn = connOf(srv, `/${tag}`);
    const mine = col.of(isSsl(r.pid));
    expect(mine.length).toBeGreaterThanOrEqual(2);
    for (const e of mine) {
      expect(e.data).toMatchObject({ fd, local_addr: '127.0.0.1', local_port: conn.port, remote_addr: '127.0.0.1', remote_port: srv.port });
    }
  });

  it('a libssl outside the system directories, loaded by a selected process after start, is found and probed', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentsight-lib-'));
    for (const l of ['libssl.so.3', 'libcrypto.so.3']) fs.copyFileSync(`/usr/lib/x86_64-linux-gnu/${l}`, path.join(dir, l));
    const shell = uniqueShell('aslib');
    try {
      let pid = 0;
      const t = await SslTracer.start({ statsIntervalMs: 0, comm: [shell.name] });
      const col = new Collector(t.events());
      // the client makes its request only once the private libssl is probed, however long discovery takes
      const probedLib = attachedTo(t, (a) => a.path === path.join(dir, 'libssl.so.3'));
      const r = await run(shell.path, ['-c', `exec env LD_LIBRARY_PATH=${dir} ${PY} -c "${pyClient('private-lib')}"`], { release: probedLib });
      expect(r.stderr).toBe('');
      pid = r.pid;
      await readsReach(col, pid, connOf(srv, '/private-lib').sent.length);
      const probed = t.targets().find((x) => x.path === path.join(dir, 'libssl.so.3'));
      t.stop();
      await col.done;
      expect(probed).toMatchObject({ library: 'openssl' });
      expect(bytesOf(col.of(isSsl(pid, 'WRITE/SEND'))).equals(connOf(srv, '/private-lib').received)).toBe(true);
    } finally {
      shell.dispose();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a process in another mount namespace (container-like) is probed through /proc/PID/root', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentsight-ns-'));
    const copy = path.join(dir, 'libssl.so.3');
    fs.copyFileSync('/usr/lib/x86_64-linux-gnu/libssl.so.3', copy);
    const shell = uniqueShell('asns');
    try {
      const t = await SslTracer.start({ statsIntervalMs: 0, comm: [shell.name] });
      const col = new Collector(t.events());
      const client = path.join(dir, 'client.py');
      fs.writeFileSync(client, pyClient('other-ns'));
      // A private mount namespace where the system libssl path is a different file.
      const script = `mount --bind ${copy} /usr/lib/x86_64-linux-gnu/libssl.so.3 && exec ${shell.path} -c 'exec ${PY} ${client}'`;
      const nsLib = (a: { path: string; via: string }) => /^(\/usr)?\/lib\/x86_64-linux-gnu\/libssl\.so\.3$/.test(a.path) && /pid \d+/.test(a.via);
      const r = await run('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script], { release: attachedTo(t, nsLib) });
      expect(r.stderr).toBe('');
      await col.waitFor((e) => e.source === 'ssl' && sslPayload(e).includes('/other-ns'));
      // the file the process sees at the system path (/lib is /usr/lib on merged-/usr systems), found in its namespace
      const probed = t.targets().find(nsLib);
      t.stop();
      await col.done;
      expect(probed?.via).toMatch(/mapped by pid|opened by pid/);
      const w = col.of((e) => e.source === 'ssl' && sslPayload(e).includes('/other-ns'));
      expect(w[0].data.function).toBe('WRITE/SEND');
    } finally {
      shell.dispose();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('says once, clearly, when a selected process has no TLS code', async () => {
    const shell = uniqueShell('asnotls');
    const sh = gatedShell(shell.path, 'sleep 0.2');
    try {
      await execed(sh.pid as number, shell.name);
      const t = await SslTracer.start({ statsIntervalMs: 0, comm: [shell.name] });
      const notices: string[] = [];
      t.on('notice', (m) => notices.push(m));
      const col = new Collector(t.events());
      sh.release();
      await sh.exited;
      await new Promise((r) => setTimeout(r, 100));
      t.stop();
      await col.done;
      const diag = col.of((e) => e.source === 'diagnostic');
      expect(diag).toHaveLength(1);
      expect(diag[0].data.message).toMatch(new RegExp(`no TLS code found in pid ${sh.pid} \\(${shell.name}`));
    } finally {
      shell.dispose();
    }
  });
});
