import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { commMatches, listProcesses, parseStat, selectProcesses, type ProcInfo } from '../../lib/tracers/proc';

describe('/proc parsing', () => {
  it('parses comm with spaces and parentheses', () => {
    expect(parseStat('42 (my (odd) name) S 7 42 42 0 -1 4194560 ...')).toEqual({ pid: 42, ppid: 7, comm: 'my (odd) name' });
    expect(parseStat('garbage')).toBeNull();
  });

  it('reads this very process', () => {
    const me = listProcesses().find((p) => p.pid === process.pid);
    expect(me).toBeDefined();
    expect(me?.ppid).toBe(process.ppid);
  });

  it('reads a fake /proc tree and skips non-numeric entries', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'proc-'));
    try {
      for (const [pid, ppid, comm] of [
        [1, 0, 'init'],
        [10, 1, 'bash'],
      ] as const) {
        fs.mkdirSync(path.join(root, String(pid)));
        fs.writeFileSync(path.join(root, String(pid), 'stat'), `${pid} (${comm}) S ${ppid} 0 0`);
      }
      fs.mkdirSync(path.join(root, 'self'));
      expect(listProcesses(root).sort((a, b) => a.pid - b.pid)).toEqual([
        { pid: 1, ppid: 0, comm: 'init' },
        { pid: 10, ppid: 1, comm: 'bash' },
      ]);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('selection', () => {
  const tree: ProcInfo[] = [
    { pid: 1, ppid: 0, comm: 'systemd' },
    { pid: 100, ppid: 1, comm: 'python3' },
    { pid: 101, ppid: 100, comm: 'bash' },
    { pid: 102, ppid: 101, comm: 'ls' },
    { pid: 200, ppid: 1, comm: 'node' },
    { pid: 201, ppid: 200, comm: 'git' },
    { pid: 300, ppid: 1, comm: 'agentsight' },
    { pid: 301, ppid: 300, comm: 'python3' },
  ];

  it('comm is a prefix match on the process name', () => {
    expect(commMatches('python3', ['python'])).toBe(true);
    expect(commMatches('python3', ['node'])).toBe(false);
    expect(commMatches('x', [''])).toBe(false);
  });

  it('selects comm matches and all descendants, recording the root', () => {
    const s = selectProcesses(tree, { comm: ['python'], pid: [] }, 300);
    // the excluded process (the tracer) is never selected; its children only on their own merit
    expect([...s.keys()].sort((a, b) => a - b)).toEqual([100, 101, 102, 301]);
    expect(s.get(102)).toEqual({ root: 100, reason: 4 });
    expect(s.get(100)).toEqual({ root: 100, reason: 1 });
    expect(s.has(300)).toBe(false);
  });

  it('selects pids and their descendants', () => {
    const s = selectProcesses(tree, { comm: [], pid: [200] });
    expect([...s.entries()]).toEqual([
      [200, { root: 200, reason: 2 }],
      [201, { root: 200, reason: 4 }],
    ]);
  });
});
