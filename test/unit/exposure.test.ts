/**
 * exposure events: a secret inside a request to an LLM API is reported
 * (kind, place, call, process, masked, fingerprint), the call's own API key
 * is not, and the session summary lists them. Driven through the chains as
 * agent/record and `ssl --http-parser` build them.
 */
import { describe, expect, it } from 'vitest';
import { tlsAnalyzers } from '../../lib/analyzers/chains';
import { summaryText } from '../../lib/analyzers/summary';
import { chainOptions } from '../../lib/config/options';
import type { Event } from '../../lib/core/event';
import { fingerprint } from '../../lib/redact/exposure';
import { agentAnalyzers } from '../../lib/session/agent';
import { exec, run, ssl } from '../support/events';

/* eslint-disable @typescript-eslint/no-require-imports */
const C = require('../fixtures/redaction-corpus.js');
const W = require('../fixtures/wire-samples.js');
/* eslint-enable @typescript-eslint/no-require-imports */

const KEY = 'sk-ant-api03-' + 'Pasted9Key8In7The6Prompt5'.repeat(3) + 'AA';
const GH = 'ghp_' + 'T00l7Resu1tT0ken'.repeat(2) + 'abcd';
const PEM = '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----';

function exchange(body: Record<string, unknown>, headers?: string[], path?: string): Event[] {
  return [ssl('WRITE/SEND', C.anthropicCall(body, headers, path)), ssl('READ/RECV', C.OK_MSG)];
}

async function agent(events: Event[]): Promise<{ out: Event[]; summary: ReturnType<typeof agentAnalyzers>['summary'] }> {
  const a = agentAnalyzers({});
  const tls = await run(
    a.tls,
    events.filter((e) => e.source === 'ssl'),
  );
  const merged = [...tls, ...events.filter((e) => e.source !== 'ssl')].sort((x, y) => (x.mono_ns ?? 0) - (y.mono_ns ?? 0));
  return { out: await run(a.global, merged), summary: a.summary };
}

const exposures = (out: Event[]) => out.filter((e) => e.source === 'exposure').map((e) => e.data);

describe('exposure events', () => {
  it('say which secret a request carried, where, in which call and process, without the secret', async () => {
    const body = {
      system: `Deploy with ${GH}.`,
      messages: [
        { role: 'user', content: `my key is ${KEY}, use it` },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'bash', input: { command: 'cat key.json', password: 'hunter2-in-args' } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: JSON.stringify({ private_key: PEM }) }] },
      ],
    };
    const { out, summary } = await agent(
      exchange(body, [...['Content-Type: application/json', `x-api-key: ${W.ANTHROPIC_KEY}`], 'X-Upstream-Token: upstream-secret-123456']),
    );
    const xs = exposures(out);
    const llm = out.find((e) => e.source === 'llm');
    expect(llm).toBeDefined();
    const by = (where: string) => xs.filter((x) => x.where === where).map((x) => [x.kind, x.field]);
    expect(by('prompt')).toEqual([['anthropic_api_key', 'messages[0]']]);
    expect(by('system')).toEqual([['github_token', 'system']]);
    expect(by('tool_arguments')).toEqual([['password', 'messages[1]']]);
    expect(by('tool_result')).toEqual([['private_key', 'messages[2]']]);
    expect(by('header')).toEqual([['token', 'x-upstream-token']]);
    for (const x of xs) {
      expect(x).toMatchObject({
        event: 'SECRET_SENT',
        api: 'anthropic.messages',
        provider: 'anthropic',
        'server.address': 'api.anthropic.com',
        path: '/v1/messages',
        seq: 0,
      });
      expect(x.call_id).toBe(llm?.data.call_id);
      expect(x.conn_id).toBe(llm?.data.conn_id);
      expect(x.fingerprint).toMatch(/^[0-9a-f]{4}$/);
    }
    expect(xs.find((x) => x.kind === 'anthropic_api_key')).toMatchObject({
      masked: expect.stringMatching(/^sk-ant-\[REDACTED\]\*+$/),
      fingerprint: fingerprint(KEY),
      length: KEY.length,
    });
    const all = JSON.stringify(out);
    for (const s of [KEY.slice(7, 30), GH.slice(4, 20), 'MIIEvQIB', 'hunter2-in', 'upstream-secret', W.ANTHROPIC_KEY.slice(13, 40)])
      expect(all).not.toContain(s);
    const e = out.find((x) => x.source === 'exposure');
    expect(e).toMatchObject({ pid: 4242, comm: 'python3' });
    // the summary lists them, the call's own key is not one
    expect(summary.result?.exposures_total).toBe(xs.length);
    expect(summary.result?.exposures.map((x) => x.kind).sort()).toEqual(['anthropic_api_key', 'github_token', 'password', 'private_key', 'token']);
    const text = summaryText(summary.result as NonNullable<typeof summary.result>).join('\n');
    expect(text).toContain(`secrets sent to LLM APIs: ${xs.length}`);
    expect(text).toMatch(new RegExp(`anthropic_api_key in prompt messages\\[0\\] of ${llm?.data.call_id}, python3\\[4242\\], fingerprint ${fingerprint(KEY)}`));
    expect(text).not.toContain(KEY.slice(7, 20));
  });

  it('are not made for the credential a call authenticates with, nor for requests to other APIs', async () => {
    const clean = await agent(exchange({ messages: [{ role: 'user', content: 'hello' }] }));
    expect(exposures(clean.out)).toEqual([]);
    const gemini = await agent([
      ssl('WRITE/SEND', W.geminiRequest().toString().replace('?alt=sse', `?alt=sse&key=${W.GOOGLE_KEY}`)),
      ssl('READ/RECV', W.geminiStreamResponse()),
    ]);
    expect(exposures(gemini.out)).toEqual([]);
    const other = await agent([
      ssl('WRITE/SEND', W.req('POST', '/v1/login', 'auth.example.com', ['Content-Type: application/json'], JSON.stringify({ password: 'hunter2-long' }))),
      ssl('READ/RECV', C.OK_MSG),
    ]);
    expect(exposures(other.out)).toEqual([]);
    expect(JSON.stringify(other.out)).not.toContain('hunter2-long');
    expect(summaryText(clean.summary.result as NonNullable<typeof clean.summary.result>).join('\n')).not.toContain('secrets sent');
  });

  it('the same secret sent again is folded in the summary; a key in the URL is reported there', async () => {
    const events = [
      ...exchange({ messages: [{ role: 'user', content: `key ${KEY}` }] }),
      ...exchange({ messages: [{ role: 'user', content: `again ${KEY}` }] }),
      ...exchange({ messages: [{ role: 'user', content: 'x' }] }, undefined, `/v1/messages?debug_token=${GH}`),
      exec({ argv: ['curl', '-H', `Authorization: Bearer ${KEY}`, 'https://api.anthropic.com/v1/models'] }),
    ];
    const { out, summary } = await agent(events);
    const xs = exposures(out);
    expect(xs.map((x) => [x.kind, x.where])).toEqual([
      ['anthropic_api_key', 'prompt'],
      ['anthropic_api_key', 'prompt'],
      ['github_token', 'url'],
    ]);
    expect(summary.result?.exposures.find((x) => x.kind === 'anthropic_api_key')?.count).toBe(2);
    const cmd = summary.result?.commands[0].command ?? '';
    expect(cmd).toContain('Authorization: [REDACTED]');
    expect(cmd).not.toContain(KEY.slice(7, 20));
  });

  it('ssl --http-parser reports them too (no llm call there: call_id null)', async () => {
    const out = await run(tlsAnalyzers(chainOptions({ httpParser: true, sseMerge: true })), exchange({ messages: [{ role: 'user', content: `k ${KEY}` }] }));
    expect(exposures(out)).toMatchObject([{ kind: 'anthropic_api_key', where: 'prompt', call_id: null, seq: 0 }]);
    // with --disable-auth-removal there is no redactor and no exposure event
    const off = await run(tlsAnalyzers(chainOptions({ httpParser: true, redact: false })), exchange({ messages: [{ role: 'user', content: `k ${KEY}` }] }));
    expect(exposures(off)).toEqual([]);
  });
});
