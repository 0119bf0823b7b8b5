/**
 * Secrets on command lines. The argv of an EXEC is scanned as one command
 * line (elements holding spaces in quotes), so `--password X`, `mysql -pX`,
 * `curl -u user:pass` and `-H "Authorization: Bearer X"` are found across
 * elements; the masks are mapped back to the elements, and `full_command`
 * (argv joined by spaces) is rebuilt from the masked elements.
 */
import { findSecrets } from './find';
import { applyRanges } from './mask';
import { classifyName, credentialLike } from './names';
import type { Finding, Range } from './types';

export interface MaskedArgv {
  argv: string[];
  findings: Finding[];
}

/** Is a value under this name (an option or a variable) a secret? Options named token/password/auth take one whatever it looks like. */
function secretUnder(name: string, value: string, option: boolean): boolean {
  const v = classifyName(name);
  if (!v || value === '') return false;
  if (v.strength === 'secret') return true;
  return (option && /token|pass|auth|secret|pwd/i.test(name)) || credentialLike(value);
}

/**
 * Element-level secrets: `NAME=value` and `--name=value` elements (the value
 * is the rest of the element, spaces included), and the element after a
 * `--name` option named like a secret.
 */
function elementFindings(argv: readonly string[]): Map<number, Finding[]> {
  const out = new Map<number, Finding[]>();
  const add = (k: number, start: number, kind: string) => {
    const list = out.get(k) ?? [];
    list.push({ start, end: argv[k].length, kind });
    out.set(k, list);
  };
  argv.forEach((a, k) => {
    const m = /^(-{0,2})([A-Za-z_][A-Za-z0-9_.-]*)=(.+)$/s.exec(a);
    if (m && secretUnder(m[2], m[3], m[1] !== '') && !/^no[-_]/i.test(m[2])) add(k, a.length - m[3].length, classifyName(m[2])?.kind ?? 'secret');
    // `aws configure set aws_secret_access_key X`, `git config --global user.password X`
    if (k >= 1 && /^(?:set|config|add|put|--global|--local|--system)$/.test(argv[k - 1]) && argv[k + 1] !== undefined && classifyName(a)?.strength === 'secret')
      add(k + 1, 0, classifyName(a)?.kind ?? 'secret');
    const o = /^--?([a-z][a-z0-9]*(?:[-_][a-z0-9]+)*)$/.exec(a);
    const next = argv[k + 1];
    if (o && next !== undefined && !next.startsWith('-') && !/^no[-_]/.test(o[1]) && secretUnder(o[1], next, true))
      add(k + 1, 0, classifyName(o[1])?.kind ?? 'secret');
  });
  return out;
}

/** The elements of argv with their secrets masked (the same array when there are none). */
export function redactArgv(argv: readonly string[]): MaskedArgv {
  const elements = elementFindings(argv);
  let line = '';
  const at: Array<[number, number]> = [];
  argv.forEach((a, k) => {
    if (k) line += ' ';
    const quote = /[\s"]/.test(a) && !a.includes("'") ? "'" : /\s/.test(a) && !a.includes('"') ? '"' : '';
    line += quote;
    at.push([line.length, line.length + a.length]);
    line += a + quote;
  });
  const findings = findSecrets(line).findings;
  if (findings.length === 0 && elements.size === 0) return { argv: argv as string[], findings };
  const out = argv.map((a, k) => {
    const [s, e] = at[k];
    const mine: Range[] = [...(elements.get(k) ?? [])];
    for (const f of findings) if (f.start < e && f.end > s) mine.push({ start: Math.max(f.start, s) - s, end: Math.min(f.end, e) - s });
    return mine.length ? applyRanges(a, mine) : a;
  });
  for (const list of elements.values()) findings.push(...list);
  return { argv: out, findings };
}
