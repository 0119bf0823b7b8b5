/** Helpers for tests that compare against binutils (Debian package `binutils`). */
import { execFileSync, spawnSync } from 'child_process';

/** True when the named program runs. */
export function haveTool(name: string): boolean {
  const r = spawnSync(name, ['--version'], { stdio: 'ignore' });
  return r.status === 0;
}

/** Run a tool and return stdout (large output allowed). */
export function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', maxBuffer: 512 * 1024 * 1024, env: { ...process.env, LC_ALL: 'C' } });
}

export interface ReadelfSym {
  value: number;
  size: number;
  type: string;
  bind: string;
  ndx: string;
  name: string;
  version?: string;
  hidden?: boolean;
}

/** Parse `readelf --dyn-syms -W` (or `--syms`) output. */
export function readelfSyms(path: string, which: '--dyn-syms' | '--syms'): ReadelfSym[] {
  const out: ReadelfSym[] = [];
  for (const line of run('readelf', [which, '-W', path]).split('\n')) {
    const m = /^\s*\d+:\s+([0-9a-f]+)\s+(\d+|0x[0-9a-f]+)\s+(\w+)\s+(\w+)\s+\w+\s+(\w+)\s+(\S+)/.exec(line);
    if (!m) continue;
    let name = m[6];
    let version: string | undefined;
    let hidden: boolean | undefined;
    const at = name.indexOf('@');
    if (at > 0) {
      hidden = name[at + 1] !== '@';
      version = name.slice(at + (hidden ? 1 : 2));
      name = name.slice(0, at);
      // readelf appends " (n)" for hidden versions in some releases
      version = version.replace(/\s*\(\d+\)$/, '');
    }
    out.push({ value: parseInt(m[1], 16), size: Number(m[2]), type: m[3], bind: m[4], ndx: m[5], name, version, hidden });
  }
  return out;
}

export interface ReadelfLoad {
  offset: number;
  vaddr: number;
  filesz: number;
  memsz: number;
  flags: string;
}

/** Parse PT_LOAD lines of `readelf -lW`. */
export function readelfLoads(path: string): ReadelfLoad[] {
  const out: ReadelfLoad[] = [];
  for (const line of run('readelf', ['-lW', path]).split('\n')) {
    const m = /^\s*LOAD\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+0x[0-9a-f]+\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+([RWE ]+?)\s+0x/.exec(line);
    if (m) {
      out.push({
        offset: parseInt(m[1], 16),
        vaddr: parseInt(m[2], 16),
        filesz: parseInt(m[3], 16),
        memsz: parseInt(m[4], 16),
        flags: m[5].replace(/\s/g, ''),
      });
    }
  }
  return out;
}
