/** Evaluation of filter expressions against events. */
import type { Event } from '../core/event';
import type { FieldValue } from './dialects';
import { Expr, isNumeric, ORDERING_OPS } from './expr';

/** Fields whose string comparison ignores case. */
const CASE_INSENSITIVE = new Set(['request.method', 'function', 'type']);

function compare(field: string, op: Expr & { kind: 'cmp' }, v: FieldValue): boolean {
  if (v === undefined) return false;
  const want = op.value;
  if (ORDERING_OPS.has(op.op)) {
    const a = typeof v === 'number' ? v : typeof v === 'string' && isNumeric(v) ? Number(v) : NaN;
    const b = Number(want);
    if (Number.isNaN(a)) return false;
    switch (op.op) {
      case '>':
        return a > b;
      case '<':
        return a < b;
      case '>=':
        return a >= b;
      default:
        return a <= b;
    }
  }
  let s = String(v);
  let w = want;
  if (op.op !== '~' && typeof v === 'number' && isNumeric(want)) {
    const eq = v === Number(want);
    return op.op === '=' ? eq : !eq;
  }
  if (CASE_INSENSITIVE.has(field)) {
    s = s.toLowerCase();
    w = w.toLowerCase();
  }
  if (field.endsWith('.path_prefix')) {
    const p = s.startsWith(w);
    return op.op === '!=' ? !p : p;
  }
  if (field.endsWith('_contains') || op.op === '~') {
    const c = s.includes(w);
    return op.op === '!=' ? !c : c;
  }
  return op.op === '=' ? s === w : s !== w;
}

/** Does the event match the expression? Fields the event lacks make their condition false. */
export function evaluate(e: Expr, event: Event, get: (ev: Event, field: string) => FieldValue): boolean {
  switch (e.kind) {
    case 'or':
      return evaluate(e.left, event, get) || evaluate(e.right, event, get);
    case 'and':
      return evaluate(e.left, event, get) && evaluate(e.right, event, get);
    case 'not':
      return !evaluate(e.expr, event, get);
    case 'cmp':
      return compare(e.field, e, get(event, e.field));
  }
}
