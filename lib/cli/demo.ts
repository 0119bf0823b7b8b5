/**
 * `agentsight demo`: a local HTTPS stand-in for an LLM API (in this process,
 * so the tracer's own TLS is never captured), a small agent that asks the
 * model for a tool call and runs it, recorded with `record`. Then it shows
 * the LLM call that was captured and the command linked to it, the
 * session's report, and the command that opens it in the web UI.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startStandin } from '../standin';
import { UsageError } from '../core/errors';
import type { Event } from '../core/event';
import type { Analyzer } from '../core/analyzer';
import { runRecord } from './record';
import type { DemoOptions, FileOutputOptions, RecordCliOptions } from '../config/options';
import type { SessionIo } from '../session/run';
import { openFileLogger } from '../sinks/file-logger';
import { preview } from '../render/events';
import { printable, writeLine } from '../render/safe-text';
import { Prices } from '../cost/prices';
import { buildReport, reportText } from '../report';
import { packageRoot } from '../core/package-root';

export async function runDemo(o: DemoOptions & FileOutputOptions & RecordCliOptions, io: SessionIo, otlp: Analyzer | null = null): Promise<number> {
  const agent = o.agent ?? 'python';
  const provider = o.provider ?? 'anthropic';
  const script = path.join(packageRoot(), 'demo', agent === 'node' ? 'agent.js' : 'agent.py');
  if (!fs.existsSync(script)) throw new UsageError(`demo agent not found: ${script}`);
  const python = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
  const command = agent === 'node' ? [process.execPath, script] : [python, script];
  command.push('--provider', provider, o.stream === false ? '--no-stream' : '--stream', 'What kernel is this machine running? run: uname -a');

  const standin = await startStandin({});
  // what the demo says quotes captured text (model answers, commands): one escaped line each
  const say = (s: string) => writeLine(io.stderr, s);
  const file = o.output ?? path.resolve(`agentsight-demo-${Date.now()}.ndjson`);
  const llm: Event[] = [];
  const linked: Event[] = [];
  try {
    say(`demo: LLM API stand-in listening on ${standin.url} (loopback, throwaway certificate)`);
    say(`demo: recording: ${command.join(' ')}`);
    const logger = await openFileLogger({ ...o, output: file });
    const prices = Prices.load(o.prices);
    const r = await runRecord(command, { live: o.live ?? true, quiet: o.quiet, statsIntervalMs: o.statsIntervalMs, prices }, io, {
      sinks: [...(otlp ? [otlp] : []), ...(logger ? [logger] : [])],
      file: logger?.path ?? null,
      launch: { env: { ...process.env, ...standin.env(), NO_PROXY: '127.0.0.1,localhost' }, asInvokingUser: true },
      onEvent: (e) => {
        if (e.source === 'llm') llm.push(e);
        if (e.source === 'process' && e.data.event === 'EXEC' && e.data.llm_call_id) linked.push(e);
      },
    });
    say('');
    for (const l of r.summary) say(`agentsight: ${l}`);
    say('');
    say('demo: what the kernel saw');
    for (const e of llm) {
      const d = e.data;
      const tools = (d.response.tool_calls as { name: string; command?: string; id: string }[]).map(
        (t) => `${printable(t.name)}(${printable(String(t.command ?? ''))}) [${printable(t.id)}]`,
      );
      say(
        `  LLM call ${d.call_id}: ${d.endpoint.method} ${d.endpoint.host}${d.endpoint.path} -> ${d['http.response.status_code']}, model ${d['gen_ai.response.model'] ?? d['gen_ai.request.model']}, ${d.streaming ? 'streamed' : 'JSON'}, ${d['gen_ai.usage.input_tokens'] ?? '?'} in / ${d['gen_ai.usage.output_tokens'] ?? '?'} out tokens`,
      );
      if (d.response.text) say(`    answer: ${preview(String(d.response.text), 150)}`);
      if (tools.length) say(`    asked to run: ${tools.join(', ')}`);
    }
    for (const e of linked) say(`  exec [${e.pid}] ${preview(String(e.data.full_command), 80)}  <- tool call ${e.data.tool_call_id} of ${e.data.llm_call_id}`);
    const rel = path.relative(process.cwd(), file) || file;
    say(`demo: every event is in ${rel} (NDJSON, 0600)`);
    say('');
    say(`demo: its report (agentsight report ${rel}):`);
    say('');
    io.stderr.write(reportText(await buildReport([file], { prices })));
    say('');
    say(`demo: to look at it in a browser (a local web UI; it prints the URL to open): agentsight ui ${rel}`);
    if (llm.length === 0) {
      say('demo: FAILED: no LLM call was captured');
      return 1;
    }
    if (linked.length === 0) {
      say('demo: FAILED: the tool the model asked for was not seen running');
      return 1;
    }
    return r.exitCode;
  } finally {
    await standin.close();
  }
}
