import type { NativeBinding, NativeBpfObject, NativeRingReader, RingStats } from './binding';
import { frames } from './abi';
import { native } from '../core/errors';

export interface RingSourceOptions {
  /** Pause reading when this many bytes of undecoded batches are queued (default 64 MiB). */
  highWaterBytes?: number;
  /** Resume when the queue drops below this (default highWater / 4). */
  lowWaterBytes?: number;
  /** Passed to the native reader. */
  maxBatchBytes?: number;
  intervalMs?: number;
  /** Yield a tick (null) at least this often while idle, so stages can flush (default 250 ms). */
  tickMs?: number;
}

export interface RingSourceStats extends RingStats {
  /** Times the reader was paused because the consumer fell behind. */
  pauses: number;
  queuedBytes: number;
}

/**
 * Async iteration over the records of one BPF ring buffer.
 *
 * The native reader hands over one Buffer per wake-up; records are decoded
 * only when the consumer pulls them. A slow consumer makes the queue grow to
 * highWaterBytes, then reading pauses: the kernel ring fills and the eBPF
 * side counts every record it cannot write (stats), so memory stays bounded
 * and nothing is lost without being counted.
 */
export class RingSource {
  private readonly reader: NativeRingReader;
  private readonly queue: Buffer[] = [];
  private queuedBytes = 0;
  private paused = false;
  private pauses = 0;
  private ended = false;
  private error: Error | null = null;
  private wake: (() => void) | null = null;
  private readonly high: number;
  private readonly low: number;
  private readonly tickMs: number;

  constructor(binding: NativeBinding, obj: NativeBpfObject, map: string, opts: RingSourceOptions = {}) {
    this.high = opts.highWaterBytes ?? 64 << 20;
    this.low = opts.lowWaterBytes ?? Math.floor(this.high / 4);
    this.tickMs = opts.tickMs ?? 250;
    this.reader = native(
      () =>
        new binding.RingReader(obj, map, (batch, _count, err) => this.onBatch(batch, err), {
          maxBatchBytes: opts.maxBatchBytes,
          intervalMs: opts.intervalMs,
        }),
    );
  }

  private onBatch(batch: Buffer | null, err?: Error): void {
    if (err) this.error = err;
    if (batch && batch.length) {
      this.queue.push(batch);
      this.queuedBytes += batch.length;
      if (!this.paused && this.queuedBytes >= this.high) {
        this.paused = true;
        this.pauses++;
        this.reader.pause();
      }
    }
    this.notify();
  }

  private notify(): void {
    const w = this.wake;
    this.wake = null;
    if (w) w();
  }

  /**
   * Stop: read everything still in the kernel ring (so records submitted
   * before the stop are delivered), then end the iteration once the queue
   * is empty. Idempotent.
   */
  end(): void {
    if (this.ended) return;
    for (;;) {
      const b = this.reader.consume();
      if (!b) break;
      this.queue.push(b);
      this.queuedBytes += b.length;
    }
    this.ended = true;
    this.reader.close();
    this.notify();
  }

  stats(): RingSourceStats {
    return { ...this.reader.stats(), pauses: this.pauses, queuedBytes: this.queuedBytes };
  }

  /**
   * Records as [batch, offset, length] triples, or null as an idle tick.
   * Ends after end() once everything queued was consumed.
   */
  async *records(): AsyncGenerator<[Buffer, number, number] | null> {
    for (;;) {
      const batch = this.queue.shift();
      if (batch) {
        this.queuedBytes -= batch.length;
        if (this.paused && this.queuedBytes <= this.low && !this.ended) {
          this.paused = false;
          this.reader.resume();
        }
        for (const [off, len] of frames(batch)) yield [batch, off, len];
        continue;
      }
      if (this.error) {
        const e = this.error;
        this.error = null;
        throw e;
      }
      if (this.ended) return;
      let timer: NodeJS.Timeout | undefined;
      const ticked = await new Promise<boolean>((resolve) => {
        this.wake = () => resolve(false);
        timer = setTimeout(() => resolve(true), this.tickMs);
      });
      clearTimeout(timer);
      this.wake = null;
      if (ticked) yield null;
    }
  }
}
