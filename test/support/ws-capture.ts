/**
 * Real WebSocket bytes for tests: the `ws` package as client and server
 * through a TCP relay that records what each side sent (handshake included),
 * in the order the relay saw it, as a traced client would have written and
 * read it.
 */
import * as net from 'node:net';
import { WebSocket, WebSocketServer, type PerMessageDeflateOptions } from 'ws';

/** One thing a peer does. */
export type WsStep =
  | { send: string | Buffer; fin?: boolean; compress?: boolean }
  | { ping: string | Buffer }
  | { pong: string | Buffer }
  /** Wait until the peer has received this many data messages. */
  | { await: number };

export interface WsScenario {
  path?: string;
  /** permessage-deflate options for both sides (false: not offered). */
  deflate?: false | PerMessageDeflateOptions;
  client: WsStep[];
  server: WsStep[];
  /** Close code and reason the client ends with (default 1000, "done"). */
  close?: { code: number; reason: string };
  /** Extra request headers (an API key, say). */
  headers?: Record<string, string>;
}

/** A data message as a peer received it. */
export interface Received {
  binary: boolean;
  data: Buffer;
}

export interface WsCapture {
  /** The relay's pieces in order: `client` pieces were sent by the client. */
  pieces: { from: 'client' | 'server'; bytes: Buffer }[];
  /** Data messages each side received (what the other sent). */
  byServer: Received[];
  byClient: Received[];
  /** Ping and pong payloads each side received. */
  pingsByServer: Buffer[];
  pongsByServer: Buffer[];
  pingsByClient: Buffer[];
  pongsByClient: Buffer[];
}

/** Both byte streams of a capture, each as one buffer. */
export function streams(cap: WsCapture): { client: Buffer; server: Buffer } {
  return {
    client: Buffer.concat(cap.pieces.filter((p) => p.from === 'client').map((p) => p.bytes)),
    server: Buffer.concat(cap.pieces.filter((p) => p.from === 'server').map((p) => p.bytes)),
  };
}

function run(ws: WebSocket, steps: WsStep[], received: () => number): Promise<void> {
  return (async () => {
    for (const s of steps) {
      if ('send' in s)
        await new Promise<void>((r, j) =>
          ws.send(s.send, { fin: s.fin ?? true, binary: typeof s.send !== 'string', ...(s.compress !== undefined ? { compress: s.compress } : {}) }, (e) =>
            e ? j(e) : r(),
          ),
        );
      else if ('ping' in s) ws.ping(s.ping);
      else if ('pong' in s) ws.pong(s.pong);
      else {
        const deadline = Date.now() + 10_000;
        while (received() < s.await) {
          if (Date.now() > deadline) throw new Error(`timed out waiting for ${s.await} messages`);
          await new Promise((r) => setTimeout(r, 2));
        }
      }
    }
  })();
}

const dataCount = (steps: WsStep[]) => steps.filter((s) => 'send' in s && s.fin !== false).length;

/** Run a scenario and return what went over the wire and what each side got. */
export async function captureWs(sc: WsScenario): Promise<WsCapture> {
  const cap: WsCapture = { pieces: [], byServer: [], byClient: [], pingsByServer: [], pongsByServer: [], pingsByClient: [], pongsByClient: [] };
  const deflate = sc.deflate ?? false;
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: deflate, maxPayload: 1 << 30 });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  const serverPort = (wss.address() as net.AddressInfo).port;
  const serverDone = new Promise<void>((resolve, reject) => {
    wss.on('connection', (ws) => {
      ws.on('message', (data, binary) => cap.byServer.push({ binary, data: Buffer.from(data as Buffer) }));
      ws.on('ping', (d) => cap.pingsByServer.push(Buffer.from(d)));
      ws.on('pong', (d) => cap.pongsByServer.push(Buffer.from(d)));
      run(ws, sc.server, () => cap.byServer.length).then(resolve, reject);
    });
  });
  const relayClosed: Promise<void>[] = [];
  const relay = net.createServer((down) => {
    const up = net.connect(serverPort, '127.0.0.1');
    down.on('data', (d) => {
      cap.pieces.push({ from: 'client', bytes: Buffer.from(d) });
      up.write(d);
    });
    up.on('data', (d) => {
      cap.pieces.push({ from: 'server', bytes: Buffer.from(d) });
      down.write(d);
    });
    relayClosed.push(new Promise((r) => up.on('close', () => r())));
    down.on('close', () => up.end());
    up.on('close', () => down.destroy());
  });
  await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
  const relayPort = (relay.address() as net.AddressInfo).port;
  const client = new WebSocket(`ws://127.0.0.1:${relayPort}${sc.path ?? '/v1/responses'}`, {
    perMessageDeflate: deflate,
    headers: sc.headers,
    maxPayload: 1 << 30,
  });
  client.on('message', (data, binary) => cap.byClient.push({ binary, data: Buffer.from(data as Buffer) }));
  client.on('ping', (d) => cap.pingsByClient.push(Buffer.from(d)));
  client.on('pong', (d) => cap.pongsByClient.push(Buffer.from(d)));
  try {
    await new Promise<void>((r, j) => {
      client.once('open', () => r());
      client.once('error', j);
    });
    await run(client, sc.client, () => cap.byClient.length);
    await serverDone;
    const wantByClient = dataCount(sc.server);
    const deadline = Date.now() + 10_000;
    while ((cap.byClient.length < wantByClient || cap.byServer.length < dataCount(sc.client)) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 2));
    const closed = new Promise<void>((r) => client.once('close', () => r()));
    client.close(sc.close?.code ?? 1000, sc.close?.reason ?? 'done');
    await closed;
    await Promise.all(relayClosed);
  } finally {
    client.terminate();
    await new Promise<void>((r) => wss.close(() => r()));
    await new Promise<void>((r) => relay.close(() => r()));
  }
  return cap;
}
