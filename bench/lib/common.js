'use strict';
/** Helpers shared by the benchmark scripts. */
const { execFileSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');

const ROOT = path.join(__dirname, '..', '..');

function median(xs) {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

/** A self-signed certificate for localhost/127.0.0.1 in a fresh temp dir (cert.pem, key.pem). */
function makeCert() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentsight-bench-'));
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      path.join(dir, 'key.pem'),
      '-out',
      path.join(dir, 'cert.pem'),
      '-days',
      '2',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  return dir;
}

/**
 * A child process with line-oriented stdout (and stderr kept), started in its
 * own process group so that it and anything it spawned can be ended by id.
 */
class Child {
  constructor(cmd, args, opts = {}) {
    this.cmd = cmd;
    this.args = args;
    this.proc = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], detached: true, ...opts });
    this.pid = this.proc.pid;
    this.lines = [];
    this.stderr = '';
    this.waiters = [];
    this.exited = new Promise((resolve) => this.proc.on('exit', (code, sig) => resolve({ code, sig })));
    this.exitedYet = false;
    void this.exited.then(() => {
      this.exitedYet = true;
    });
    if (opts.countLines) {
      // Count newlines without keeping the output (a tracer's event stream).
      this.lineCount = 0;
      this.byteCount = 0;
      this.tail = '';
      this.proc.stdout.on('data', (d) => {
        this.byteCount += d.length;
        let i = -1;
        while ((i = d.indexOf(10, i + 1)) !== -1) this.lineCount++;
        if (opts.keepMatching) {
          // keep lines matching a pattern (e.g. READY, Lost N events) from a text stream
          const s = this.tail + d.toString('latin1');
          const parts = s.split('\n');
          this.tail = parts.pop().slice(-4096);
          for (const l of parts) if (opts.keepMatching.test(l)) this.onLine(l);
        }
      });
    } else {
      readline.createInterface({ input: this.proc.stdout }).on('line', (l) => this.onLine(l));
    }
    this.proc.stderr.on('data', (d) => {
      this.stderr += d.toString();
      for (const w of [...this.waiters]) if (w.stderr && w.re.test(this.stderr)) this.resolveWaiter(w, this.stderr);
    });
    this.proc.stdin.on('error', () => undefined);
  }

  onLine(l) {
    const w = this.waiters.find((x) => !x.stderr && x.re.test(l));
    if (w) this.resolveWaiter(w, l);
    else this.lines.push(l);
  }

  resolveWaiter(w, v) {
    this.waiters.splice(this.waiters.indexOf(w), 1);
    clearTimeout(w.timer);
    w.resolve(v);
  }

  /** Resolve with the first stdout line (or the stderr text) matching re, already seen or future. */
  waitFor(re, { stderr = false, timeoutMs = 60_000 } = {}) {
    if (!stderr) {
      const seen = this.lines.find((l) => re.test(l));
      if (seen !== undefined) {
        this.lines.splice(this.lines.indexOf(seen), 1);
        return Promise.resolve(seen);
      }
    } else if (re.test(this.stderr)) return Promise.resolve(this.stderr);
    return new Promise((resolve, reject) => {
      const w = { re, stderr, resolve };
      w.timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        reject(new Error(`${path.basename(this.cmd)} ${this.args.slice(0, 2).join(' ')}: no ${re} within ${timeoutMs} ms; stderr: ${this.stderr.slice(-800)}`));
      }, timeoutMs);
      void this.exited.then(({ code, sig }) => {
        if (!this.waiters.includes(w)) return;
        this.waiters.splice(this.waiters.indexOf(w), 1);
        clearTimeout(w.timer);
        reject(new Error(`${path.basename(this.cmd)} exited (${code ?? sig}) before ${re}; stderr: ${this.stderr.slice(-800)}`));
      });
      this.waiters.push(w);
    });
  }

  async json(re) {
    const l = await this.waitFor(re);
    return JSON.parse(l);
  }

  send(line) {
    if (!this.exitedYet) this.proc.stdin.write(`${line}\n`);
  }

  signal(sig) {
    if (this.exitedYet) return;
    try {
      process.kill(this.pid, sig);
    } catch {
      /* gone */
    }
  }

  /** SIGINT (or sig), then SIGKILL to the whole group if it does not exit within graceMs. */
  async stop(sig = 'SIGINT', graceMs = 20_000) {
    this.signal(sig);
    const t = setTimeout(() => this.kill(), graceMs);
    const r = await this.exited;
    clearTimeout(t);
    return r;
  }

  kill() {
    if (this.exitedYet) return;
    try {
      process.kill(-this.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

/** Registry of children to end on exit, whatever happens. */
const children = new Set();
function track(c) {
  children.add(c);
  void c.exited.then(() => children.delete(c));
  return c;
}
function killAll() {
  for (const c of children) c.kill();
}
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    killAll();
    process.stderr.write(`\n${sig}: children ended\n`);
    process.exit(130);
  });
}

/** utime+stime of a process in ms (from /proc/PID/stat), or null. */
function cpuMs(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    const hz = 100;
    return ((Number(f[11]) + Number(f[12])) * 1000) / hz;
  } catch {
    return null;
  }
}

/** A /proc/PID/status field in bytes (VmHWM, VmRSS), or null. */
function procStatusBytes(pid, field) {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** Loaded eBPF programs (bpftool prog list -j), with run stats when kernel.bpf_stats_enabled=1. */
function bpfPrograms() {
  try {
    return JSON.parse(execFileSync('bpftool', ['prog', 'list', '-j'], { encoding: 'utf8', maxBuffer: 64 << 20 }));
  } catch {
    return [];
  }
}

/** run_time_ns/run_cnt per program name, of the programs whose ids are in `ids` (a Set). */
function progStatsOf(ids) {
  const out = {};
  for (const p of bpfPrograms()) {
    if (!ids.has(p.id)) continue;
    const k = p.name ?? `id${p.id}`;
    const o = (out[k] ??= { run_time_ns: 0, run_cnt: 0, n: 0 });
    o.run_time_ns += p.run_time_ns ?? 0;
    o.run_cnt += p.run_cnt ?? 0;
    o.n++;
  }
  return out;
}

function diffProgStats(a, b) {
  const out = {};
  for (const [k, v] of Object.entries(b)) {
    const p = a[k] ?? { run_time_ns: 0, run_cnt: 0 };
    out[k] = { run_time_ns: v.run_time_ns - p.run_time_ns, run_cnt: v.run_cnt - p.run_cnt };
  }
  return out;
}

function readSysctl(name) {
  try {
    return fs.readFileSync(`/proc/sys/${name.replace(/\./g, '/')}`, 'utf8').trim();
  } catch {
    return null;
  }
}
function writeSysctl(name, v) {
  try {
    fs.writeFileSync(`/proc/sys/${name.replace(/\./g, '/')}`, String(v));
    return true;
  } catch {
    return false;
  }
}

/** prog id -> holders ("pid comm"), from /proc/PID/fdinfo (prog and link fds show prog_id). */
function progHolders() {
  const out = new Map();
  for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    let fds;
    try {
      fds = fs.readdirSync(`/proc/${pid}/fdinfo`);
    } catch {
      continue;
    }
    let comm = '?';
    try {
      comm = fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    } catch {
      /* gone */
    }
    for (const fd of fds) {
      let info;
      try {
        info = fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
      } catch {
        continue;
      }
      const m = /^prog_id:\s+(\d+)/m.exec(info);
      if (!m) continue;
      const id = Number(m[1]);
      if (!out.has(id)) out.set(id, new Set());
      out.get(id).add(`${pid} ${comm}`);
    }
  }
  return out;
}

/**
 * Programs loaded now that were not loaded when the run began (ids in
 * `before`), with the processes holding them: other users of the machine may
 * load programs meanwhile, and the benchmark's own tracers have all exited.
 */
function leftoverReport(before) {
  const now = bpfPrograms().filter((p) => !before.has(p.id));
  const alive = [...children].filter((c) => !c.exitedYet).map((c) => c.pid);
  const head = `benchmark processes still running: ${alive.length ? alive.join(', ') : 'none'}`;
  if (now.length === 0) return `${head}; eBPF programs loaded since the start: none (bpftool prog list)`;
  const holders = progHolders();
  const by = new Map();
  for (const p of now) {
    const h = [...(holders.get(p.id) ?? ['no process (pinned or being freed)'])].join(', ');
    by.set(h, [...(by.get(h) ?? []), `${p.id}:${p.name}`]);
  }
  return `${head}; eBPF programs loaded since the start and still there: ${[...by].map(([h, ps]) => `${ps.join(' ')} held by ${h}`).join('; ')}`;
}

/** Busy and total CPU ticks of the machine (/proc/stat). */
function machineTicks() {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const idle = f[3] + (f[4] ?? 0);
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

/**
 * Wait (up to maxMs) until no eBPF programs are loaded and the machine's CPU
 * is mostly idle for 3 s: other users' tracers and load distort every figure.
 * Resolves with a line saying what was found.
 */
async function waitQuiet(maxMs) {
  const end = Date.now() + maxMs;
  let last = '';
  for (;;) {
    const k0 = machineTicks();
    await sleep(3000);
    const k1 = machineTicks();
    const busy = ((k1.busy - k0.busy) / (k1.total - k0.total)) * 100;
    const progs = bpfPrograms().length;
    last = `machine ${busy.toFixed(0)}% busy over 3 s, ${progs} eBPF program(s) loaded by others`;
    if ((busy < 15 && progs === 0) || Date.now() > end) return `${busy < 15 && progs === 0 ? 'quiet' : 'NOT quiet (gave up waiting)'}: ${last}`;
  }
}

/**
 * Wait (up to maxMs) until every loaded eBPF program is one of `ours` (a Set
 * of ids): another tracer on the machine would add its cost to every
 * condition. Resolves with the number of foreign programs left (0 = clean).
 */
async function waitNoForeign(ours = new Set(), maxMs = 120_000) {
  const end = Date.now() + maxMs;
  for (;;) {
    const n = bpfPrograms().filter((p) => !ours.has(p.id)).length;
    if (n === 0 || Date.now() > end) return n;
    await sleep(500);
  }
}

/** Render rows (arrays of strings) as an aligned text table. */
function table(header, rows) {
  const all = [header, ...rows].map((r) => r.map((c) => String(c)));
  const w = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  const line = (r) => r.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ');
  return [line(all[0]), w.map((n) => '-'.repeat(n)).join('  '), ...all.slice(1).map(line)].join('\n');
}

function fmtNum(x, digits = 0) {
  if (x === null || x === undefined || !Number.isFinite(x)) return 'n/a';
  return x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}
function fmtRatio(x) {
  return Number.isFinite(x) ? x.toFixed(3) : 'n/a';
}
function fmtPct(x) {
  return Number.isFinite(x) ? `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)}%` : 'n/a';
}
function fmtMiB(b) {
  return b === null || b === undefined ? 'n/a' : `${(b / 1048576).toFixed(1)} MiB`;
}

/** Lines describing the run: what, when, where. */
function header(title) {
  let commit = '?';
  try {
    commit = execFileSync('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['-C', ROOT, 'status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' }).trim();
    if (dirty) commit += '+dirty';
  } catch {
    /* not a checkout */
  }
  let bt = '?';
  try {
    bt = execFileSync('bpftrace', ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    /* absent */
  }
  return [
    `# ${title}`,
    `command:   ${[process.argv0, ...process.argv.slice(1).map((a) => path.relative(process.cwd(), a) || a)].join(' ')}`,
    `started:   ${new Date().toISOString()}`,
    `host:      ${os.hostname()}  ${os.type()} ${os.release()}  ${os.cpus().length} vCPU (${os.cpus()[0]?.model ?? '?'})  node ${process.version}  ${bt}  agentsight ${commit}`,
    `cpu:       ${mitigations()}`,
  ].join('\n');
}

/**
 * The CPU vulnerability mitigations that change what a probe hit costs (indirect calls, returns),
 * from /sys/devices/system/cpu/vulnerabilities: spectre_v2 (retpolines), retbleed and
 * spec_rstack_overflow (return thunks).
 */
function mitigations() {
  const dir = '/sys/devices/system/cpu/vulnerabilities';
  const out = [];
  for (const f of ['spectre_v2', 'retbleed', 'spec_rstack_overflow']) {
    try {
      out.push(`${f}: ${fs.readFileSync(path.join(dir, f), 'utf8').trim()}`);
    } catch {
      /* not reported by this kernel */
    }
  }
  return out.length ? out.join('; ') : 'mitigations not reported';
}

function requireRoot() {
  if (process.getuid && process.getuid() !== 0) {
    process.stderr.write('run as root (eBPF)\n');
    process.exit(2);
  }
  if (!fs.existsSync(path.join(ROOT, 'dist', 'tracers', 'ssl-tracer.js')) || !fs.existsSync(path.join(ROOT, 'build', 'Release', 'agentsight.node'))) {
    process.stderr.write('build first: npm_config_nodedir=/usr npm ci && npx tsc -p tsconfig.json\n');
    process.exit(2);
  }
}

module.exports = {
  ROOT,
  median,
  sleep,
  makeCert,
  Child,
  track,
  killAll,
  cpuMs,
  procStatusBytes,
  bpfPrograms,
  progStatsOf,
  diffProgStats,
  readSysctl,
  leftoverReport,
  machineTicks,
  waitQuiet,
  waitNoForeign,
  writeSysctl,
  table,
  fmtNum,
  fmtRatio,
  fmtPct,
  fmtMiB,
  header,
  requireRoot,
};
