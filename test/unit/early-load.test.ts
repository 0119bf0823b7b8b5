/**
 * lib/cli/early-load.ts and lib/kernel/early.ts: a tracing command's objects
 * loaded from the CLI's start are the ones its tracers take, and what they do
 * not take is closed. Against the fake binding, whose objects record how they
 * were set up; its loadAsync settles when the test says.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { setBinding, type NativeBinding } from '../../lib/kernel/binding';
import { main } from '../../lib/cli/main';
import { beginEarlyLoads, earlyRecipes, earlyTracerOptions } from '../../lib/cli/early-load';
import { beginLoads, closeUntaken, takeLoad, untakenLoads } from '../../lib/kernel/early';
import { recipeKey } from '../../lib/kernel/recipe';
import { captureIo, until } from '../support/io';
import { fakeBinding, FakeObject } from '../support/fake-binding';

/** A fake binding whose objects load asynchronously, each load settling when release() is called. */
function asyncBinding() {
  const fb = fakeBinding();
  const Base = fb.BpfObject as unknown as new (name: string) => FakeObject;
  const pending: (() => void)[] = [];
  const loads: string[] = [];
  class Obj extends Base {
    loading = false;
    loadAsync(): Promise<void> {
      loads.push(this.name);
      this.loading = true;
      return new Promise((resolve) => {
        pending.push(() => {
          this.loading = false;
          this.load();
          resolve();
        });
      });
    }
    override close() {
      if (this.loading) throw new Error(`close: eBPF object '${this.name}' is being loaded`);
      super.close();
    }
  }
  const release = () => pending.splice(0).forEach((f) => f());
  return Object.assign(fb, { BpfObject: Obj as unknown as NativeBinding['BpfObject'], loads, release });
}

afterEach(async () => {
  setBinding(null);
  await closeUntaken();
});

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'agentsight-early-'));

describe('loads begun at the CLI start', () => {
  it("record: both objects begun with the tracers' recipes are the ones they take (nothing loaded twice)", async () => {
    const fb = asyncBinding();
    setBinding(fb);
    const out = path.join(tmp(), 's.ndjson');
    const argv = ['record', '-q', '-o', out, '--', 'true'];
    beginEarlyLoads(argv, fb);
    expect(fb.objects.map((o) => o.name)).toEqual(['process', 'ssl']);
    expect(untakenLoads()).toBe(2);
    const cap = captureIo();
    const run = main(argv, cap.io);
    // the tracers wait for the loads begun early
    await new Promise((r) => setTimeout(r, 50));
    expect(untakenLoads()).toBe(0);
    fb.release();
    expect(await run).toBe(0);
    expect(fb.objects.map((o) => o.name)).toEqual(['process', 'ssl']);
    expect(fb.loads).toEqual(['process', 'ssl']);
    // loaded as the tracers would have: the process object's file opens on sys_enter/sys_exit, the TLS one sharing its map
    expect(fb.objects[0].autoload.get('handle_sys_enter')).toBeUndefined();
    expect(fb.objects[0].autoload.get('handle_enter_openat')).toBe(false);
    expect(fb.objects[1].reused).toEqual(['tracked']);
    expect(fb.objects.every((o) => o.closed)).toBe(true);
  });

  it.each([
    [['record', '-q', '--', 'true']],
    [['ssl', '--port', '443']],
    [['record', '--process', 'false', '-q', '--', 'true']],
    [['record', '--ssl', 'false', '-q', '--', 'true']],
    [['process', '--comm', 'python']],
    [['agent', '--comm', 'python', '--ssl-ring-size', '16', '--ring-size', '4', '--quiet']],
  ])('%j: the recipes begun are what its tracers set their objects to', async (argv) => {
    // the command run without early loads, on the fake kernel: its objects as its tracers set them up
    const fb = fakeBinding();
    setBinding(fb);
    const recipes = earlyRecipes(earlyTracerOptions(argv)!, true)!;
    const cap = captureIo();
    const dash = argv.indexOf('--');
    const run = main(argv[0] === 'record' ? [...argv.slice(0, dash), '-o', path.join(tmp(), 's.ndjson'), ...argv.slice(dash)] : argv, cap.io);
    await until(() => fb.objects.length === recipes.length && fb.objects.every((o) => o.loaded), 5000, 'loads');
    if (argv[0] !== 'record') {
      await until(() => fb.readers.length > 0, 5000, 'ring readers');
      process.emit('SIGINT');
    }
    expect(await run).toBe(0);
    const asSetUp = fb.objects.map((o) =>
      recipeKey({
        object: o.name,
        rodata: Object.fromEntries(o.rodata),
        maxEntries: Object.fromEntries(o.maxEntries),
        skip: [...o.autoload].filter(([, on]) => !on).map(([p]) => p),
        attachTypes: Object.fromEntries(o.attachTypes),
        shared: Object.fromEntries(o.reused.map((m) => [m, m])),
      }),
    );
    expect(asSetUp).toEqual(recipes.map(recipeKey));
  });

  it('begins nothing where the options are not known yet, or the command loads nothing', () => {
    for (const argv of [
      ['report', 'x.ndjson'],
      ['--version'],
      ['agent', '--config', '/etc/agentsight/agent.json'],
      ['ssl', '--', '--pid', '1'],
      ['record', '--no-such-flag', '--', 'true'],
      ['agent', '--cgroup', '/sys/fs/cgroup/x'],
      ['record', '--ssl', 'false', '--process', 'false', '--', 'true'],
    ])
      expect([argv, earlyTracerOptions(argv) && earlyRecipes(earlyTracerOptions(argv)!, true)]).toEqual([argv, null]);
  });

  it("a begun load whose recipe differs from the tracer's is closed once settled, and the tracer loads its own", async () => {
    const fb = asyncBinding();
    setBinding(fb);
    const dir = tmp();
    beginEarlyLoads(['record', '--ring-size', '16', '-q', '-o', path.join(dir, 'a.ndjson'), '--', 'true'], fb);
    const cap = captureIo();
    const run = main(['record', '-q', '-o', path.join(dir, 'b.ndjson'), '--', 'true'], cap.io);
    await until(() => fb.objects.length === 4, 5000, "the tracers' own objects");
    fb.release();
    await until(() => fb.objects.filter((o) => o.loaded).length === 4, 5000, 'loads');
    fb.release();
    expect(await run).toBe(0);
    // the early ones (a 16 MiB process ring) were not used and are closed; the tracers' have the default ring
    expect(fb.objects.map((o) => [o.name, o.maxEntries.get('process_rb') ?? o.maxEntries.get('ssl_rb')])).toEqual([
      ['process', 16 << 20],
      ['ssl', 64 << 20],
      ['process', 8 << 20],
      ['ssl', 64 << 20],
    ]);
    expect(fb.objects.every((o) => o.closed)).toBe(true);
    expect(untakenLoads()).toBe(0);
  });

  it('takeLoad gives a shared-map object only with the companion it shares with', () => {
    const fb = asyncBinding();
    const t = earlyTracerOptions(['record', '--', 'true'])!;
    const [pr, sr] = earlyRecipes(t, true)!;
    beginLoads(fb, [pr, sr]);
    const other = new fb.BpfObject('process');
    expect(takeLoad(fb, sr, other)).toBeNull();
    // and a binding that did not begin it gets nothing
    expect(takeLoad(fakeBinding(), pr)).toBeNull();
    expect(recipeKey(pr)).not.toBe(recipeKey(sr));
    fb.release();
  });
});
