/**
 * The directory of the agentsight package (where package.json, the addon's
 * build/ and prebuilds/, web/dist and data/ are): found from this module's
 * place, whether it runs from lib/ (tests), dist/<dir>/ (the library) or the
 * CLI bundle dist/cli.js.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { once } from './lazy';

function find(): string {
  for (let dir = __dirname; ;) {
    try {
      if ((JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string }).name === 'agentsight') return dir;
    } catch {
      /* none here */
    }
    const up = path.dirname(dir);
    if (up === dir) return path.resolve(__dirname, '..', '..');
    dir = up;
  }
}

/** The package's directory, found when first asked for (it reads package.json files: not at every start-up). */
export const packageRoot = once(find);
