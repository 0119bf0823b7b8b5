/**
 * The web UI in a real headless Chromium: a saved session (its calls, the
 * answer, the command linked to its tool call, the cost), a live session
 * whose events appear without a reload, hostile captured text shown
 * inertly, and requests without the token refused.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Event } from '../../lib/core/event';
import { openSessionFiles, SessionStore, startUi, type UiServer } from '../../lib/ui';
import { describeBrowser, openBrowser, screenshot, type Browser } from '../support/browser';
import { sessionEvents, tempDir, writeSession } from '../support/sessions';

const tmp = tempDir();
afterAll(() => tmp.remove());

describeBrowser('web UI in Chromium', () => {
  let b: Browser;
  beforeAll(async () => {
    b = await openBrowser();
  });
  afterAll(async () => b?.close());

  it('a saved session: calls, answer, the linked command, cost', async () => {
    const file = writeSession(path.join(tmp.dir, 's.ndjson'), await sessionEvents('python-anthropic-stream'));
    const { store, loaded } = openSessionFiles([file]);
    await loaded;
    const { server, url } = await startUi(store);
    try {
      const { page } = b;
      await page.goto(url);
      // the token went into a cookie and out of the address bar
      expect(new URL(page.url()).search).toBe('');
      await page.locator('[data-call]').first().waitFor();
      expect(await page.locator('[data-call]').count()).toBe(2);
      expect(await page.locator('[data-total="cost"]').textContent()).toBe('$0.002178');
      await page.locator('[data-call="llm-31852-1"]').click();
      const detail = page.locator('[data-view="call"]');
      await detail.waitFor();
      expect(await detail.textContent()).toContain("I'll run `uname -r` with the bash tool");
      expect(await detail.textContent()).toContain('$0.000582');
      const tool = detail.locator('[data-tool-call="toolu_01HMx5BYbCCg66tUx1kyW0UQ"]');
      expect(await tool.textContent()).toContain('[31854] uname -r');
      await tool.getByText('[31854] uname -r').click();
      const proc = page.locator('[data-view="proc"]');
      await proc.waitFor();
      expect(await proc.textContent()).toContain('bash call toolu_01HMx5BYbCCg66tUx1kyW0UQ of llm-31852-1');
      await page.locator('[data-tab="totals"]').click();
      await page.locator('[data-total-cost]').waitFor();
      expect(await page.locator('[data-total-cost]').textContent()).toContain('$0.002178');
      await screenshot(page, 'saved-session-totals');
      expect(b.console.filter((l) => /error/i.test(l) && !/favicon/.test(l))).toEqual([]);
    } finally {
      await server.close();
    }
  });

  it('a live session: events appear without a reload', async () => {
    const store = new SessionStore({ info: { live: true, title: 'live test' } });
    const { server, url } = await startUi(store, { updateMs: 50 });
    try {
      const { page } = b;
      let navigations = 0;
      page.on('framenavigated', () => navigations++);
      await page.goto(url);
      await page.locator('[data-total="events"]').waitFor();
      const before = navigations;
      const t = Date.now();
      store.add({ timestamp: t, source: 'process', pid: 4242, comm: 'sh', data: { event: 'EXEC', ppid: 1, full_command: 'sh -c "make test"' } });
      await page.locator('[data-pid="4242"]').waitFor({ timeout: 5000 });
      store.add({ timestamp: t + 500, source: 'process', pid: 4243, comm: 'make', data: { event: 'EXEC', ppid: 4242, full_command: 'make test' } });
      await page.locator('[data-pid="4243"]').waitFor({ timeout: 5000 });
      expect(await page.locator('[data-total="commands"]').textContent()).toBe('2');
      expect(navigations).toBe(before);
      store.end();
      await page.locator('[data-state="ended"]').waitFor({ timeout: 5000 });
    } finally {
      await server.close();
    }
  });

  it('hostile captured text is shown as text: no markup, no script, escapes visible', async () => {
    const hostile = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>\x1b[31mred\x1b]0;title\x07\u202eevil';
    const events: Event[] = [
      {
        timestamp: 1000,
        source: 'process',
        pid: 7,
        comm: '<b>x</b>',
        data: { event: 'EXEC', ppid: 1, full_command: `echo <svg onload=window.__pwned=3> \x1b[2J` },
      },
      {
        timestamp: 1001,
        source: 'process',
        pid: 7,
        comm: 'x',
        data: { event: 'FILE_OPEN', filepath: '/tmp/<img src=x onerror=window.__pwned=4>.txt', flags: 'O_WRONLY|O_CREAT', fd: 3, count: 1 },
      },
      {
        timestamp: 1200,
        source: 'llm',
        pid: 7,
        comm: 'x',
        data: {
          event: 'LLM_CALL',
          call_id: 'llm-7-1',
          api: 'anthropic.messages',
          'gen_ai.provider.name': 'anthropic',
          'gen_ai.request.model': '<i>model</i>',
          'http.response.status_code': 200,
          streaming: false,
          endpoint: { method: 'POST', host: 'h', path: '/v1/messages' },
          request: {
            system: '</pre><script>window.__pwned=5</script>',
            messages: [{ role: 'user', content: hostile }],
            tools: [{ name: '<u>t</u>', description: '<script>1</script>' }],
          },
          response: {
            text: hostile,
            thinking: '',
            tool_calls: [{ id: 'tc<1>', name: '<b>bash</b>', arguments: { command: '<script>x</script>' }, command: '<script>x</script>' }],
          },
          usage: { input_tokens: 1, output_tokens: 1 },
          latency_ms: 100,
          time_to_first_chunk_ms: 10,
          conn_id: '7:1',
          http_seq: 0,
        },
      },
    ];
    const file = writeSession(path.join(tmp.dir, 'hostile.ndjson'), events);
    const { store, loaded } = openSessionFiles([file]);
    await loaded;
    const { server, url } = await startUi(store);
    try {
      const { page } = b;
      await page.goto(url);
      await page.locator('[data-call="llm-7-1"]').click();
      const detail = page.locator('[data-view="call"]');
      await detail.waitFor();
      const text = (await detail.textContent()) ?? '';
      expect(text).toContain('<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>');
      expect(text).toContain('\\x1b[31mred\\x1b]0;title\\x07\\u202eevil');
      expect(text).not.toContain('\x1b');
      await page.locator('[data-tab="files"]').click();
      await page.getByText('/tmp/<img src=x onerror=window.__pwned=4>.txt').waitFor();
      await page.locator('[data-tab="processes"]').click();
      await page.getByText('echo <svg onload=window.__pwned=3> \\x1b[2J').waitFor();
      expect(await page.evaluate(() => (globalThis as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
      // nothing captured became an element
      expect(
        await page.evaluate(
          () =>
            (globalThis as unknown as { document: { querySelectorAll(s: string): { length: number } } }).document.querySelectorAll(
              'img, svg, iframe, u, i, [onerror], [onload], #app script',
            ).length,
        ),
      ).toBe(0);
      await screenshot(page, 'hostile');
    } finally {
      await server.close();
    }
  });

  it('without the token the browser gets nothing', async () => {
    const store = new SessionStore();
    const server: UiServer = (await startUi(store)).server;
    const other = await openBrowser();
    try {
      const base = `http://127.0.0.1:${new URL(server.url).port}`;
      for (const p of ['/', '/app.js', '/app.css', '/api/snapshot', '/api/stream']) {
        const r = await other.page.goto(`${base}${p}`);
        expect(r?.status(), p).toBe(401);
      }
      expect((await other.page.goto(`${base}/?token=${'f'.repeat(64)}`))?.status()).toBe(403);
      expect(await other.page.evaluate(() => (globalThis as unknown as { document: { body: { textContent: string } } }).document.body.textContent)).toContain(
        'wrong token',
      );
      // a page of another origin is refused, even with the token
      const evil = http.createServer((_req, res) => res.end('<!doctype html><title>elsewhere</title>'));
      await new Promise<void>((r) => evil.listen(0, '127.0.0.1', r));
      try {
        await other.page.goto(`http://127.0.0.1:${(evil.address() as AddressInfo).port}/`);
        const before = server.refused[403] ?? 0;
        const r = await other.page.evaluate(async (u) => {
          try {
            return (await fetch(u)).status;
          } catch (e) {
            return String(e);
          }
        }, `${base}/api/snapshot?token=${server.token}`);
        expect(String(r)).toMatch(/TypeError|Failed to fetch/);
        expect(server.refused[403]).toBe(before + 1);
      } finally {
        evil.close();
      }
    } finally {
      await other.close();
      await server.close();
    }
  });
});
