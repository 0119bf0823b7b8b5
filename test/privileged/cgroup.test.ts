/**
 * Selection by cgroup and by container, in the kernel: cgroups made here
 * (cgroup v2, named as container runtimes name theirs), processes moved into
 * them, processes in other mount and pid namespaces (unshare), since no
 * container runtime is assumed. Events of processes in a container carry
 * container.id (and k8s.pod.uid); so does the OTLP resource of their session.
 */
import { spawn } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { startStandin, type Standin } from '../../lib/standin';
import { cgroup2Root } from '../../lib/tracers/cgroup';
import { runCli, type CliRun } from '../support/cli';
import { OtlpReceiver } from '../support/otlp-receiver';
import { describePrivileged } from '../support/privileged';
import { gatedShell } from '../support/procs';
import { AGENTS, clientEnv } from '../support/run';

const PY = '/usr/bin/python3';

describePrivileged('selection by cgroup and container', () => {
  const root = cgroup2Root();
  const base = root ? path.join(root, `agentsight-test-${process.pid}.slice`) : '';
  const cid = crypto.randomBytes(32).toString('hex');
  const ctr = path.join(base, `docker-${cid}.scope`);
  const below = path.join(ctr, 'init.scope');
  const podUid = crypto.randomUUID();
  const cid2 = crypto.randomBytes(32).toString('hex');
  const pod = path.join(base, `kubepods-besteffort-pod${podUid.replace(/-/g, '_')}.slice`);
  const k8s = path.join(pod, `cri-containerd-${cid2}.scope`);
  let s: Standin;
  let rx: OtlpReceiver;
  let dir: string;
  let cli: CliRun | null = null;

  beforeAll(async () => {
    expect(root, 'a cgroup2 mount').not.toBeNull();
    for (const d of [ctr, below, k8s]) fs.mkdirSync(d, { recursive: true });
    s = await startStandin({ chunkDelayMs: 2 });
    rx = await OtlpReceiver.start();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentsight-cg-'));
  });
  afterAll(async () => {
    await s?.close();
    await rx?.close();
    fs.rmSync(dir, { recursive: true, force: true });
    // the processes moved in have exited; the cgroups go, deepest first
    for (const d of [below, ctr, k8s, pod, base]) {
      for (let i = 0; i < 50 && fs.existsSync(d); i++) {
        try {
          fs.rmdirSync(d);
        } catch {
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    }
  });
  afterEach(() => {
    if (cli && cli.child.exitCode === null) cli.child.kill('SIGKILL');
    cli = null;
  });

  const events = (file: string) =>
    fs
      .readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));

  async function stop(c: CliRun) {
    await new Promise((r) => setTimeout(r, 500));
    c.child.kill('SIGINT');
    const r = await c.exited;
    expect(r.code, c.stderr()).toBe(0);
  }

  it('--cgroup: a process already in the cgroup and what it starts, and a process moved below it, are selected; others are not', async () => {
    const file = path.join(dir, 'cgroup.ndjson');
    const inside = gatedShell('/bin/sh', `/bin/echo seeded-in-cgroup; /bin/sh -c 'echo $$ > ${below}/cgroup.procs; exec /bin/echo moved-below'`);
    fs.writeFileSync(path.join(ctr, 'cgroup.procs'), String(inside.pid));
    const outside = gatedShell('/bin/sh', '/bin/echo outside-the-cgroup');
    const rel = `/${path.relative(root as string, ctr)}`;
    cli = runCli(['agent', '--cgroup', rel, '--ssl', 'false', '--format', 'json', '--quiet', '-o', file]);
    await cli.ready;
    expect(cli.stderr()).toContain(`selected: cgroup ${rel}`);
    inside.release();
    outside.release();
    await Promise.all([inside.exited, outside.exited]);
    await stop(cli);
    const execs = events(file).filter((e) => e.source === 'process' && e.data.event === 'EXEC');
    const cmds = execs.map((e) => e.data.full_command);
    expect(cmds).toContain('/bin/echo seeded-in-cgroup');
    expect(cmds).toContain('/bin/echo moved-below');
    expect(cmds.some((c: string) => c.includes('outside-the-cgroup'))).toBe(false);
    for (const e of execs) expect(e['container.id'], e.data.full_command).toBe(cid);
    const fin = events(file).find((e) => e.source === 'stats' && e.data.event === 'FINAL' && e.data.tracer === 'process');
    expect(fin.data.cgroups).toEqual([{ path: rel, id: Number(fs.statSync(ctr, { bigint: true }).ino) }]);
  });

  it('--container: an agent in its own mount and pid namespaces in a Kubernetes container cgroup; TLS and LLM calls captured with container.id and k8s.pod.uid, in the OTLP resource too', async () => {
    const file = path.join(dir, 'container.ndjson');
    cli = runCli(['agent', '--container', cid2.slice(0, 12), '--format', 'json', '--quiet', '-o', file, '--otlp-endpoint', rx.url]);
    await cli.ready;
    expect(cli.stderr()).toContain(`container ${cid2.slice(0, 12)}`);
    const script = `echo $$ > ${k8s}/cgroup.procs; exec unshare --mount --pid --fork --mount-proc ${PY} ${AGENTS.python} --provider anthropic --stream "Which kernel? run: uname -r"`;
    const agent = spawn('/bin/sh', ['-c', script], { env: clientEnv(s), stdio: 'ignore' });
    const code = await new Promise((r) => agent.on('exit', r));
    expect(code).toBe(0);
    await stop(cli);
    const evs = events(file);
    const llm = evs.filter((e) => e.source === 'llm');
    expect(llm.length).toBe(2);
    for (const e of [...llm, ...evs.filter((x) => x.source === 'process' || x.source === 'http')]) {
      expect(e['container.id']).toBe(cid2);
      expect(e['k8s.pod.uid']).toBe(podUid);
    }
    expect(evs.some((e) => e.source === 'process' && e.data.event === 'EXEC' && e.data.full_command === 'uname -r' && e.data.llm_call_id)).toBe(true);
    const chats = rx.spans.filter((x) => x.attributes['gen_ai.operation.name'] === 'chat');
    expect(chats.length).toBe(2);
    expect(new Set(rx.spans.map((x) => x.traceId)).size).toBe(1);
    for (const sp of rx.spans) expect(sp.resource).toMatchObject({ 'container.id': cid2, 'k8s.pod.uid': podUid });
  });

  it('bad selections are usage errors', async () => {
    const cases: [string[], RegExp][] = [
      [['--container', 'ffffffffffff'], /no container with this id/],
      [['--container', 'not-hex'], /4 to 64 hexadecimal digits/],
      [['--cgroup', '/agentsight-no-such-cgroup'], /no such cgroup/],
    ];
    for (const [args, msg] of cases) {
      const c = runCli(['agent', ...args, '--quiet']);
      const r = await c.exited;
      expect(r.code, c.stderr()).toBe(2);
      expect(c.stderr()).toMatch(msg);
    }
  });
});
