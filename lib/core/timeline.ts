/**
 * What `--verbose` tells: each start-up (and stop) phase with its time since
 * the process started and how long it took, what was attached where, and
 * libbpf's own messages. Tracers write to a Timeline; runners pass its lines
 * on as notices, which the CLI prints on stderr.
 */
import { EventEmitter } from 'eventemitter3';
import { performance } from 'node:perf_hooks';

export interface PhaseMark {
  phase: string;
  /** When it ended, ms since the process started. */
  at: number;
  /** How long it took, ms. */
  ms: number;
}

const fmt = (ms: number) => ms.toFixed(1).padStart(7);
/** Lines kept for a listener that comes late. */
const MAX_KEPT = 2000;

export class Timeline extends EventEmitter<{ line: [line: string] }> {
  readonly marks: PhaseMark[] = [];
  /** Every line so far (a listener that comes late replays them). */
  readonly lines: string[] = [];

  /** Run a step and note how long it took. */
  span<T>(phase: string, fn: () => T): T {
    const start = performance.now();
    try {
      return fn();
    } finally {
      this.mark(phase, start);
    }
  }

  async spanAsync<T>(phase: string, fn: () => Promise<T>): Promise<T> {
    const start = performance.now();
    try {
      return await fn();
    } finally {
      this.mark(phase, start);
    }
  }

  /** A phase that began at `start` (performance.now()) ended now. */
  mark(phase: string, start: number): void {
    const at = performance.now();
    const m = { phase, at, ms: at - start };
    this.marks.push(m);
    this.say(`[${fmt(m.at)} ms] ${phase}: ${m.ms.toFixed(1)} ms`);
  }

  /** A detail line (what was attached where, a libbpf message). */
  note(text: string): void {
    this.say(`[${fmt(performance.now())} ms]   ${text}`);
  }

  /** libbpf's messages, one note per line. */
  libbpf(log: string | undefined): void {
    if (!log) return;
    for (const l of log.split('\n')) if (l.trim()) this.note(l.startsWith('libbpf:') ? l : `libbpf: ${l}`);
  }

  /** Send every line so far, then the new ones, to `fn`. */
  follow(fn: (line: string) => void): () => void {
    for (const l of this.lines) fn(l);
    this.on('line', fn);
    return () => this.off('line', fn);
  }

  private say(line: string): void {
    // a late listener replays the start-up; a long run's later lines are not kept for it
    if (this.lines.length < MAX_KEPT) this.lines.push(line);
    this.emit('line', line);
  }
}
