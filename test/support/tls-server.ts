/**
 * A local TLS server for the capture tests. It speaks enough HTTP/1.1 for
 * curl, python and node clients (keep-alive, Content-Length bodies) and keeps
 * the exact plaintext bytes it received and sent on every connection, so a
 * test can compare them with what the tracer captured.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';

export interface TestCert {
  dir: string;
  cert: string;
  key: string;
  certFile: string;
  dispose(): void;
}

/** A self-signed certificate for localhost/127.0.0.1 (EC P-256), in a private temp dir. */
export function makeCert(): TestCert {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentsight-cert-'));
  const keyFile = path.join(dir, 'key.pem');
  const certFile = path.join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-days',
      '2',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  fs.chmodSync(keyFile, 0o600);
  // the CA file must be readable by clients running as other users (the key stays private)
  fs.chmodSync(dir, 0o755);
  fs.chmodSync(certFile, 0o644);
  return {
    dir,
    certFile,
    cert: fs.readFileSync(certFile, 'utf8'),
    key: fs.readFileSync(keyFile, 'utf8'),
    dispose: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

export interface Conn {
  remotePort: number;
  received: Buffer[];
  sent: Buffer[];
}

export interface TestServer {
  port: number;
  conns: Conn[];
  close(): Promise<void>;
  /** all bytes received / sent on the connection from this client port */
  receivedFrom(port: number): Buffer;
  sentTo(port: number): Buffer;
}

/** Deterministic printable body of n bytes. */
export function body(n: number, seed = 'agentsight'): Buffer {
  const unit = Buffer.from(`${seed}:0123456789abcdefghijklmnopqrstuvwxyz-ABCDEFGHIJKLMNOPQRSTUVWXYZ\n`);
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i += unit.length) unit.copy(b, i, 0, Math.min(unit.length, n - i));
  return b;
}

function respond(req: string, reqBody: Buffer): Buffer {
  const [line] = req.split('\r\n');
  const target = line.split(' ')[1] ?? '/';
  const url = new URL(target, 'https://localhost');
  let payload: Buffer;
  if (url.pathname === '/echo') payload = reqBody;
  else if (url.pathname === '/big') payload = body(Number(url.searchParams.get('n') ?? 1024), 'response');
  else payload = Buffer.from(`hello ${url.pathname} ${reqBody.length}\n`);
  const head = `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${payload.length}\r\nX-Test: agentsight\r\n\r\n`;
  return Buffer.concat([Buffer.from(head), payload]);
}

export function startServer(cert: TestCert): Promise<TestServer> {
  const conns: Conn[] = [];
  const server = tls.createServer({ cert: cert.cert, key: cert.key }, (sock) => {
    const c: Conn = { remotePort: sock.remotePort ?? 0, received: [], sent: [] };
    conns.push(c);
    let buf = Buffer.alloc(0);
    sock.on('data', (d: Buffer) => {
      c.received.push(Buffer.from(d));
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.subarray(0, end).toString('latin1');
        const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
        const len = m ? Number(m[1]) : 0;
        if (buf.length < end + 4 + len) return;
        const reqBody = buf.subarray(end + 4, end + 4 + len);
        const out = respond(head, Buffer.from(reqBody));
        buf = buf.subarray(end + 4 + len);
        c.sent.push(out);
        sock.write(out);
        if (/\r\nconnection:\s*close/i.test(head)) sock.end();
      }
    });
    sock.on('error', () => undefined);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      const find = (p: number) => conns.filter((c) => c.remotePort === p);
      resolve({
        port,
        conns,
        close: () => new Promise((r) => server.close(() => r())),
        receivedFrom: (p) => Buffer.concat(find(p).flatMap((c) => c.received)),
        sentTo: (p) => Buffer.concat(find(p).flatMap((c) => c.sent)),
      });
    });
    server.unref();
  });
}
