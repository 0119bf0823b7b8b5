/**
 * Saved sessions are masked again when `report` and `ui` read them: a file
 * written with --disable-auth-removal (or by something else) shows no
 * credential unless --disable-auth-removal is given to them too.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../lib/cli/main';
import type { Event } from '../../lib/core/event';
import { openSessionFiles } from '../../lib/ui';
import { captureIo } from '../support/io';
import { exec, exit, fileOpen } from '../support/events';
import { tempDir } from '../support/sessions';

const tmp = tempDir();
afterAll(() => tmp.remove());

const KEY = 'sk-ant-api03-' + 'Saved7Session8Key9'.repeat(4) + 'QQ';
const PASSWORD = 'Pw-' + 'x7Yq2Lm9Rt4Z';

function session(): string {
  const events: Event[] = [
    exec({ pid: 501, argv: ['curl', '-H', `x-api-key: ${KEY}`, 'https://api.anthropic.com/v1/models'] }),
    exit({ pid: 501 }),
    exec({ pid: 502, argv: ['mysql', '--password', PASSWORD, '-e', 'select 1'] }),
    exit({ pid: 502 }),
    ...Array.from({ length: 50 }, (_, i) => fileOpen({ pid: 503, path: `/tmp/file-${i}` })),
  ];
  const file = path.join(tmp.dir, `clear-${Math.random().toString(36).slice(2)}.ndjson`);
  // a damaged line holding the key too
  fs.writeFileSync(file, events.map((e) => JSON.stringify(e)).join('\n') + `\n{"broken": "${KEY}\n`);
  return file;
}

async function cli(args: string[]) {
  const c = captureIo();
  const code = await main(args, c.io);
  return { code, out: c.out(), err: c.err() };
}

const leaks = (s: string) => [KEY.slice(13, 30), PASSWORD].filter((x) => s.includes(x));

describe('saved sessions written without masking', () => {
  it('report masks them in every format; --disable-auth-removal shows them as they are', async () => {
    const file = session();
    expect(leaks(fs.readFileSync(file, 'utf8'))).toHaveLength(2);
    for (const format of ['text', 'json', 'markdown']) {
      const r = await cli(['report', '--format', format, file]);
      expect(r.code, r.err).toBe(0);
      expect(r.out).toContain('curl');
      expect(leaks(r.out + r.err), format).toEqual([]);
    }
    const clear = await cli(['report', '--format', 'json', '--disable-auth-removal', file]);
    expect(clear.code).toBe(0);
    expect(leaks(clear.out)).toEqual([KEY.slice(13, 30), PASSWORD]);
  });

  it('ui masks what it loads and what it reads back from the file later', async () => {
    const file = session();
    const { store, loaded } = openSessionFiles([file], { store: { ringEvents: 4, checkpointEvery: 8 } });
    await loaded;
    expect(leaks(JSON.stringify(store.snapshot()))).toEqual([]);
    // the first events left the ring: they are read back from the file, and masked again
    expect(store.detail.usage().ring_events).toBe(4);
    const first = await store.detail.get(0);
    expect(first?.data.argv[0]).toBe('curl');
    expect(leaks(JSON.stringify(first))).toEqual([]);
    const all = await store.detail.range(0, 60);
    expect(all.length).toBe(55);
    expect(all.some((x) => x.event.source === 'diagnostic')).toBe(true);
    expect(leaks(JSON.stringify(all))).toEqual([]);

    const clear = openSessionFiles([file], { redact: false, store: { ringEvents: 4, checkpointEvery: 8 } });
    await clear.loaded;
    expect(leaks(JSON.stringify(await clear.store.detail.get(0)))).toEqual([KEY.slice(13, 30)]);
  });
});
