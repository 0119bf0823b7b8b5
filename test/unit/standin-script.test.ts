/** The stand-in's scripted model and its helpers: pure functions. */
import { describe, expect, it } from 'vitest';
import {
  API_KEY_PATTERNS,
  commandFromPrompt,
  DEFAULT_COMMAND,
  finalText,
  negotiate,
  replyFor,
  splitDeltas,
  TEST_ANTHROPIC_API_KEY,
  TEST_API_KEYS,
  TEST_GEMINI_API_KEY,
  TEST_OPENAI_API_KEY,
} from '../../lib/standin';

describe('commandFromPrompt', () => {
  it('takes "run: <cmd>" to the end of the line', () => {
    expect(commandFromPrompt('Please run: uname -a')).toBe('uname -a');
    expect(commandFromPrompt('first line\nexecute: ls -la /tmp  \nthanks')).toBe('ls -la /tmp');
    expect(commandFromPrompt('Run: `id -u`')).toBe('id -u');
  });
  it('takes run `<cmd>` in backticks', () => {
    expect(commandFromPrompt('could you run `cat /etc/os-release` for me')).toBe('cat /etc/os-release');
  });
  it('finds nothing in a prompt without a command', () => {
    expect(commandFromPrompt('what is the weather like')).toBeUndefined();
  });
});

describe('splitDeltas', () => {
  it('gives many pieces that join back to the text, never splitting a character', () => {
    const text = finalText('anthropic.messages', 'echo hi', { output: 'hé 😀 ✓ wörld\n', isError: false });
    const pieces = splitDeltas(text, 12);
    expect(pieces.join('')).toBe(text);
    expect(pieces.length).toBeGreaterThan(20);
    for (const p of pieces) {
      expect(p.length).toBeGreaterThan(0);
      // No lone surrogate at either end.
      expect(/^[\uDC00-\uDFFF]|[\uD800-\uDBFF]$/.test(p)).toBe(false);
    }
    const long = '😀'.repeat(40);
    expect(splitDeltas(long, 5).join('')).toBe(long);
  });
});

describe('scripted replies', () => {
  const bash = { name: 'bash', input_schema: { type: 'object', properties: { command: { type: 'string' } } } };

  it('asks for the command in the prompt with the offered shell tool', () => {
    const r = replyFor('anthropic.messages', { model: 'm', max_tokens: 10, tools: [bash], messages: [{ role: 'user', content: 'run: df -h' }] });
    expect(r.kind).toBe('tool_call');
    expect(r.toolCall).toEqual({ name: 'bash', input: { command: 'df -h' }, arguments: '{"command":"df -h"}', command: 'df -h' });
    expect(r.text).toBe("I'll run `df -h` with the bash tool and report what it prints.");
  });

  it('uses the default command, the offered tool name and its command argument', () => {
    const r = replyFor('openai.chat_completions', {
      model: 'm',
      messages: [{ role: 'user', content: 'what is here?' }],
      tools: [
        { type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } },
        { type: 'function', function: { name: 'run_command', parameters: { type: 'object', properties: { cmd: { type: 'string' } } } } },
      ],
    });
    expect(r.toolCall).toMatchObject({ name: 'run_command', input: { cmd: DEFAULT_COMMAND } });
    expect(r.text).toBe('');
  });

  it("asks Codex CLI's tools in their shapes: exec_command with cmd, shell with an argv array, and reads them back", () => {
    const execCommand = {
      type: 'function',
      name: 'exec_command',
      parameters: { type: 'object', properties: { cmd: { type: 'string' }, workdir: { type: 'string' } } },
    };
    const update = { type: 'function', name: 'update_plan', parameters: { type: 'object', properties: { plan: { type: 'array' } } } };
    const r = replyFor('openai.responses', { model: 'gpt-5', input: [{ role: 'user', content: 'run: uname -a' }], tools: [update, execCommand] });
    expect(r.toolCall).toMatchObject({ name: 'exec_command', input: { cmd: 'uname -a' }, command: 'uname -a' });
    const shell = { type: 'function', name: 'shell', parameters: { type: 'object', properties: { command: { type: 'array', items: { type: 'string' } } } } };
    const s2 = replyFor('openai.responses', { model: 'gpt-5', input: [{ role: 'user', content: 'run: uname -a' }], tools: [shell] });
    expect(s2.toolCall).toMatchObject({ name: 'shell', input: { command: ['bash', '-lc', 'uname -a'] }, arguments: '{"command":["bash","-lc","uname -a"]}' });
    const back = replyFor('openai.responses', {
      model: 'gpt-5',
      input: [
        { role: 'user', content: 'run: uname -a' },
        { type: 'function_call', call_id: 'call_9', name: 'shell', arguments: s2.toolCall!.arguments },
        { type: 'function_call_output', call_id: 'call_9', output: 'Linux\n' },
      ],
      tools: [shell],
    });
    expect(back.text).toBe(finalText('openai.responses', 'uname -a', { output: 'Linux\n', isError: false }));
  });

  it('answers with the tool output once the result is sent back', () => {
    const r = replyFor('openai.responses', {
      model: 'm',
      input: [
        { role: 'user', content: 'run: date' },
        { type: 'function_call', call_id: 'call_1', name: 'shell', arguments: '{"command":"date -u"}' },
        { type: 'function_call_output', call_id: 'call_1', output: 'Thu Jan  1 00:00:00 UTC 1970\n' },
      ],
      tools: [{ type: 'function', name: 'shell', parameters: {} }],
    });
    expect(r.kind).toBe('final');
    expect(r.text).toBe(finalText('openai.responses', 'date -u', { output: 'Thu Jan  1 00:00:00 UTC 1970\n', isError: false }));
  });

  it('says the command failed when the tool result is an error', () => {
    const r = replyFor('anthropic.messages', {
      model: 'm',
      max_tokens: 10,
      messages: [
        { role: 'user', content: 'run: false' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'bash', input: { command: 'false' } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: [{ type: 'text', text: 'boom' }], is_error: true }] },
      ],
    });
    expect(r.text).toMatch(/^The command `false` failed\. Its output was:\n\nboom\n\n/);
  });

  it('reads Gemini function responses', () => {
    const r = replyFor('gemini.generate_content', {
      contents: [
        { role: 'user', parts: [{ text: 'run: hostname' }] },
        { role: 'model', parts: [{ functionCall: { name: 'bash', args: { command: 'hostname' } } }] },
        { role: 'user', parts: [{ functionResponse: { name: 'bash', response: { output: 'box\n' } } }] },
      ],
    });
    expect(r.text).toContain('`hostname` finished. Its output was:\n\nbox\n');
  });

  it('answers without a tool call when tool_choice is none or no tool is offered', () => {
    const none = replyFor('openai.chat_completions', {
      model: 'm',
      tool_choice: 'none',
      tools: [{ type: 'function', function: { name: 'bash' } }],
      messages: [{ role: 'user', content: 'run: ls' }],
    });
    expect(none.kind).toBe('plain');
    const plain = replyFor('gemini.generate_content', { contents: [{ parts: [{ text: 'hello' }] }] });
    expect(plain.text).toContain('You said: "hello"');
  });

  it('is deterministic', () => {
    const body = {
      model: 'm',
      max_tokens: 10,
      thinking: { type: 'enabled', budget_tokens: 100 },
      tools: [bash],
      messages: [{ role: 'user', content: 'run: ls' }],
    };
    expect(replyFor('anthropic.messages', body)).toEqual(replyFor('anthropic.messages', structuredClone(body)));
    expect(replyFor('anthropic.messages', body).thinking).toContain('`ls`');
  });
});

describe('Accept-Encoding negotiation', () => {
  it('follows the server preference among what the client accepts', () => {
    expect(negotiate('br, gzip, deflate', ['gzip', 'br'])).toBe('gzip');
    expect(negotiate('br;q=1, gzip;q=0', ['gzip', 'br'])).toBe('br');
    expect(negotiate('identity', ['gzip'])).toBeUndefined();
    expect(negotiate(undefined, ['gzip'])).toBeUndefined();
    expect(negotiate('*', ['zstd'])).toBe('zstd');
  });
});

describe('test API keys', () => {
  it('have the real shapes and are obviously fake', () => {
    expect(TEST_ANTHROPIC_API_KEY).toMatch(new RegExp(`^${API_KEY_PATTERNS.anthropic.source}$`));
    expect(TEST_OPENAI_API_KEY).toMatch(new RegExp(`^${API_KEY_PATTERNS.openai.source}$`));
    expect(TEST_GEMINI_API_KEY).toMatch(new RegExp(`^${API_KEY_PATTERNS.gemini.source}$`));
    expect(TEST_ANTHROPIC_API_KEY).toHaveLength(108);
    expect(TEST_GEMINI_API_KEY).toHaveLength(39);
    for (const k of TEST_API_KEYS) expect(k).toContain('AgentSightFakeKey');
  });
});
