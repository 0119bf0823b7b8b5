/**
 * The export queue between the pipeline and the collector: bounded, sent in
 * batches, one request at a time, retried with exponential backoff while the
 * collector is away. Pushing never waits: when the queue is full, the new
 * item is dropped and counted. Every item accepted ends up exported, rejected
 * (the collector refused it), or not sent (still queued when the run ended).
 *
 * Timers are unref'd: the queue never keeps a process alive by itself;
 * flush() holds it for its bounded time only.
 */
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { ExportError, NotAttempted } from './transport';

export interface BatchExporter<T> {
  export(items: T[], done: (r: ExportResult) => void): void;
}

export interface ExportQueueOptions {
  /** Items held at most (queued and in flight). */
  maxQueue: number;
  /** Items per export request. */
  batchSize: number;
  /** Longest wait before a partial batch is sent (ms). */
  delayMs: number;
  /** First and longest wait between retries (ms; default 1000 and 30000). */
  backoffMs?: [number, number];
}

export interface QueueStats {
  /** items accepted */
  queued: number;
  exported: number;
  /** dropped: the queue was full */
  dropped_queue_full: number;
  /** dropped: the collector refused them (a 4xx other than 429, a malformed request) */
  dropped_rejected: number;
  /** dropped: still queued or in flight when the run ended */
  dropped_not_sent: number;
  /** items now held */
  pending: number;
  requests: number;
  failed_requests: number;
  retries: number;
  /** the last failure, for people */
  last_error: string | null;
}

/** Does a failed export deserve another try? */
function retryable(err: Error | undefined): { retry: boolean; afterMs?: number } {
  if (err instanceof ExportError) return { retry: err.retryable, afterMs: err.retryInMs };
  return { retry: true };
}

export class ExportQueue<T> {
  private items: T[] = [];
  private inflight: T[] | null = null;
  private retryBatch: T[] | null = null;
  private timer: NodeJS.Timeout | null = null;
  private attempt = 0;
  private closed = false;
  private flushDeadline = Infinity;
  private idle: (() => void) | null = null;
  private spaceWaiters: (() => void)[] = [];
  private readonly backoff: [number, number];
  private readonly counts = {
    queued: 0,
    exported: 0,
    dropped_queue_full: 0,
    dropped_rejected: 0,
    dropped_not_sent: 0,
    requests: 0,
    failed_requests: 0,
    retries: 0,
  };
  private lastError: string | null = null;
  /** Called when an export fails (for a first warning). */
  onError: ((message: string) => void) | null = null;

  constructor(
    private readonly exporter: BatchExporter<T>,
    private readonly opts: ExportQueueOptions,
  ) {
    this.backoff = opts.backoffMs ?? [1000, 30_000];
  }

  /** Queue an item; false (and counted) when the queue is full. */
  push(item: T): boolean {
    if (this.closed || this.pending >= this.opts.maxQueue) {
      this.counts.dropped_queue_full++;
      return false;
    }
    this.counts.queued++;
    this.items.push(item);
    this.schedule();
    return true;
  }

  /** Items held: queued, waiting for a retry, or in flight. */
  get pending(): number {
    return this.items.length + (this.inflight?.length ?? 0) + (this.retryBatch?.length ?? 0);
  }

  stats(): QueueStats {
    return { ...this.counts, pending: this.pending, last_error: this.lastError };
  }

  private schedule(): void {
    if (this.closed || this.inflight || this.retryBatch) return;
    if (this.items.length === 0) {
      this.checkIdle();
      return;
    }
    if (this.items.length >= this.opts.batchSize || this.flushDeadline !== Infinity || this.opts.delayMs === 0) {
      this.clearTimer();
      this.send(this.items.splice(0, this.opts.batchSize));
    } else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = null;
        if (!this.inflight && !this.retryBatch && this.items.length) this.send(this.items.splice(0, this.opts.batchSize));
      }, this.opts.delayMs);
      this.timer.unref();
    }
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private send(batch: T[]): void {
    this.inflight = batch;
    this.counts.requests++;
    let called = false;
    this.exporter.export(batch, (r) => {
      if (called) return;
      called = true;
      this.inflight = null;
      this.done(batch, r);
    });
  }

  private done(batch: T[], r: ExportResult): void {
    if (this.closed) return; // counted by close()
    for (const w of this.spaceWaiters.splice(0)) w();
    if (r.code === ExportResultCode.SUCCESS) {
      this.counts.exported += batch.length;
      this.attempt = 0;
      this.schedule();
      return;
    }
    if (r.error instanceof NotAttempted) {
      // never offered to the receiver (the flush time was up): held, so close() counts it as not sent, not refused
      this.counts.requests--;
      if (this.lastError === null) this.lastError = r.error.message;
      this.retryBatch = batch;
      this.checkIdle();
      return;
    }
    this.counts.failed_requests++;
    const message = r.error?.message ?? 'export failed';
    if (this.lastError === null) this.onError?.(message);
    this.lastError = message;
    const { retry, afterMs } = retryable(r.error);
    if (!retry) {
      this.counts.dropped_rejected += batch.length;
      this.schedule();
      return;
    }
    // keep the batch at the head and wait: the collector is away or busy
    this.retryBatch = batch;
    const base = Math.min(this.backoff[1], this.backoff[0] * 2 ** this.attempt);
    this.attempt++;
    let wait = afterMs ?? base * (0.8 + Math.random() * 0.4);
    if (this.flushDeadline !== Infinity) wait = Math.min(wait, 500, Math.max(0, this.flushDeadline - Date.now()));
    this.clearTimer();
    this.timer = setTimeout(() => this.retryNow(), wait);
    this.timer.unref();
  }

  private retryNow(): void {
    this.timer = null;
    const batch = this.retryBatch;
    if (!batch || this.closed || Date.now() >= this.flushDeadline) {
      this.checkIdle();
      return;
    }
    this.retryBatch = null;
    this.counts.retries++;
    this.send(batch);
  }

  private checkIdle(): void {
    if (this.idle && (this.pending === 0 || Date.now() >= this.flushDeadline)) {
      const f = this.idle;
      this.idle = null;
      f();
    }
  }

  /**
   * Send everything held, retrying, for at most timeoutMs. Resolves when the
   * queue is empty or the time is up (what is left stays queued: close()
   * counts it as not sent).
   */
  flush(timeoutMs: number): Promise<void> {
    if (this.closed || this.pending === 0) return Promise.resolve();
    this.flushDeadline = Date.now() + timeoutMs;
    return new Promise((resolve) => {
      // a referenced timer: the process waits for the flush, and no longer
      const bound = setTimeout(() => finish(), timeoutMs);
      const finish = () => {
        clearTimeout(bound);
        this.idle = null;
        resolve();
      };
      this.idle = finish;
      if (this.retryBatch && !this.inflight) {
        // do not wait out the backoff: the collector may be back
        this.clearTimer();
        this.retryNow();
      } else this.schedule();
      this.checkIdle();
    });
  }

  /**
   * For a reader that can wait (a backfill, not live capture): resolves true
   * once there is room for `room` more items, false when there is none after
   * timeoutMs (the receiver is away).
   */
  async waitForSpace(room: number, timeoutMs: number): Promise<boolean> {
    const end = Date.now() + timeoutMs;
    while (!this.closed && this.pending + room > this.opts.maxQueue) {
      const left = end - Date.now();
      if (left <= 0) return false;
      this.schedule();
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 1000));
        this.spaceWaiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return !this.closed;
  }

  /** Stop: what is still held is counted as not sent. */
  close(): void {
    if (this.closed) return;
    for (const w of this.spaceWaiters.splice(0)) w();
    this.clearTimer();
    if (this.inflight && this.lastError === null) this.lastError = 'no answer from the receiver before the flush time was up';
    this.counts.dropped_not_sent += this.pending;
    this.items = [];
    this.inflight = null;
    this.retryBatch = null;
    this.closed = true;
    this.checkIdle();
  }
}
