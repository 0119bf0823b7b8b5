import { describe, expect, it } from 'vitest';
import type { Event } from '../../lib/core/event';
import { FileOpenDedup } from '../../lib/tracers/file-dedup';
import { exit, fileOpen } from '../support/events';

const open = (ms: number, pid = 1, path = '/a', fd: number | null = 3): Event =>
  fileOpen({ mono: ms * 1e6, pid, comm: 'make', path, ret: fd ?? -2 /* ENOENT */ });

describe('file-open folding', () => {
  it('passes the first open, counts repeats, reports them when the window ends', () => {
    const d = new FileOpenDedup(100);
    const out: Event[] = [];
    for (let i = 0; i < 50; i++) d.push(open(i), out);
    expect(out).toHaveLength(1);
    d.push(open(150), out); // window over: aggregate of 49 repeats, then the new first
    expect(out.map((e) => [e.data.count, e.data.repeat ?? false])).toEqual([
      [1, false],
      [49, true],
      [1, false],
    ]);
    expect(d.stats).toEqual({ folded: 49, aggregates: 1, evicted: 0 });
  });

  it('keeps different paths, pids and results apart', () => {
    const d = new FileOpenDedup(1000);
    const out: Event[] = [];
    d.push(open(1, 1, '/a'), out);
    d.push(open(2, 1, '/b'), out);
    d.push(open(3, 2, '/a'), out);
    d.push(open(4, 1, '/a', null), out);
    expect(out).toHaveLength(4);
  });

  it('flushes a process on its EXIT, before the EXIT', () => {
    const d = new FileOpenDedup(1000);
    const out: Event[] = [];
    d.push(open(1), out);
    d.push(open(2), out);
    d.push(exit({ mono: 3e6, pid: 1, comm: 'make' }), out);
    expect(out.map((e) => e.data.event + (e.data.repeat ? '*' : ''))).toEqual(['FILE_OPEN', 'FILE_OPEN*', 'EXIT']);
  });

  it('flushes everything at the end and on expiry, and evicts into an aggregate when full', () => {
    const d = new FileOpenDedup(1000, 2);
    const out: Event[] = [];
    d.push(open(1, 1, '/a'), out);
    d.push(open(2, 1, '/a'), out);
    d.push(open(3, 1, '/b'), out);
    d.push(open(4, 1, '/c'), out); // table full: /a evicted with its 1 repeat
    expect(out.filter((e) => e.data.repeat).map((e) => e.data.filepath)).toEqual(['/a']);
    d.push(open(5, 1, '/b'), out);
    d.flush(out);
    expect(out.filter((e) => e.data.repeat).map((e) => [e.data.filepath, e.data.count])).toEqual([
      ['/a', 1],
      ['/b', 1],
    ]);
    expect(d.stats.evicted).toBe(1);
  });

  it('window 0 disables folding', () => {
    const d = new FileOpenDedup(0);
    const out: Event[] = [];
    for (let i = 0; i < 5; i++) d.push(open(i), out);
    expect(out).toHaveLength(5);
  });
});
