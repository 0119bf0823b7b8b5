'use strict';
/**
 * The tracers compared by bench/ssl-overhead.js, each started as its own
 * process, with the same start/ready/window/stop interface:
 *
 *   agentsight  the real CLI: agentsight ssl --format json (NDJSON to a pipe the bench reads and discards)
 *   quiet       the real CLI with --quiet (events decoded, nothing printed)
 *   sink        SslTracer in a process that only counts events (bench/lib/tracer-sink.js)
 *   bpftrace    bpftrace with uprobe+uretprobe on the same functions, printf of the buffer to a pipe
 */
const fs = require('node:fs');
const path = require('node:path');
const { Child, track, cpuMs, procStatusBytes, bpfPrograms, progStatsOf, diffProgStats, ROOT } = require('./common');

const NODE = fs.realpathSync(process.execPath);

/**
 * bpftrace program with the probes agentsight's uretprobe path uses on a
 * node binary: SSL_read and SSL_write, entry saves the buffer, return copies
 * `ret` bytes (bpftrace 0.17 caps buf() at BPFTRACE_STRLEN <= 200 bytes) and
 * prints them with time, pid, tid, comm and length.
 */
function bpftraceScript(binary, fns = ['SSL_read', 'SSL_write']) {
  const lines = [`BEGIN { printf("READY\\n"); }`];
  lines.push(`${fns.map((f) => `uprobe:${binary}:${f}`).join(', ')} { @buf[tid] = arg1; @ts[tid] = nsecs; }`);
  for (const f of fns) {
    const tag = /read/i.test(f) ? 'R' : 'W';
    lines.push(
      `uretprobe:${binary}:${f} /@buf[tid]/ { $n = (int32)retval; if ($n > 0) { printf("${tag} %llu %llu %d %d %s %d %r\\n", nsecs, nsecs - @ts[tid], pid, tid, comm, $n, buf(@buf[tid], $n)); } delete(@buf[tid]); delete(@ts[tid]); }`,
    );
  }
  return lines.join('\n');
}

class Tracer {
  /** kind may be "agentsight@/other/checkout" (also quiet@, sink@): the same tracer from another build, for A/B runs. */
  constructor(kind, opts = {}) {
    const at = kind.indexOf('@');
    this.kind = at < 0 ? kind : kind.slice(0, at);
    this.root = at < 0 ? ROOT : kind.slice(at + 1);
    this.opts = opts;
    this.child = null;
  }

  /** Start and wait until its probes are attached to `binary`. */
  async start(binary = NODE) {
    const k = this.kind;
    // bpftool here cannot say which process holds a program: the tracer's are the ones that appear while it starts
    const before = new Set(bpfPrograms().map((p) => p.id));
    await this.launch(binary);
    this.progIds = new Set(
      bpfPrograms()
        .map((p) => p.id)
        .filter((id) => !before.has(id)),
    );
    return this;
  }

  async launch(binary) {
    const k = this.kind;
    const cmd = this.opts.command ?? 'ssl';
    if (k === 'agentsight' || k === 'quiet') {
      const args = [path.join(this.root, 'bin', 'agentsight.js'), cmd, '--format', 'json', '--stats-interval', '0', ...(this.opts.args ?? [])];
      if (k === 'quiet') args.push('--quiet');
      this.child = track(new Child(process.execPath, args, { countLines: true }));
      const esc = binary.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      await this.child.waitFor(cmd === 'ssl' ? new RegExp(`TLS tracer attached to .*${esc}`) : /process tracer attached/, { stderr: true });
    } else if (k === 'sink') {
      const o = { ...(this.opts.sink ?? {}) };
      this.child = track(
        new Child(process.execPath, [path.join(__dirname, 'tracer-sink.js'), cmd, JSON.stringify(o)], {
          env: { ...process.env, AGENTSIGHT_BENCH_ROOT: this.root },
        }),
      );
      const r = await this.child.json(/"ready"/);
      if (cmd === 'ssl' && !r.targets.includes(binary)) throw new Error(`sink did not attach to ${binary}: ${r.targets.join(', ')}`);
    } else if (k === 'bpftrace') {
      const env = { ...process.env, BPFTRACE_STRLEN: '200' };
      if (this.opts.pages) env.BPFTRACE_PERF_RB_PAGES = String(this.opts.pages);
      this.child = track(new Child('bpftrace', ['-e', bpftraceScript(binary, this.opts.fns)], { env, countLines: true, keepMatching: /READY|Lost/ }));
      await this.child.waitFor(/READY/);
    } else if (k !== 'none') throw new Error(`unknown tracer ${k}`);
  }

  get pid() {
    return this.child?.pid ?? null;
  }

  /** Counters at the start of a measurement window. */
  async mark() {
    const c = this.child;
    if (!c) return {};
    const m = { cpu: cpuMs(c.pid), prog: this.opts.progStats ? progStatsOf(this.progIds) : null };
    if (this.kind === 'sink') {
      c.send('mark');
      const r = await c.json(/"mark"/);
      m.events = r.events;
      m.kernel = r.kernel;
      m.lag = r.max_lag_ms; // since the previous mark
    } else m.events = c.lineCount;
    return m;
  }

  /** Deltas since a mark. */
  async since(m0) {
    const m1 = await this.mark();
    if (!this.child) return {};
    const out = { cpu_ms: m1.cpu - m0.cpu, events: m1.events - m0.events, vmhwm: procStatusBytes(this.child.pid, 'VmHWM'), lag: m1.lag };
    if (m0.prog && m1.prog) out.prog = diffProgStats(m0.prog, m1.prog);
    return out;
  }

  /** Stop (SIGINT, clean exit); resolves with what it reported about losses. */
  async stop() {
    const c = this.child;
    if (!c) return {};
    const vmhwm = procStatusBytes(c.pid, 'VmHWM');
    if (this.kind === 'sink') {
      c.send('stop');
      const f = await c.json(/"final"/);
      await c.exited;
      return { vmhwm: f.vmhwm ?? vmhwm, events: f.events, kernelDrops: f.kernel, ring: f.ring, final: f };
    }
    await c.stop('SIGINT');
    if (this.kind === 'bpftrace') {
      let lost = 0;
      for (const l of c.lines) {
        const m = /Lost (\d+) events/.exec(l);
        if (m) lost += Number(m[1]);
      }
      for (const m of c.stderr.matchAll(/Lost (\d+) events/g)) lost += Number(m[1]);
      return { vmhwm, events: c.lineCount, lost };
    }
    const ev = /agentsight: (\d+) event\(s\)/.exec(c.stderr);
    // "WARNING: N record(s) lost or truncated: process.ringbuf_full_process=3, process.argv_truncated=1"
    const warn = /WARNING: (\d+) record\(s\) lost or truncated: (.*)/.exec(c.stderr);
    let lost = 0;
    for (const m of (warn?.[2] ?? '').matchAll(/\.ringbuf_full_\w+=(\d+)/g)) lost += Number(m[1]);
    return { vmhwm, events: ev ? Number(ev[1]) : null, lost, lostDetail: warn ? warn[2] : '', stderr: c.stderr };
  }
}

module.exports = { Tracer, bpftraceScript, NODE };
