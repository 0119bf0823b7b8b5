/**
 * The OTLP export queue on its own: every span accepted ends up exported,
 * refused or not sent, whatever the exporter answers and however its answers
 * interleave with the flush bound and close(); a request the transport did not
 * make because the flush time was up is "not sent", never "refused".
 */
import * as net from 'node:net';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { describe, expect, it } from 'vitest';
import { ExportQueue, type BatchExporter } from '../../lib/otel/queue';
import { ExportError, FLUSH_TIME_UP, HttpTransport, NotAttempted } from '../../lib/otel/transport';
import type { OtlpTarget } from '../../lib/otel/config';

/** A port nothing listens on (bound, then closed). */
async function deadPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

const target = (port: number): OtlpTarget => ({
  url: `http://127.0.0.1:${port}/v1/traces`,
  protocol: 'http/protobuf',
  headers: {},
  compression: 'none',
  timeoutMs: 1000,
  tls: {},
});

/** What the SDK's export delegate does with a transport's answer. */
function overTransport(t: HttpTransport): BatchExporter<number> {
  return {
    export(items, done) {
      void t
        .send(Uint8Array.from(items), 1000)
        .then((r) => done(r.status === 'success' ? { code: ExportResultCode.SUCCESS } : { code: ExportResultCode.FAILED, error: r.error }));
    },
  };
}

function settled<T>(q: ExportQueue<T>, accepted: number): void {
  const s = q.stats();
  expect(s.pending).toBe(0);
  expect(s.queued).toBe(accepted);
  expect(s.exported + s.dropped_rejected + s.dropped_not_sent).toBe(accepted);
}

describe('ExportQueue', () => {
  it('the transport past its deadline: the batch is not sent (not refused), and no request is counted', async () => {
    const t = new HttpTransport(target(await deadPort()), 'application/x-protobuf', () => {});
    t.setDeadline(Date.now() - 1);
    const q = new ExportQueue(overTransport(t), { maxQueue: 10, batchSize: 2, delayMs: 0, backoffMs: [1, 1] });
    for (let i = 0; i < 5; i++) expect(q.push(i)).toBe(true);
    await q.flush(50);
    q.close();
    t.close();
    expect(q.stats()).toMatchObject({
      queued: 5,
      exported: 0,
      dropped_rejected: 0,
      dropped_not_sent: 5,
      requests: 0,
      failed_requests: 0,
      last_error: FLUSH_TIME_UP,
    });
  });

  it('the receiver away until the flush bound ends: refused connections are retried, the rest is not sent, the first cause kept', async () => {
    const port = await deadPort();
    const t = new HttpTransport(target(port), 'application/x-protobuf', () => {});
    const q = new ExportQueue(overTransport(t), { maxQueue: 10, batchSize: 3, delayMs: 0, backoffMs: [5, 10] });
    for (let i = 0; i < 7; i++) q.push(i);
    const bound = 150;
    t.setDeadline(Date.now() + bound);
    const t0 = Date.now();
    await q.flush(bound);
    expect(Date.now() - t0).toBeLessThan(bound + 200);
    q.close();
    t.close();
    const s = q.stats();
    expect(s).toMatchObject({ queued: 7, exported: 0, dropped_rejected: 0, dropped_not_sent: 7 });
    expect(s.retries).toBeGreaterThan(0);
    expect(s.requests).toBe(s.failed_requests);
    expect(s.last_error).toMatch(/ECONNREFUSED/);
  });

  it('answers of every kind, at every moment around the flush bound: each accepted item is counted once', async () => {
    // a small deterministic generator: the same rounds every run
    let seed = 12345;
    const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    const answers: (() => ExportResult)[] = [
      () => ({ code: ExportResultCode.SUCCESS }),
      () => ({ code: ExportResultCode.FAILED, error: new ExportError('HTTP 503', true) }),
      () => ({ code: ExportResultCode.FAILED, error: new ExportError('HTTP 400', false) }),
      () => ({ code: ExportResultCode.FAILED, error: new NotAttempted(FLUSH_TIME_UP) }),
      () => ({ code: ExportResultCode.FAILED, error: new Error('socket hang up') }),
    ];
    const totals = { exported: 0, dropped_rejected: 0, dropped_not_sent: 0, dropped_queue_full: 0 };
    for (let round = 0; round < 60; round++) {
      const late: (() => void)[] = [];
      const exporter: BatchExporter<number> = {
        export(_items, done) {
          const answer = answers[Math.floor(rand() * answers.length)]();
          const how = rand();
          if (how < 0.2) done(answer);
          else if (how < 0.9) setTimeout(() => done(answer), Math.floor(rand() * 12));
          // an answer after close (the request aborted late): must not be counted again
          else late.push(() => done(answer));
        },
      };
      const maxQueue = 1 + Math.floor(rand() * 8);
      const q = new ExportQueue(exporter, { maxQueue, batchSize: 1 + Math.floor(rand() * 4), delayMs: Math.floor(rand() * 3), backoffMs: [1, 4] });
      const pushes = Math.floor(rand() * 20);
      let accepted = 0;
      for (let i = 0; i < pushes; i++) {
        if (q.push(i)) accepted++;
        if (rand() < 0.3) await new Promise((r) => setTimeout(r, Math.floor(rand() * 4)));
      }
      await q.flush(Math.floor(rand() * 25));
      q.close();
      for (const f of late) f();
      await new Promise((r) => setTimeout(r, 15));
      settled(q, accepted);
      const s = q.stats();
      expect(s.dropped_queue_full).toBe(pushes - accepted);
      for (const k of Object.keys(totals) as (keyof typeof totals)[]) totals[k] += s[k];
    }
    // the rounds reach every outcome
    for (const v of Object.values(totals)) expect(v).toBeGreaterThan(0);
  });
});
