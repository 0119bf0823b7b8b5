/**
 * Real HTTP/2 bytes for tests: node's own http2 client and server talk
 * through a TCP relay that records what each side sent, as a traced process
 * would have written and read them.
 */
import * as http2 from 'node:http2';
import * as net from 'node:net';

export interface H2Exchange {
  method: string;
  path: string;
  headers: Record<string, string | string[]>;
  body: Buffer;
  /** What the server answers. */
  status: number;
  responseHeaders: Record<string, string | string[]>;
  responseBody: Buffer[];
  trailers?: Record<string, string>;
}

export interface H2Capture {
  /** Bytes the client sent (preface, its frames), in the pieces the relay saw. */
  client: Buffer[];
  server: Buffer[];
}

/** Run the exchanges one after the other on one connection and return both byte streams. */
export async function captureH2(exchanges: H2Exchange[], opts: { padding?: boolean; settings?: http2.Settings } = {}): Promise<H2Capture> {
  const server = http2.createServer({
    paddingStrategy: opts.padding ? http2.constants.PADDING_STRATEGY_MAX : http2.constants.PADDING_STRATEGY_NONE,
    settings: opts.settings,
  });
  let next = 0;
  server.on('stream', (stream) => {
    const x = exchanges[next++];
    stream.on('data', () => undefined);
    stream.on('end', () => {
      stream.respond({ ':status': x.status, ...x.responseHeaders }, { waitForTrailers: Boolean(x.trailers) });
      if (x.trailers) stream.on('wantTrailers', () => stream.sendTrailers(x.trailers as Record<string, string>));
      for (const piece of x.responseBody) stream.write(piece);
      stream.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const serverPort = (server.address() as net.AddressInfo).port;
  const capture: H2Capture = { client: [], server: [] };
  const relay = net.createServer((down) => {
    const up = net.connect(serverPort, '127.0.0.1');
    down.on('data', (d) => {
      capture.client.push(Buffer.from(d));
      up.write(d);
    });
    up.on('data', (d) => {
      capture.server.push(Buffer.from(d));
      down.write(d);
    });
    down.on('close', () => up.destroy());
    up.on('close', () => down.destroy());
  });
  await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
  const relayPort = (relay.address() as net.AddressInfo).port;
  const client = http2.connect(`http://127.0.0.1:${relayPort}`, {
    paddingStrategy: opts.padding ? http2.constants.PADDING_STRATEGY_MAX : http2.constants.PADDING_STRATEGY_NONE,
  });
  try {
    for (const x of exchanges) {
      await new Promise<void>((resolve, reject) => {
        const req = client.request({ ':method': x.method, ':path': x.path, ...x.headers }, { endStream: x.body.length === 0 });
        req.on('response', () => undefined);
        req.on('data', () => undefined);
        req.on('end', resolve);
        req.on('error', reject);
        if (x.body.length) req.end(x.body);
      });
    }
  } finally {
    await new Promise<void>((r) => client.close(() => r()));
    await new Promise<void>((r) => relay.close(() => r()));
    await new Promise<void>((r) => server.close(() => r()));
  }
  return capture;
}
