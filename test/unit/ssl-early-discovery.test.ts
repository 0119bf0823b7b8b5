import { afterEach, describe, expect, it } from 'vitest';
import { setBinding } from '../../lib/kernel/binding';
import { ProcessTracer } from '../../lib/tracers/process-tracer';
import { SslTracer } from '../../lib/tracers/ssl-tracer';
import { systemTlsLibraries } from '../../lib/tracers/ssl/targets';
import { fakeBinding } from '../support/fake-binding';

afterEach(() => setBinding(null));

/** The TLS object loaded alongside a process tracer's, with its early discovery of the host's libraries. */
async function alongside(fb: ReturnType<typeof fakeBinding>) {
  const started = await ProcessTracer.startWith({ binding: fb, statsIntervalMs: 0 }, SslTracer.loadAlongside({ binding: fb, statsIntervalMs: 0 }));
  return started;
}

const LIBS = systemTlsLibraries();

describe.skipIf(LIBS.length === 0)('the discovery begun when the TLS object loads alongside', () => {
  it('is taken over by a tracer with the same options: the host libraries are probed once', async () => {
    const fb = fakeBinding();
    const { tracer: pt, alongside: loaded } = await alongside(fb);
    const st = await SslTracer.start({ binding: fb, statsIntervalMs: 0, processTracer: pt }, loaded);
    try {
      const ssl = fb.objects.filter((o) => o.name === 'ssl');
      expect(ssl.length).toBe(1);
      // one entry and one return link per library, whichever of the two passes got there first
      for (const lib of LIBS) expect(ssl[0].multi.filter((m) => m.opts.path === lib).map((m) => m.program)).toEqual(['ssl_enter', 'ssl_ret']);
      // (and the running processes' files, such as node's: the first pass scans them)
      for (const lib of LIBS) expect(st.targets().filter((t) => t.path === lib).length).toBe(1);
    } finally {
      st.close();
      pt.close();
    }
  });

  it('is given up, with its object, by a tracer whose discovery options differ (its object is loaded again)', async () => {
    const fb = fakeBinding();
    const { tracer: pt, alongside: loaded } = await alongside(fb);
    const st = await SslTracer.start({ binding: fb, statsIntervalMs: 0, processTracer: pt, systemLibraries: false }, loaded);
    try {
      const ssl = fb.objects.filter((o) => o.name === 'ssl');
      expect(ssl.length).toBe(2);
      expect(ssl[0].closed).toBe(true);
      expect(ssl[1].closed).toBe(false);
      // the options it was started with hold: no host library probed on its object
      expect(ssl[1].multi.filter((m) => LIBS.includes(m.opts.path))).toEqual([]);
      expect(st.targets().filter((t) => LIBS.includes(t.path))).toEqual([]);
    } finally {
      st.close();
      pt.close();
    }
  });
});
