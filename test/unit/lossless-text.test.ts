/**
 * Names, paths and arguments that are not UTF-8 are carried losslessly: the
 * text field keeps U+FFFD for display and `<field>_b64` holds the exact
 * bytes (docs/events.md, lossless text). Distinct byte strings stay distinct
 * (file-open folding keys on the bytes), both sinks write the same line, and
 * masking covers the bytes too.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { Redactor } from '../../lib/analyzers/redactor';
import type { Event } from '../../lib/core/event';
import { losslessText, textFieldBytes } from '../../lib/core/payload';
import { HttpParser } from '../../lib/analyzers/http-parser';
import { FileLogger } from '../../lib/sinks/file-logger';
import { readNdjson, toJsonLine } from '../../lib/sinks/ndjson';
import { OutputAnalyzer } from '../../lib/sinks/output';
import { FileOpenDedup } from '../../lib/tracers/file-dedup';
import { exec, fileOpen, run, ssl } from '../support/events';

const b = (...parts: Array<string | number[] | Buffer>): Buffer =>
  Buffer.concat(parts.map((p) => (Buffer.isBuffer(p) ? p : typeof p === 'string' ? Buffer.from(p) : Buffer.from(p))));

describe('lossless text fields', () => {
  it('valid UTF-8 has no _b64 twin; anything else has the exact bytes', () => {
    expect(losslessText(Buffer.from('héllo'))).toEqual({ text: 'héllo' });
    const bad = b('x', [0xff]);
    expect(losslessText(bad)).toEqual({ text: 'x\ufffd', b64: bad.toString('base64') });
    expect(textFieldBytes({ f: 'x\ufffd', f_b64: bad.toString('base64') }, 'f')).toEqual(bad);
    expect(textFieldBytes({ f: 'héllo' }, 'f')).toEqual(Buffer.from('héllo'));
  });

  it('EXEC: filename, argv and full_command keep their bytes', () => {
    const file = b('/tmp/r', [0xe9], 'sum');
    const arg = b('caf', [0xe9]); // latin-1 é
    const e = exec({ filename: file, argv: ['cat', arg, 'ok'] });
    expect(e.data.filename).toBe('/tmp/r\ufffdsum');
    expect(Buffer.from(e.data.filename_b64, 'base64')).toEqual(file);
    expect(e.data.argv).toEqual(['cat', 'caf\ufffd', 'ok']);
    expect(e.data.argv_b64.map((x: string) => Buffer.from(x, 'base64'))).toEqual([Buffer.from('cat'), arg, Buffer.from('ok')]);
    expect(e.data.full_command).toBe('cat caf\ufffd ok');
    expect(Buffer.from(e.data.full_command_b64, 'base64')).toEqual(b('cat ', arg, ' ok'));
    const plain = exec({ filename: '/bin/ls', argv: ['ls', 'é'] });
    expect(Object.keys(plain.data).filter((k) => k.endsWith('_b64'))).toEqual([]);
  });

  it('FILE_OPEN: filepath and path_arg keep their bytes, resolved on the bytes', () => {
    const e = fileOpen({ path: b('d', [0xfe], '/../f', [0xff]), base: b('/home/', [0xc3, 0x28]) });
    expect(Buffer.from(e.data.filepath_b64, 'base64')).toEqual(b('/home/', [0xc3, 0x28], '/f', [0xff]));
    expect(e.data.filepath).toBe('/home/\ufffd(/f\ufffd');
    expect(Buffer.from(e.data.path_arg_b64, 'base64')).toEqual(b('d', [0xfe], '/../f', [0xff]));
    const ok = fileOpen({ path: 'a/../b', base: '/srv' });
    expect(ok.data).toMatchObject({ filepath: '/srv/b', path_arg: 'a/../b' });
    expect(ok.data.filepath_b64).toBeUndefined();
  });

  it('comm: on every event, and on what is derived from them', async () => {
    const comm = b('ag', [0xff], 'nt');
    const p = exec({ comm });
    expect(p.comm).toBe('ag\ufffdnt');
    expect(Buffer.from(p.comm_b64 as string, 'base64')).toEqual(comm);
    const req = ssl('WRITE/SEND', 'GET / HTTP/1.1\r\nHost: x\r\n\r\n', { comm });
    expect(req.comm_b64).toBe(comm.toString('base64'));
    expect(req.data.comm_b64).toBe(comm.toString('base64'));
    const out = await run(new HttpParser(), [req]);
    const h = out.find((e) => e.source === 'http');
    expect(h?.comm_b64).toBe(comm.toString('base64'));
    expect(exec({ comm: 'python3' }).comm_b64).toBeUndefined();
  });

  it('two paths that differ only in bytes that are not UTF-8 are not folded together', () => {
    const d = new FileOpenDedup(1000);
    const out: Event[] = [];
    d.push(fileOpen({ mono: 1e6, pid: 1, path: b('/tmp/x', [0xff]) }), out);
    d.push(fileOpen({ mono: 2e6, pid: 1, path: b('/tmp/x', [0xfe]) }), out);
    d.push(fileOpen({ mono: 3e6, pid: 1, path: b('/tmp/x', [0xff]) }), out);
    d.flush(out);
    expect(out.map((e) => [e.data.filepath, Buffer.from(e.data.filepath_b64, 'base64').at(-1), e.data.count])).toEqual([
      ['/tmp/x\ufffd', 0xff, 1],
      ['/tmp/x\ufffd', 0xfe, 1],
      ['/tmp/x\ufffd', 0xff, 1], // the repeat of the first, reported when the window ends
    ]);
    expect(out[2].data.repeat).toBe(true);
    expect(d.stats.folded).toBe(1);
  });

  it('the console and the log file write the same line, and it reads back to the same bytes', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'as-lossless-'));
    try {
      const events = [
        exec({ comm: b('c', [0x80]), filename: b('/x', [0xff]), argv: [b('/x', [0xff]), b([0xc0, 0xaf])] }),
        fileOpen({ path: b('/tmp/', [0xfe]) }),
      ];
      const stream = new PassThrough();
      let text = '';
      stream.on('data', (c: Buffer) => (text += c.toString()));
      const file = path.join(dir, 'out.ndjson');
      const logger = new FileLogger({ path: file });
      await run([new OutputAnalyzer({ stream, format: 'json' }), logger], events);
      const logged = fs.readFileSync(file, 'utf8');
      expect(text).toBe(logged);
      expect(logged).toBe(events.map(toJsonLine).join(''));
      const back: Event[] = [];
      for await (const e of readNdjson(file)) back.push(e);
      expect(textFieldBytes(back[0].data, 'filename')).toEqual(b('/x', [0xff]));
      expect(back[0].data.argv_b64.map((x: string) => Buffer.from(x, 'base64'))).toEqual([b('/x', [0xff]), b([0xc0, 0xaf])]);
      expect(textFieldBytes(back[1].data, 'filepath')).toEqual(b('/tmp/', [0xfe]));
      expect(Buffer.from(back[0].comm_b64 as string, 'base64')).toEqual(b('c', [0x80]));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('masking covers the exact bytes as well as the text', async () => {
    const key = 'sk-ant-api03-' + 'A'.repeat(40);
    const e = exec({ argv: ['curl', b([0xff], ' -H x-api-key:', key)] });
    const [masked] = await run(new Redactor(), [e]);
    expect(masked.data.argv[1]).not.toContain(key);
    const raw = Buffer.from(masked.data.argv_b64[1], 'base64');
    expect(raw.toString('latin1')).not.toContain(key);
    expect(raw.length).toBe(Buffer.from(e.data.argv_b64[1], 'base64').length);
    expect(raw[0]).toBe(0xff);
    expect(Buffer.from(masked.data.full_command_b64, 'base64').toString('latin1')).not.toContain(key);
  });
});
