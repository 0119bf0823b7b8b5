/**
 * The filter expression language of --http-filter and --ssl-filter
 * (docs/filters.md): conditions `field op value`, `&` (binds tighter) and
 * `|`, `!` and parentheses; bare words desugared by the dialect.
 */
import { UsageError } from '../core/errors';

/** Comparison operators. */
export type Op = '=' | '!=' | '~' | '>' | '<' | '>=' | '<=';
export const OPS: readonly Op[] = ['>=', '<=', '!=', '=', '~', '>', '<'];
export const ORDERING_OPS: ReadonlySet<Op> = new Set<Op>(['>', '<', '>=', '<=']);

/** Expression tree: binary and/or (left-associative), not, and conditions. */
export type Expr =
  | { kind: 'or'; left: Expr; right: Expr }
  | { kind: 'and'; left: Expr; right: Expr }
  | { kind: 'not'; expr: Expr }
  | { kind: 'cmp'; field: string; op: Op; value: string };

/** What a filter kind knows: its fields and how it reads bare words. */
export interface Dialect {
  /** Name used in error messages, e.g. "--http-filter". */
  flag: string;
  /** Canonical field name for what was written (aliases, case), or null when unknown. */
  field(name: string): string | null;
  /** Field names listed in the "unknown field" message. */
  known: readonly string[];
  /** A condition for a run of bare words, or an error message. */
  bare(words: readonly string[]): Expr | string;
}

const SPECIAL = new Set(['&', '|', '(', ')']);
/** Deepest nesting of parentheses and "!" an expression may have. */
export const MAX_NESTING = 100;
const FIELD_RE = /[A-Za-z_][A-Za-z0-9_.\-]*/y;

class Parser {
  private pos = 0;
  private depth = 0;
  constructor(
    private readonly src: string,
    private readonly dialect: Dialect,
  ) {}

  parse(): Expr {
    this.ws();
    if (this.pos >= this.src.length) this.fail('empty expression');
    const e = this.or();
    this.ws();
    if (this.pos < this.src.length) this.fail(this.src[this.pos] === ')' ? 'unbalanced ")"' : `unexpected "${this.src[this.pos]}"`);
    return e;
  }

  fail(msg: string, at = this.pos): never {
    throw new UsageError(`invalid ${this.dialect.flag} expression: ${msg} at column ${at + 1}\n  ${this.src}\n  ${' '.repeat(at)}^`);
  }

  private ws(): void {
    while (this.pos < this.src.length && /\s/.test(this.src[this.pos])) this.pos++;
  }

  private peek(): string {
    this.ws();
    return this.src[this.pos] ?? '';
  }

  private or(): Expr {
    let left = this.and();
    while (this.peek() === '|') {
      this.pos++;
      if (this.src[this.pos] === '|') this.pos++; // accept "||"
      left = { kind: 'or', left, right: this.and() };
    }
    return left;
  }

  private and(): Expr {
    let left = this.unary();
    while (this.peek() === '&') {
      this.pos++;
      if (this.src[this.pos] === '&') this.pos++; // accept "&&"
      left = { kind: 'and', left, right: this.unary() };
    }
    return left;
  }

  private unary(): Expr {
    const c = this.peek();
    if (c === '!' && this.src[this.pos + 1] !== '=') {
      this.nest();
      this.pos++;
      const e: Expr = { kind: 'not', expr: this.unary() };
      this.depth--;
      return e;
    }
    if (c === '(') {
      this.nest();
      const open = this.pos;
      this.pos++;
      if (this.peek() === ')') this.fail('empty parentheses');
      const e = this.or();
      if (this.peek() !== ')') this.fail(`missing ")" for "(" at column ${open + 1}`);
      this.pos++;
      this.depth--;
      return e;
    }
    if (c === '') this.fail('expected a condition after an operator');
    if (c === ')' || c === '&' || c === '|') this.fail(`expected a condition, found "${c}"`);
    return this.condition();
  }

  private nest(): void {
    if (++this.depth > MAX_NESTING) this.fail(`nested too deeply (more than ${MAX_NESTING} levels of parentheses and "!")`);
  }

  private condition(): Expr {
    const start = this.pos;
    FIELD_RE.lastIndex = this.pos;
    const m = FIELD_RE.exec(this.src);
    if (m) {
      let p = this.pos + m[0].length;
      while (p < this.src.length && /\s/.test(this.src[p])) p++;
      const op = OPS.find((o) => this.src.startsWith(o, p));
      if (op) {
        const field = this.dialect.field(m[0]);
        if (field === null) this.fail(`unknown field "${m[0]}" (known: ${this.dialect.known.join(', ')})`, start);
        this.pos = p + op.length;
        this.ws();
        const valueAt = this.pos;
        const value = this.value();
        if (value === null) this.fail(`expected a value after "${op}"`, valueAt);
        if (ORDERING_OPS.has(op) && !isNumeric(value)) this.fail(`"${op}" compares numbers: "${value}" is not a number`, valueAt);
        return { kind: 'cmp', field, op, value };
      }
    }
    // Bare words up to an operator, a parenthesis or the end.
    const words: string[] = [];
    for (;;) {
      const c = this.peek();
      if (c === '' || SPECIAL.has(c)) break;
      const at = this.pos;
      const w = this.value();
      if (w === null) break;
      if (/^(?:>=|<=|!=|=|~|>|<)/.test(w)) this.fail(`a condition needs a field before "${w[0] === '!' ? '!=' : w.match(/^(>=|<=|=|~|>|<)/)![0]}"`, at);
      words.push(w);
    }
    if (words.length === 0) this.fail('expected a condition', start);
    const r = this.dialect.bare(words);
    if (typeof r === 'string') this.fail(r, start);
    return r;
  }

  /** A quoted string (with \ escapes) or a run of characters up to whitespace or & | ( ). */
  private value(): string | null {
    const q = this.src[this.pos];
    if (q === '"' || q === "'") {
      const open = this.pos;
      let out = '';
      this.pos++;
      while (this.pos < this.src.length && this.src[this.pos] !== q) {
        if (this.src[this.pos] === '\\' && this.pos + 1 < this.src.length) this.pos++;
        out += this.src[this.pos++];
      }
      if (this.pos >= this.src.length) this.fail('unterminated string', open);
      this.pos++;
      return out;
    }
    const start = this.pos;
    while (this.pos < this.src.length && !/\s/.test(this.src[this.pos]) && !SPECIAL.has(this.src[this.pos])) this.pos++;
    return this.pos > start ? this.src.slice(start, this.pos) : null;
  }
}

/** Parse an expression; throws UsageError showing where it is wrong. */
export function parseExpr(src: string, dialect: Dialect): Expr {
  return new Parser(src, dialect).parse();
}

/** True for a decimal number (integer or fraction, optional sign). */
export function isNumeric(s: string): boolean {
  // unambiguous (each digit can match one way only): linear on any input, e.g. a 60 KB header value
  return /^[-+]?(?:\d+(?:\.\d*)?|\.\d+)$/.test(s.trim());
}

function quote(v: string): string {
  if (v !== '' && /^[^\s&|()"'\\!=~<>]+$/.test(v)) return v;
  return '"' + v.replace(/\\/g, '\\\\').replace(/"/g, '\\"') + '"';
}

const PREC: Record<Expr['kind'], number> = { or: 1, and: 2, not: 3, cmp: 4 };

/** Print an expression in canonical form; parseExpr(printExpr(e)) equals e. */
export function printExpr(e: Expr): string {
  switch (e.kind) {
    case 'cmp':
      return `${e.field} ${e.op} ${quote(e.value)}`;
    case 'not':
      return '!' + wrap(e.expr, PREC.not, true);
    case 'and':
    case 'or': {
      // a chain a | b | c ... is a left spine: walk it, never recurse along it (10k terms are fine)
      const items: Expr[] = [];
      let x: Expr = e;
      while (x.kind === e.kind) {
        items.push(x.right);
        x = x.left;
      }
      const first = wrap(x, PREC[e.kind], false);
      const rest = items.reverse().map((r) => wrap(r, PREC[e.kind], true));
      return [first, ...rest].join(e.kind === 'and' ? ' & ' : ' | ');
    }
  }
}

function wrap(child: Expr, parentPrec: number, right: boolean): string {
  const p = PREC[child.kind];
  const needs = p < parentPrec || (right && p === parentPrec && child.kind !== 'not');
  const s = printExpr(child);
  return needs ? `(${s})` : s;
}

/** Conjunction of conditions (left-associative). */
export function allOf(items: readonly Expr[]): Expr {
  return items.slice(1).reduce<Expr>((left, right) => ({ kind: 'and', left, right }), items[0]);
}
