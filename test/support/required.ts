/**
 * What tests need from the setup scripts (fetched agents, Debian packages):
 * when it is missing a test fails under AGENTSIGHT_REQUIRE_PRIVILEGED (set by
 * .ci/run, where scripts/setup.sh and scripts/fetch-test-agents.sh provide
 * everything) and is skipped, with the reason, otherwise. Never a silent pass.
 */
import * as fs from 'node:fs';
import type { TestContext } from 'vitest';

/** Stop the test unless `ok`: a failure when everything is required, else a skip saying `note`. */
export function need(ctx: TestContext, ok: boolean, note: string): void {
  if (ok) return;
  if (process.env.AGENTSIGHT_REQUIRE_PRIVILEGED) throw new Error(`${note} (AGENTSIGHT_REQUIRE_PRIVILEGED is set: everything the setup provides is required)`);
  ctx.skip(note);
}

/** need() for a file. */
export function needFile(ctx: TestContext, file: string, note: string): void {
  need(ctx, fs.existsSync(file), note);
}
