/**
 * A TLS relay in front of a stand-in that keeps the plaintext of both
 * directions, in the order it passed: what a tracer sees of a client's TLS
 * calls. It presents the stand-in's own certificate, so clients configured
 * for the stand-in trust it.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { Standin } from '../../lib/standin';

export interface PlaintextRelay {
  /** `https://127.0.0.1:<port>` */
  url: string;
  /** Plaintext pieces in order; `client` ones were written by the client. */
  pieces: { from: 'client' | 'server'; bytes: Buffer }[];
  close(): Promise<void>;
}

export async function plaintextRelay(s: Standin): Promise<PlaintextRelay> {
  const pieces: PlaintextRelay['pieces'] = [];
  const sockets = new Set<net.Socket>();
  const server = tls.createServer({ key: s.tls.key, cert: s.tls.cert }, (down) => {
    const up = tls.connect({ host: '127.0.0.1', port: s.port, ca: s.tls.caCert, servername: 'localhost' });
    sockets.add(down);
    sockets.add(up);
    down.on('data', (d: Buffer) => {
      pieces.push({ from: 'client', bytes: Buffer.from(d) });
      up.write(d);
    });
    up.on('data', (d: Buffer) => {
      pieces.push({ from: 'server', bytes: Buffer.from(d) });
      down.write(d);
    });
    const end = () => {
      down.destroy();
      up.destroy();
    };
    down.on('close', end);
    up.on('close', end);
    down.on('error', end);
    up.on('error', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `https://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    pieces,
    close: () =>
      new Promise<void>((r) => {
        for (const so of sockets) so.destroy();
        server.close(() => r());
      }),
  };
}
