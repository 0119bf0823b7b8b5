/**
 * Launching a command so that tracing covers it from its first instruction:
 * the command is started behind a gate (a shell waiting on a pipe), its pid is
 * selected for tracing, and only then is the gate opened and the shell exec()s
 * the command in place (same pid). No start-up race, no guessing by name.
 *
 * Run through sudo, the command runs as the invoking user (SUDO_UID/SUDO_GID,
 * with that user's groups, HOME, USER, LOGNAME and SHELL); the rest of the
 * environment is passed on as it is.
 */
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { UsageError } from '../core/errors';
import { printable } from '../render/safe-text';

export interface LaunchOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Run as the user who invoked sudo (default: true when root and SUDO_UID is set). */
  asInvokingUser?: boolean;
  /** stdio of the command (default: inherit). */
  stdio?: 'inherit' | 'pipe' | 'ignore';
}

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Shell convention: the code, or 128 + signal number. */
  status: number;
}

export interface GatedCommand {
  readonly pid: number;
  readonly child: ChildProcess;
  readonly user: { uid: number; gid: number; name: string } | null;
  /** Let the command start. */
  release(): void;
  readonly exited: Promise<ExitStatus>;
}

/**
 * The gate: waits for "go" on fd 3, then exec()s the command in place. At
 * EOF without "go" (agentsight died or gave up before its probes were
 * attached) it refuses: an untraced command must never run. $1 is the
 * command's name as it may be printed (escaped, one line), then the command.
 */
const RELEASE = 'go';
/** Exit status of a gate that was never released (the command did not run). */
export const GATE_REFUSED = 125;
const GATE =
  `IFS= read -r word <&3 && [ "$word" = ${RELEASE} ] || ` +
  `{ printf '%s\\n' "agentsight: tracing did not start; not running $1" >&2; exit ${GATE_REFUSED}; }; shift; exec 3<&-; exec "$@"`;

/** Programs the gate needs, found at fixed places (never through $PATH: a root process must not run what a user planted there). */
const SH = '/bin/sh';
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'];

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

function passwdEntry(uid: number): PasswdEntry | null {
  try {
    for (const line of fs.readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const f = line.split(':');
      if (f.length >= 7 && Number(f[2]) === uid) return { name: f[0], uid, gid: Number(f[3]), home: f[5], shell: f[6] };
    }
  } catch {
    /* no passwd */
  }
  return null;
}

const SIGNALS: Record<string, number> = (require('node:os') as typeof import('node:os')).constants.signals;

/** The invoking user of sudo, from SUDO_UID/SUDO_GID: null when not run through sudo; a usage error when they are not ids. */
export function sudoUser(env: NodeJS.ProcessEnv = process.env): { uid: number; gid: number | null } | null {
  if (env.SUDO_UID === undefined) return null;
  const id = (name: string, v: string) => {
    if (!/^\d{1,10}$/.test(v) || Number(v) > 0xfffffffe)
      throw new UsageError(`${name}=${v} is not a user or group id; refusing to guess who to run the command as (unset it to run as root)`);
    return Number(v);
  };
  return { uid: id('SUDO_UID', env.SUDO_UID), gid: env.SUDO_GID === undefined ? null : id('SUDO_GID', env.SUDO_GID) };
}

function findSetpriv(): string {
  const p = SETPRIV.find((f) => fs.existsSync(f));
  if (!p) throw new UsageError(`cannot run the command as the invoking user: setpriv (util-linux) is not installed (looked for ${SETPRIV.join(', ')})`);
  return p;
}

export function exitStatus(code: number | null, signal: NodeJS.Signals | null): ExitStatus {
  return { code, signal, status: signal ? 128 + (SIGNALS[signal] ?? 0) : (code ?? 1) };
}

export function launchGated(command: string, args: readonly string[], opts: LaunchOptions = {}): GatedCommand {
  if (!command) throw new UsageError('no command to run: agentsight record [options] -- <command> [args...]');
  const sudo = (opts.asInvokingUser ?? true) && process.getuid?.() === 0 ? sudoUser() : null;
  let env: NodeJS.ProcessEnv = { ...(opts.env ?? process.env) };
  let argv0 = SH;
  let argv: string[] = ['-c', GATE, 'agentsight-gate', printable(command), command, ...args];
  let user: GatedCommand['user'] = null;
  if (sudo && sudo.uid !== 0) {
    const pw = passwdEntry(sudo.uid);
    const gid = sudo.gid ?? pw?.gid ?? sudo.uid;
    user = { uid: sudo.uid, gid, name: pw?.name ?? String(sudo.uid) };
    if (pw) env = { ...env, HOME: pw.home, USER: pw.name, LOGNAME: pw.name, SHELL: pw.shell };
    // setpriv exec()s the gate in place: same pid, the user's ids and supplementary groups.
    argv = [`--reuid=${sudo.uid}`, `--regid=${gid}`, '--init-groups', '--', SH, ...argv];
    argv0 = findSetpriv();
  }
  const stdio = opts.stdio ?? 'inherit';
  // node:child_process (~1 ms to require) is loaded by the commands that launch one
  const { spawn } = require('node:child_process') as typeof import('node:child_process');
  const child = spawn(argv0, argv, { cwd: opts.cwd, env, stdio: [stdio, stdio, stdio, 'pipe'] });
  const exited = new Promise<ExitStatus>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve(exitStatus(code, signal)));
  });
  if (child.pid === undefined) {
    throw new UsageError(`cannot start ${argv0}: ${command}`);
  }
  const gate = child.stdio[3] as NodeJS.WritableStream;
  (gate as unknown as { on(e: string, f: () => void): void }).on('error', () => undefined);
  return {
    pid: child.pid,
    child,
    user,
    release: () => gate.end(`${RELEASE}\n`),
    exited,
  };
}
