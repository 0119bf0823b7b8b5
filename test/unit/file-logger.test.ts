import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileLogger } from '../../lib/sinks/file-logger';
import { readNdjson, toJsonLine } from '../../lib/sinks/ndjson';
import { chain } from '../../lib/core/analyzer';
import type { Event } from '../../lib/core/event';
import { UsageError } from '../../lib/core/errors';
import { attachPayload, sslPayload } from '../../lib/core/payload';
import { run, ssl } from '../support/events';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentsight-log-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const ev = (i: number, pad = 0): Event => ({
  timestamp: 1764304392000 + i,
  source: 'process',
  pid: 100 + i,
  comm: 'python3',
  data: { event: 'EXEC', n: i, pad: 'p'.repeat(pad) },
});
const lines = (file: string) =>
  fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
const mode = (file: string) => fs.statSync(file).mode & 0o777;

describe('FileLogger', () => {
  it('writes every event as NDJSON to a 0600 file and passes them on unchanged', async () => {
    const file = path.join(dir, 'agent.ndjson');
    const input = [ev(1), ev(2), ssl('WRITE/SEND', 'GET / HTTP/1.1\r\n\r\n')];
    const out = await run(new FileLogger({ path: file }), input);
    expect(out).toEqual(input);
    expect(out[0]).toBe(input[0]);
    expect(lines(file)).toEqual(JSON.parse(JSON.stringify(input)));
    expect(mode(file)).toBe(0o600);
  });

  it('refuses a symbolic link with a clear error, and does not touch its target', async () => {
    const target = path.join(dir, 'target');
    fs.writeFileSync(target, 'keep\n');
    const link = path.join(dir, 'link.ndjson');
    fs.symlinkSync(target, link);
    const logger = new FileLogger({ path: link });
    await expect(logger.open()).rejects.toThrow(UsageError);
    await expect(new FileLogger({ path: link }).open()).rejects.toThrow(/symbolic link/);
    expect(fs.readFileSync(target, 'utf8')).toBe('keep\n');
  });

  it('appends to an existing file and tightens its mode to 0600', async () => {
    const file = path.join(dir, 'old.ndjson');
    fs.writeFileSync(file, JSON.stringify(ev(0)) + '\n', { mode: 0o644 });
    await run(new FileLogger({ path: file }), [ev(1)]);
    expect(lines(file).map((e) => e.data.n)).toEqual([0, 1]);
    expect(mode(file)).toBe(0o600);
  });

  it('rotates at the size limit into file.1 ... file.N (0600 each), keeping the newest events', async () => {
    const file = path.join(dir, 'rot.ndjson');
    const lineSize = Buffer.byteLength(JSON.stringify(ev(10, 100)) + '\n');
    const limitMB = (lineSize * 10 + 5) / (1024 * 1024);
    const logger = new FileLogger({ path: file, rotate: true, maxSizeMB: limitMB, maxFiles: 3 });
    const input = Array.from({ length: 100 }, (_, i) => ev(10 + i, 100 - String(10 + i).length + 2));
    await run(logger, input);
    const files = fs.readdirSync(dir).sort();
    expect(files).toEqual(['rot.ndjson', 'rot.ndjson.1', 'rot.ndjson.2', 'rot.ndjson.3']);
    for (const f of files) {
      expect(mode(path.join(dir, f))).toBe(0o600);
      expect(fs.statSync(path.join(dir, f)).size).toBeLessThanOrEqual(lineSize * 10 + 5);
    }
    // newest last: .3 is oldest; together they hold the last 40 events in order
    const kept = ['rot.ndjson.3', 'rot.ndjson.2', 'rot.ndjson.1', 'rot.ndjson'].flatMap((f) => lines(path.join(dir, f)).map((e) => e.data.n));
    expect(kept).toEqual(input.slice(-40).map((e) => e.data.n));
    expect(logger.stats().rotations).toBe(9);
  });

  it('respects backpressure: intake waits for the disk, the write buffer stays under the high-water mark', async () => {
    const file = path.join(dir, 'bp.ndjson');
    const hwm = 4096;
    const logger = new FileLogger({ path: file, highWaterMark: hwm });
    let maxBuffered = 0;
    let pulled = 0;
    async function* source() {
      for (let i = 0; i < 2000; i++) {
        pulled++;
        yield ev(i, 500);
      }
    }
    const ac = new AbortController();
    let n = 0;
    for await (const e of chain(source(), [logger], { signal: ac.signal })) {
      n++;
      // each yielded event has been written; at most one event was pulled ahead
      expect(pulled).toBe(n);
      maxBuffered = Math.max(maxBuffered, logger.stats().buffered_bytes);
      void e;
    }
    expect(maxBuffered).toBeLessThan(hwm);
    expect(logger.stats().backpressure_waits).toBeGreaterThan(0);
    expect(lines(file)).toHaveLength(2000);
  });

  it('flushes everything when the run is aborted', async () => {
    const file = path.join(dir, 'abort.ndjson');
    const ac = new AbortController();
    // like a tracer: after the abort it drains what was already captured (100 more), then ends
    async function* source() {
      let i = 0;
      while (!ac.signal.aborted) yield ev(i++, 200);
      for (let j = 0; j < 100; j++) yield ev(i++, 200);
    }
    let n = 0;
    for await (const _ of chain(source(), [new FileLogger({ path: file })], { signal: ac.signal })) {
      if (++n === 500) ac.abort();
    }
    expect(n).toBe(600);
    expect(lines(file).length).toBe(600);
  });

  it('turns a write error into one diagnostic event and keeps events flowing', async () => {
    const file = path.join(dir, 'err.ndjson');
    const logger = new FileLogger({ path: file });
    await logger.open();
    // simulate the disk failing under the open stream
    (logger as unknown as { log: { ws: fs.WriteStream } }).log.ws.destroy(new Error('EIO: i/o error, write'));
    const out = await run(logger, [ev(1), ev(2), ev(3)]);
    expect(out.filter((e) => e.source === 'process')).toHaveLength(3);
    const diags = out.filter((e) => e.source === 'diagnostic');
    expect(diags).toHaveLength(1);
    expect(diags[0].data).toMatchObject({ type: 'file_logger_error', level: 'error', path: file });
    expect(diags[0].data.error).toMatch(/EIO/);
    expect(logger.stats()).toMatchObject({ events_written: 0, events_not_written: 3 });
    expect(logger.stats().write_errors).toBeGreaterThan(0);
    expect(logger.loss()).toEqual({ sink: `file ${file}`, events_not_written: 3, error: 'EIO: i/o error, write' });
  });

  it('a write error cuts the torn last line back: the file holds only whole events', async () => {
    const file = path.join(dir, 'torn.ndjson');
    const logger = new FileLogger({ path: file });
    await logger.open();
    const log = (logger as unknown as { log: { ws: fs.WriteStream; fh: fs.promises.FileHandle } }).log;
    // the stream's own writes to the file: the third reaches the disk half-written, then the disk is full
    const stream = log.ws as unknown as { _write: (c: Buffer, e: string, cb: (err?: Error | null) => void) => void; _writev?: unknown };
    const orig = stream._write.bind(log.ws);
    delete stream._writev;
    stream._writev = undefined;
    let n = 0;
    stream._write = (chunk, enc, cb) => {
      if (++n < 3) return orig(chunk, enc, cb);
      fs.writeSync(log.fh.fd, chunk.subarray(0, 7));
      process.nextTick(() => cb(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' })));
    };
    const out = await run(logger, [ev(1), ev(2), ev(3), ev(4)]);
    expect(out.filter((e) => e.source === 'process')).toHaveLength(4);
    expect(out.filter((e) => e.source === 'diagnostic').map((d) => d.data.error)).toEqual(['ENOSPC: no space left on device, write']);
    expect(fs.readFileSync(file, 'utf8').endsWith('\n')).toBe(true);
    expect(lines(file).map((e) => e.data.n)).toEqual([1, 2]);
    expect(logger.stats()).toMatchObject({ events_written: 2, events_not_written: 2, torn_bytes_removed: 7 });
  });

  it('refuses what is not a plain file of its own: a hard link, a FIFO (without blocking), /proc, a directory', async () => {
    const target = path.join(dir, 'target');
    fs.writeFileSync(target, 'keep\n');
    const hard = path.join(dir, 'hard.ndjson');
    fs.linkSync(target, hard);
    await expect(new FileLogger({ path: hard }).open()).rejects.toThrow(/2 hard links; refusing/);
    expect(fs.readFileSync(target, 'utf8')).toBe('keep\n');
    const fifo = path.join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    await expect(new FileLogger({ path: fifo }).open()).rejects.toThrow(/FIFO or socket with no reader/);
    await expect(new FileLogger({ path: '/proc/version' }).open()).rejects.toThrow(/is on procfs/);
    await expect(new FileLogger({ path: dir }).open()).rejects.toThrow(/is a directory/);
  });

  it('createNew never appends to an existing file', async () => {
    const file = path.join(dir, 'new.ndjson');
    fs.writeFileSync(file, 'old\n');
    await expect(new FileLogger({ path: file, createNew: true }).open()).rejects.toThrow(/already exists/);
    expect(fs.readFileSync(file, 'utf8')).toBe('old\n');
  });

  it('a rotation that fails is reported once and logging goes on in the current file', async () => {
    const file = path.join(dir, 'stuck.ndjson');
    // FILE.1 cannot be replaced by a rename: a directory that is not empty stands there
    fs.mkdirSync(`${file}.1`);
    fs.writeFileSync(path.join(`${file}.1`, 'x'), '');
    const lineSize = Buffer.byteLength(JSON.stringify(ev(10, 100)) + '\n');
    const logger = new FileLogger({ path: file, rotate: true, maxSizeMB: (lineSize * 5) / (1024 * 1024), maxFiles: 1 });
    const input = Array.from({ length: 30 }, (_, i) => ev(10 + i, 100 - String(10 + i).length + 2));
    const out = await run(logger, input);
    expect(lines(file).map((e) => e.data.n)).toEqual(input.map((e) => e.data.n));
    const diags = out.filter((e) => e.source === 'diagnostic');
    expect(diags.map((d) => d.data.type)).toEqual(['file_logger_rotation_error']);
    expect(logger.stats()).toMatchObject({ events_written: 30, events_not_written: 0, rotations: 0 });
    expect(logger.stats().rotation_errors).toBeGreaterThanOrEqual(2);
    expect(logger.loss()).toBeNull();
  });

  it('rejects bad options with UsageError', () => {
    expect(() => new FileLogger({ path: '' })).toThrow(UsageError);
    expect(() => new FileLogger({ path: 'x', maxSizeMB: 0 })).toThrow(/--max-log-size/);
    expect(() => new FileLogger({ path: 'x', maxFiles: 0 })).toThrow(UsageError);
  });
});

describe('NDJSON', () => {
  it('writes out-of-band ssl bytes and reads them back exactly', async () => {
    const bytes = Buffer.from([0x16, 0x03, 0x01, 0xff, 0x00, 0x41]);
    const e: Event = { timestamp: 1, mono_ns: 5, source: 'ssl', pid: 1, comm: 'x', data: { function: 'READ/RECV', len: 6, conn_id: '1:0x1' } };
    attachPayload(e, bytes);
    const file = path.join(dir, 'ssl.ndjson');
    fs.writeFileSync(file, toJsonLine(e) + '\n' + '{not json\n' + '[1,2]\n');
    const back: Event[] = [];
    for await (const x of readNdjson(file)) back.push(x);
    expect(back[0].data.data_encoding).toBe('base64');
    expect(sslPayload(back[0]).equals(bytes)).toBe(true);
    expect(back.slice(1).map((x) => [x.source, x.data.line])).toEqual([
      ['diagnostic', 3],
      ['diagnostic', 4],
    ]);
  });

  it('replays through a chain', async () => {
    const file = path.join(dir, 'r.ndjson');
    fs.writeFileSync(file, [ev(1), ev(2)].map(toJsonLine).join(''));
    const out: Event[] = [];
    for await (const x of chain(readNdjson(file), [], { signal: new AbortController().signal })) out.push(x);
    expect(out.map((x) => x.data.n)).toEqual([1, 2]);
  });
});
