import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';

/** Ids of every eBPF program / link loaded in the kernel right now. */
export function loadedIds(kind: 'prog' | 'link'): Set<number> {
  const out = execFileSync('bpftool', ['-j', kind, 'list'], { encoding: 'utf8' });
  return new Set((JSON.parse(out || '[]') as { id: number }[]).map((p) => p.id));
}

/** Ids of the eBPF programs and links a process holds open (from /proc/PID/fdinfo). */
export function heldBy(pid: number): { programs: number[]; links: number[] } {
  const programs = new Set<number>();
  const links = new Set<number>();
  for (const fd of fs.readdirSync(`/proc/${pid}/fdinfo`)) {
    let info = '';
    try {
      info = fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
    } catch {
      continue;
    }
    const link = /^link_id:\s*(\d+)/m.exec(info);
    const prog = /^prog_id:\s*(\d+)/m.exec(info);
    if (link) links.add(Number(link[1]));
    else if (prog) programs.add(Number(prog[1]));
  }
  return { programs: [...programs], links: [...links] };
}

/** Wait until none of these ids is loaded any more (the kernel frees after an RCU grace period). */
export async function waitUnloaded(ids: { programs: number[]; links: number[] }, ms = 3000): Promise<{ programs: number[]; links: number[] }> {
  const end = Date.now() + ms;
  for (;;) {
    const p = loadedIds('prog');
    const l = loadedIds('link');
    const left = { programs: ids.programs.filter((i) => p.has(i)), links: ids.links.filter((i) => l.has(i)) };
    if ((left.programs.length === 0 && left.links.length === 0) || Date.now() > end) return left;
    await new Promise((r) => setTimeout(r, 20));
  }
}
