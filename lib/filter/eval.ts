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

/**
 * Does the event match the expression? Fields the event lacks make their
 * condition false. Evaluated with an explicit stack (and short-circuit), so
 * the size of an expression (a flat OR of 10k terms is a 10k-deep tree) never
 * meets the call stack.
 */
export function evaluate(root: Expr, event: Event, get: (ev: Event, field: string) => FieldValue): boolean {
  const nodes: Expr[] = [root];
  /** per node on the stack: 0 not started, 1 left (or operand) done, 2 right done */
  const steps: number[] = [0];
  let result = false;
  while (nodes.length) {
    const top = nodes.length - 1;
    const e = nodes[top];
    if (e.kind === 'cmp') {
      result = compare(e.field, e, get(event, e.field));
      nodes.pop();
      steps.pop();
    } else if (e.kind === 'not') {
      if (steps[top] === 0) {
        steps[top] = 1;
        nodes.push(e.expr);
        steps.push(0);
      } else {
        result = !result;
        nodes.pop();
        steps.pop();
      }
    } else if (steps[top] === 0) {
      steps[top] = 1;
      nodes.push(e.left);
      steps.push(0);
    } else if (steps[top] === 1 && (e.kind === 'or' ? !result : result)) {
      // the left side did not decide it: the right side's value is the result
      steps[top] = 2;
      nodes.push(e.right);
      steps.push(0);
    } else {
      nodes.pop();
      steps.pop();
    }
  }
  return result;
}
