/**
 * Headless Chromium for the web UI tests: Debian's chromium package
 * (installed by scripts/setup.sh), driven by playwright-core, never a
 * downloaded browser; a fresh profile per launch. Screenshots go to
 * test-output/browser.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { describe, it } from 'vitest';

export const CHROMIUM = '/usr/bin/chromium';
export const OUT = path.join(__dirname, '../../test-output/browser');
export const DOCS_SCREENSHOT = path.join(__dirname, '../../docs/ui.png');
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export function browserUnavailable(): string | null {
  return fs.existsSync(CHROMIUM) ? null : `${CHROMIUM} is missing (scripts/setup.sh installs Debian's chromium package)`;
}

/** describe() when Chromium is there; otherwise skipped with the reason, or failed in CI. */
export function describeBrowser(name: string, fn: () => void): void {
  const why = browserUnavailable();
  if (!why) {
    describe(name, fn);
    return;
  }
  if (process.env.CI || process.env.AGENTSIGHT_REQUIRE_PRIVILEGED) {
    describe(name, () => {
      it(`cannot run: ${why}`, () => {
        throw new Error(why);
      });
    });
    return;
  }
  // eslint-disable-next-line no-console
  console.warn(`SKIPPED browser tests "${name}": ${why}`);
  describe.skip(`${name} [skipped: ${why}]`, fn);
}

export interface Browser {
  context: BrowserContext;
  page: Page;
  /** Messages the page logged and errors it threw. */
  console: string[];
  close(): Promise<void>;
}

export async function openBrowser(viewport = { width: 1500, height: 900 }): Promise<Browser> {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'agentsight-chromium-'));
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: FLAGS, viewport, timeout: 30_000 });
  const page = context.pages()[0] ?? (await context.newPage());
  const log: string[] = [];
  page.on('console', (m) => log.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => log.push(`pageerror: ${e.message}`));
  return {
    context,
    page,
    console: log,
    async close() {
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** A screenshot under test-output/browser (and, when asked, as docs/ui.png). */
export async function screenshot(page: Page, name: string, docs = false): Promise<string> {
  fs.mkdirSync(OUT, { recursive: true });
  const file = path.join(OUT, `${name}.png`);
  await page.screenshot({ path: file });
  if (docs && process.env.AGENTSIGHT_UPDATE_SCREENSHOT) fs.copyFileSync(file, DOCS_SCREENSHOT);
  return file;
}
