/**
 * Captured text on a terminal. Process names, argv, file paths, model text,
 * HTTP paths and headers, tool names and arguments all come from the traced
 * world; any of them can hold escape sequences that would retitle, clear or
 * rewrite the terminal of whoever watches (often root), or a line break that
 * forges a line of agentsight's own. Everything agentsight prints to a
 * terminal goes through printable() (one field) or terminalLine() (a whole
 * line that may carry agentsight's own colours): what would be interpreted is
 * shown instead, as an escape in the usual backslash notation.
 *
 * NDJSON is different: it stays exact JSON, and jsonText() makes sure no
 * character of the set below is in it unescaped either (sinks/ndjson.ts).
 */

/**
 * What a terminal would interpret, or what reorders or breaks a line:
 * C0 controls (ESC, BEL, CR, LF, backspace, TAB...), DEL, C1 controls (0x9b is
 * an 8-bit CSI), U+2028/U+2029 (line and paragraph separators), and the bidi
 * controls that reorder what is shown: U+061C, U+200E/U+200F, the embeddings
 * and overrides U+202A–U+202E and the isolates U+2066–U+2069.
 */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const HAS_UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function escapeChar(ch: string): string {
  const named = NAMED[ch];
  if (named) return named;
  const code = ch.charCodeAt(0);
  return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/**
 * `text` with every character a terminal would interpret (see UNSAFE) shown
 * as an escape: ESC as `\x1b`, a newline as `\n`, U+202E as `\u202e`. The
 * result is one line and is safe to print; printable(printable(s)) ===
 * printable(s). Anything that is not a string is converted with String().
 */
export function printable(text: unknown): string {
  const s = typeof text === 'string' ? text : String(text);
  return HAS_UNSAFE.test(s) ? s.replace(UNSAFE, escapeChar) : s;
}

/**
 * JSON text (from JSON.stringify) with the characters above that JSON leaves
 * as they are (DEL, C1 controls, U+2028/U+2029, bidi controls) written as
 * \uXXXX escapes: the same JSON value, but safe on a terminal (`--format
 * json` on a TTY, `cat` of a session file). JSON.stringify escapes C0
 * controls itself, and these characters can only be inside strings.
 */
export function jsonText(json: string): string {
  return HAS_UNSAFE.test(json) ? json.replace(UNSAFE, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`) : json;
}

/** agentsight's own SGR colour codes (render/events.ts and render/http.ts): reset, bold, dim, normal intensity, six colours, default colour. */
const OWN_SGR = /\x1b\[(?:0|1|2|22|3[1-6]|39)m/g;

/**
 * A whole rendered line made safe: everything unsafe is escaped as by
 * printable(), except, when `color` is set, agentsight's own SGR colour codes
 * (exactly those, nothing else that starts with ESC). Renderers escape each
 * captured field already; this is the last check before the terminal, and
 * covers renderers registered by library users too.
 */
export function terminalLine(line: string, color = false): string {
  if (!HAS_UNSAFE.test(line)) return line;
  if (!color) return line.replace(UNSAFE, escapeChar);
  let out = '';
  let last = 0;
  for (const m of line.matchAll(OWN_SGR)) {
    out += line.slice(last, m.index).replace(UNSAFE, escapeChar) + m[0];
    last = m.index + m[0].length;
  }
  return out + line.slice(last).replace(UNSAFE, escapeChar);
}

/**
 * Text of several lines (a libbpf log, a stack trace) made safe line by line:
 * its own line breaks stay, everything else unsafe is escaped.
 */
export function printableLines(text: string): string {
  return text
    .split(/\r?\n/)
    .map((l) => printable(l))
    .join('\n');
}

/** Write one line of agentsight's own (e.g. "agentsight: " + a notice quoting captured text) to a stream: escaped, then "\n". */
export function writeLine(stream: { write(s: string): unknown }, line: string): void {
  stream.write(`${printable(line)}\n`);
}
