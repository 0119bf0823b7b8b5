/**
 * Inspections read ahead while the eBPF objects load (lib/tracers/ssl/ahead.ts):
 * taken once, by path and file identity; a changed file is inspected afresh;
 * one the discovery already asked for is not queued after the fact; what was
 * not taken is dropped.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { aheadGeneration, aheadKey, aheadPending, clearAhead, queueAhead, takeAhead } from '../../lib/tracers/ssl/ahead';
import { inspectAhead, inspectBinary, systemTlsLibraries } from '../../lib/tracers/ssl/targets';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentsight-ahead-'));

afterEach(() => clearAhead());

describe('inspections read ahead', () => {
  it('a queued inspection runs in order, one at a time, and is taken once', async () => {
    const f = path.join(dir, 'a');
    fs.writeFileSync(f, 'x');
    const order: string[] = [];
    let running = 0;
    let most = 0;
    const job = (name: string) => async () => {
      running++;
      most = Math.max(most, running);
      order.push(name);
      await new Promise((r) => setTimeout(r, 5));
      running--;
      return name;
    };
    const k1 = aheadKey('binary', f, f, undefined);
    const k2 = aheadKey('exe', f, f, undefined);
    const k3 = aheadKey('static', f, 'shown', '/cache');
    expect(new Set([k1, k2, k3]).size).toBe(3);
    queueAhead(k1, job('1'));
    queueAhead(k2, job('2'));
    queueAhead(k3, job('3'));
    queueAhead(k1, job('again')); // already queued: left alone
    expect(aheadPending()).toBe(3);
    await new Promise((r) => setTimeout(r, 60));
    expect(order).toEqual(['1', '2', '3']);
    expect(most).toBe(1);
    expect(await takeAhead(k2)).toBe('2');
    expect(takeAhead(k2)).toBeNull();
    expect(await takeAhead(k1)).toBe('1');
    expect(await takeAhead(k3)).toBe('3');
    expect(aheadPending()).toBe(0);
  });

  it('taking one that still waits in the queue starts it at once', async () => {
    const f = path.join(dir, 'e');
    fs.writeFileSync(f, 'x');
    const started: string[] = [];
    const job = (name: string, ms: number) => async () => {
      started.push(name);
      await new Promise((r) => setTimeout(r, ms));
      return name;
    };
    queueAhead(aheadKey('binary', f, f, undefined), job('first', 50));
    queueAhead(aheadKey('exe', f, f, undefined), job('second', 1));
    expect(started).toEqual(['first']);
    expect(await takeAhead(aheadKey('exe', f, f, undefined))).toBe('second');
    expect(started).toEqual(['first', 'second']);
    expect(await takeAhead(aheadKey('binary', f, f, undefined))).toBe('first');
  });

  it('a file that changed since is not taken from ahead; one asked for first is not queued later', async () => {
    const f = path.join(dir, 'b');
    fs.writeFileSync(f, 'x');
    queueAhead(aheadKey('binary', f, f, undefined), async () => 'old');
    fs.writeFileSync(f, 'xy'); // another size: another identity
    expect(takeAhead(aheadKey('binary', f, f, undefined))).toBeNull();
    const g = path.join(dir, 'c');
    fs.writeFileSync(g, 'x');
    expect(takeAhead(aheadKey('binary', g, g, undefined))).toBeNull(); // asked for while the queue is busy
    queueAhead(aheadKey('binary', g, g, undefined), async () => 'late');
    expect(takeAhead(aheadKey('binary', g, g, undefined))).toBeNull();
    expect(takeAhead(aheadKey('binary', path.join(dir, 'missing'), 'x', undefined))).toBeNull();
    clearAhead();
    expect(aheadPending()).toBe(0);
  });

  it('clearAhead(): queued inspections that did not start do not run', async () => {
    const f = path.join(dir, 'd');
    fs.writeFileSync(f, 'x');
    let ran = 0;
    const slow = async () => {
      ran++;
      await new Promise((r) => setTimeout(r, 20));
    };
    queueAhead(aheadKey('binary', f, f, undefined), slow);
    queueAhead(aheadKey('exe', f, f, undefined), slow);
    queueAhead(aheadKey('static', f, f, undefined), slow);
    clearAhead();
    await new Promise((r) => setTimeout(r, 80));
    expect(ran).toBe(1); // the first had started
  });

  it('a warm-up begun before clearAhead() queues nothing after it', async () => {
    const f = path.join(dir, 'g');
    fs.writeFileSync(f, 'x');
    const gen = aheadGeneration();
    clearAhead(); // the first pass ended while the warm-up was still listing
    let ran = false;
    queueAhead(aheadKey('binary', f, f, undefined), async () => void (ran = true), gen);
    expect(aheadPending()).toBe(0);
    queueAhead(aheadKey('binary', f, f, undefined), async () => 'now'); // a new warm-up
    expect(await takeAhead(aheadKey('binary', f, f, undefined))).toBe('now');
    expect(ran).toBe(false);
  });

  it('inspectBinary() takes what inspectAhead() read for the same file: the same targets as reading it now', async () => {
    const lib = systemTlsLibraries().find((l) => /libssl\.so/.test(l));
    if (!lib) throw new Error('libssl is not installed (the setup installs it)');
    const fresh = await inspectBinary(lib);
    inspectAhead('binary', lib);
    expect(aheadPending()).toBe(1);
    const taken = await inspectBinary(lib);
    expect(aheadPending()).toBe(0);
    expect(taken).toEqual(fresh);
    expect(taken[0].functions.map((f) => f.symbol)).toContain('SSL_write');
  });

  it('systemTlsLibraries(): the same list again while the library directories are unchanged', () => {
    const a = systemTlsLibraries();
    const b = systemTlsLibraries();
    expect(b).toEqual(a);
    b.pop(); // a copy each time
    expect(systemTlsLibraries()).toEqual(a);
  });
});
