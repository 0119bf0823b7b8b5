/**
 * The web UI of real sessions in headless Chromium: the demo (a recorded
 * agent asking the stand-in for `uname -a`) opened with `agentsight ui`,
 * and a `record --ui` session watched while it runs.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openBrowser, screenshot, type Browser } from '../support/browser';
import { runCli, type CliRun } from '../support/cli';
import { describePrivileged } from '../support/privileged';
import { tempDir } from '../support/sessions';

const tmp = tempDir('agentsight-ui-');
afterAll(() => tmp.remove());

async function urlOf(run: CliRun, ms = 60_000): Promise<string> {
  const end = Date.now() + ms;
  for (;;) {
    const m = /UI at (http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]+)/.exec(run.stderr());
    if (m) return m[1];
    if (Date.now() > end || run.child.exitCode !== null) throw new Error(`no UI URL; stderr:\n${run.stderr()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describePrivileged('web UI of recorded sessions', () => {
  let b: Browser;
  beforeAll(async () => {
    b = await openBrowser();
  });
  afterAll(async () => b?.close());

  it('the demo session: two calls, the answer, uname -a linked to its tool call, the cost', { timeout: 120_000 }, async () => {
    const file = path.join(tmp.dir, 'demo.ndjson');
    const demo = runCli(['demo', '-o', file, '--live', 'false']);
    const done = await demo.exited;
    expect(done.code, demo.stderr()).toBe(0);
    // the demo ends with the report and the command that opens the UI
    expect(demo.stderr()).toMatch(/LLM calls: 2, cost \$0\.\d+/);
    expect(demo.stderr()).toContain(`agentsight ui ${path.relative(process.cwd(), file)}`);
    const ui = runCli(['ui', file]);
    try {
      const { page } = b;
      await page.goto(await urlOf(ui));
      await page.locator('[data-call]').nth(1).waitFor();
      expect(await page.locator('[data-call]').count()).toBe(2);
      expect(await page.locator('[data-total="cost"]').textContent()).toMatch(/^\$0\.\d{4,}$/);
      const first = page.locator('[data-call]').first();
      const firstId = await first.getAttribute('data-call');
      // the answer of the second call quotes what uname -a printed
      await page.locator('[data-call]').nth(1).click();
      await page.locator('[data-view="call"] [data-part="answer"]').waitFor();
      expect(await page.locator('[data-view="call"] [data-part="answer"]').textContent()).toContain('The command `uname -a` finished');
      await first.click();
      const tool = page.locator('[data-view="call"] [data-tool-call]');
      await tool.waitFor();
      expect(await tool.textContent()).toContain('asked to run: uname -a');
      await tool.getByText(/\] uname -a/).waitFor();
      expect(await page.locator('[data-view="call"]').textContent()).toMatch(/\$0\.\d+ = input/);
      await screenshot(page, 'demo-call', true);
      await tool.getByText(/\] uname -a/).click();
      await page.locator('[data-view="proc"]').waitFor();
      expect(await page.locator('[data-view="proc"]').textContent()).toContain(`of ${firstId}`);
      await screenshot(page, 'demo-exec');
    } finally {
      ui.child.kill('SIGINT');
      expect((await ui.exited).code).toBe(0);
    }
  });

  it('record --ui: what the command does appears while it runs, without a reload', { timeout: 120_000 }, async () => {
    const file = path.join(tmp.dir, 'live.ndjson');
    const marker = path.join(tmp.dir, 'go');
    // the command waits for the test before its second step
    const script = `sleep 0.2; ls / > /dev/null; while [ ! -e ${marker} ]; do sleep 0.1; done; cat /etc/hostname > /dev/null; sleep 0.3`;
    const rec = runCli(['record', '--ui', '-o', file, '--', 'sh', '-c', script]);
    try {
      const { page } = b;
      let navigations = 0;
      page.on('framenavigated', () => navigations++);
      await page.goto(await urlOf(rec));
      await page.locator('[data-state="● live"]').waitFor();
      await page
        .getByText(/\] ls \//)
        .first()
        .waitFor({ timeout: 20_000 });
      const loaded = navigations;
      // (the shell's own row has the whole script in its command line: the cat process's row starts with its pid)
      expect(await page.getByText(/\] cat \/etc\/hostname/).count()).toBe(0);
      fs.writeFileSync(marker, '');
      await page
        .getByText(/\] cat \/etc\/hostname/)
        .first()
        .waitFor({ timeout: 20_000 });
      await screenshot(page, 'record-live');
      // the session ends; the page says so and stays
      await page.locator('[data-state="ended"]').waitFor({ timeout: 20_000 });
      expect(navigations).toBe(loaded);
      expect(rec.stderr()).toContain('the UI stays up');
    } finally {
      // let the command finish, then stop the UI (Ctrl-C: the first may reach the command, if it still runs)
      fs.writeFileSync(marker, '');
      const stop = setInterval(() => rec.child.kill('SIGINT'), 1000);
      const r = await rec.exited;
      clearInterval(stop);
      expect(r.code, rec.stderr()).toBe(0);
    }
  });
});
