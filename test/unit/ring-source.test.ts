import { describe, expect, it } from 'vitest';
import { RingSource } from '../../lib/kernel/ring-source';
import { fakeBinding, type FakeReader } from '../support/fake-binding';

function setup(high: number) {
  const fb = fakeBinding({ process: [] });
  const obj = new fb.BpfObject('process');
  const src = new RingSource(fb, obj, 'process_rb', { highWaterBytes: high, lowWaterBytes: 0, tickMs: 20 });
  return { src, reader: fb.readers[0] as FakeReader };
}

const rec = (i: number) => {
  const b = Buffer.alloc(64);
  b.writeUInt32LE(i, 0);
  return b;
};

describe('RingSource', () => {
  it('yields records in order, ticks while idle, ends after end() with everything delivered', async () => {
    const { src, reader } = setup(1 << 20);
    reader.push([rec(1), rec(2)]);
    const seen: (number | null)[] = [];
    const it = src.records();
    for (;;) {
      const r = await it.next();
      if (r.done) break;
      seen.push(r.value ? r.value[0].readUInt32LE(r.value[1]) : null);
      if (seen.filter((x) => x === null).length === 1 && !seen.includes(3)) {
        // idle tick seen: data in the kernel ring at stop time must still arrive
        reader.pending.push(Buffer.concat([Buffer.from([64, 0, 0, 0, 0, 0, 0, 0]), rec(3)]));
        src.end();
      }
    }
    expect(seen).toEqual([1, 2, null, 3]);
    expect(reader.closed).toBe(true);
  });

  it('pauses the reader when the consumer falls behind and resumes when it catches up', async () => {
    const { src, reader } = setup(200);
    for (let i = 0; i < 10; i++) reader.push([rec(i), rec(i + 100)]);
    await new Promise((r) => setTimeout(r, 20));
    // 10 batches of 144 bytes queued against a 200-byte high-water mark
    expect(reader.pauses).toBe(1);
    expect(reader.paused).toBe(true);
    const got: number[] = [];
    for await (const r of src.records()) {
      if (r) got.push(r[0].readUInt32LE(r[1]));
      if (got.length === 20) src.end();
    }
    expect(got).toHaveLength(20);
    expect(reader.paused).toBe(false);
    expect(src.stats().pauses).toBe(1);
  });
});
