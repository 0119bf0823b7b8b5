import { describe, expect, it } from 'vitest';
import { fromFlags, keyOf, mergeFlags, parseArgv } from '../../lib/config/define';
import { agentTracerOptions, AGENT_CHAIN_DEFAULTS, chainOptions, recordAgentOptions, SSL_CHAIN_DEFAULTS } from '../../lib/config/options';
import { AGENT_OPTIONS, ANALYSIS_OPTIONS, PROCESS_OPTIONS, SSL_TRACER_OPTIONS } from '../../lib/config/tables';
import { UsageError } from '../../lib/core/errors';
import { ProcessTracer } from '../../lib/tracers/process-tracer';
import { SslTracer } from '../../lib/tracers/ssl-tracer';

describe('options: one table per typed options object', () => {
  it('every process flag sets a field ProcessTracer.resolve() knows', () => {
    const known = Object.keys(ProcessTracer.resolve({}));
    for (const [flag, def] of Object.entries(PROCESS_OPTIONS)) expect({ flag, known: known.includes(keyOf(flag, def)) }).toEqual({ flag, known: true });
  });

  it('every TLS tracer flag sets a field SslTracer.resolve() knows (--interface is refused instead)', () => {
    const known = Object.keys(SslTracer.resolve({}));
    for (const [flag, def] of Object.entries(SSL_TRACER_OPTIONS)) {
      if (def.refuse) continue;
      expect({ flag, known: known.includes(keyOf(flag, def)) }).toEqual({ flag, known: true });
    }
  });

  it('every agent/record flag reaches the tracer it tunes', () => {
    const flags: Record<string, unknown> = {};
    let n = 1;
    for (const [flag, def] of Object.entries(AGENT_OPTIONS)) {
      if (flag === 'ssl' || flag === 'process') continue;
      flags[flag] = def.type === 'boolean' ? true : def.type === 'number' ? (def.array ? [n++] : n++) : def.array ? [`v${n++}`] : `v${n++}`;
    }
    const t = agentTracerOptions(fromFlags(AGENT_OPTIONS, flags));
    expect(t.ssl).toMatchObject({
      uid: flags['ssl-uid'],
      handshake: true,
      port: flags.port,
      binaryPaths: flags['binary-path'],
      maxBytes: flags['max-bytes'],
      ringBytes: (flags['ssl-ring-size'] as number) * 1024 * 1024,
    });
    expect(t.process).toMatchObject({
      durationMs: flags.duration,
      fileEvents: true,
      fileDedupMs: flags['file-dedup-ms'],
      argvMax: flags['argv-max'],
      ringBytes: (flags['ring-size'] as number) * 1024 * 1024,
    });
  });

  it('fromFlags converts, scales and inverts; flags not given set nothing', () => {
    expect(fromFlags(PROCESS_OPTIONS, { 'ring-size': 4, pid: ['12'], mode: '0' })).toEqual({ ringBytes: 4 << 20, pid: [12], mode: 0 });
    expect(fromFlags(ANALYSIS_OPTIONS, { 'disable-auth-removal': true, 'http-filter': 'GET /x' })).toEqual({ redact: false, httpFilter: ['GET /x'] });
    expect(fromFlags(ANALYSIS_OPTIONS, {})).toEqual({});
  });

  it('parseArgv is strict and refuses what cannot be honoured', () => {
    expect(parseArgv(SSL_TRACER_OPTIONS, ['--pid', '7', '--port', '443', '--port', '8443', '--ssl-ring-size', '16'], 'ssl')).toEqual({
      pid: [7],
      port: [443, 8443],
      ringBytes: 16 << 20,
    });
    expect(() => parseArgv(SSL_TRACER_OPTIONS, ['--bogus'], 'ssl options')).toThrow(/ssl options: Unknown argument: bogus/);
    expect(() => parseArgv(SSL_TRACER_OPTIONS, ['stray'], 'ssl options')).toThrow(/ssl options: Unknown argument: stray/);
    expect(() => parseArgv(SSL_TRACER_OPTIONS, ['--interface', 'eth0'], 'ssl')).toThrow(UsageError);
    expect(() => parseArgv(SSL_TRACER_OPTIONS, ['--interface', 'eth0'], 'ssl')).toThrow(/--interface eth0 cannot be honoured/);
  });

  it('pass-through flags merge: arrays concatenate, a scalar given twice differently is an error', () => {
    expect(mergeFlags({ pid: [1], uid: 5 }, { pid: [2], uid: 5 }, SSL_TRACER_OPTIONS)).toEqual({ pid: [1, 2], uid: 5 });
    expect(() => mergeFlags({ uid: 5 }, { uid: 6 }, SSL_TRACER_OPTIONS)).toThrow(/--uid given twice with different values \(5 and 6\)/);
  });
});

describe("record's agent", () => {
  it('selects exactly its command; hooks file opens on sys_enter/sys_exit unless a flag says otherwise', () => {
    const given = { comm: ['x'], cgroup: ['/a'], container: ['c'], pid: [1] };
    expect(recordAgentOptions(given, 42)).toEqual({ fileHook: 'raw', comm: undefined, cgroup: undefined, container: undefined, pid: [42] });
    expect(recordAgentOptions({ fileHook: 'syscalls' }, 42).fileHook).toBe('syscalls');
    expect(recordAgentOptions({ fileHook: 'auto' }, 42).fileHook).toBe('auto');
  });
});

describe('chain options', () => {
  it('ssl defaults to masking only; agent to parsing and merging without raw ssl events', () => {
    expect(chainOptions({})).toEqual(SSL_CHAIN_DEFAULTS);
    expect(chainOptions({}, AGENT_CHAIN_DEFAULTS)).toMatchObject({ redact: true, httpParser: true, sseMerge: true, rawSsl: false });
  });

  it('SSE merging needs the parser; turning the parser off turns merging off unless asked for', () => {
    expect(chainOptions({ sseMerge: true })).toMatchObject({ httpParser: true, sseMerge: true });
    expect(chainOptions({ httpParser: false }, AGENT_CHAIN_DEFAULTS)).toMatchObject({ httpParser: false, sseMerge: false });
    expect(chainOptions({ httpParser: false, sseMerge: true }, AGENT_CHAIN_DEFAULTS)).toMatchObject({ httpParser: true, sseMerge: true });
  });
});
