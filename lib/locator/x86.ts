/**
 * Just enough x86-64 for the locator, on top of the iced-x86 decoder
 * (WebAssembly, loaded on first use): recursive-descent decoding of one
 * function into plain records, and the few instruction forms the analysis
 * tracks values through (mov reg,imm / mov reg,reg / xor reg,reg / lea
 * reg,[rip+d] / calls).
 */
import type * as IcedNs from 'iced-x86';

type Iced = typeof IcedNs;
let icedMod: Iced | undefined;

/** The iced-x86 module, loaded lazily (its WebAssembly is ~0.8 MB). */
function iced(): Iced {
  if (!icedMod) icedMod = require('iced-x86') as Iced;
  return icedMod;
}

/** General-purpose registers by number: 0 rax, 1 rcx, 2 rdx, 3 rbx, 4 rsp, 5 rbp, 6 rsi, 7 rdi, 8..15 r8..r15. */
export const GPR = { rax: 0, rcx: 1, rdx: 2, rbx: 3, rsp: 4, rbp: 5, rsi: 6, rdi: 7, r8: 8, r9: 9, r10: 10, r11: 11 } as const;
/** System V argument registers in order: rdi, rsi, rdx, rcx, r8, r9. */
export const ARG_REGS = [7, 6, 2, 1, 8, 9] as const;
/** Caller-saved (clobbered by a call) registers. */
export const CALLER_SAVED = [0, 1, 2, 6, 7, 8, 9, 10, 11] as const;
const GPR_NAMES = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'];

/** Name of a GPR number. */
export function gprName(n: number): string {
  return GPR_NAMES[n] ?? `gpr${n}`;
}

/**
 * iced Register value -> [gpr number, width in bits], or undefined for
 * non-GPRs. High-byte registers (ah..bh) map to their full register, width 8.
 */
function gpr(reg: number): [number, number] | undefined {
  if (reg >= 1 && reg <= 4) return [reg - 1, 8]; // al cl dl bl
  if (reg >= 5 && reg <= 8) return [reg - 5, 8]; // ah ch dh bh
  if (reg >= 9 && reg <= 20) return [reg - 5, 8]; // spl..r15l
  if (reg >= 21 && reg <= 36) return [reg - 21, 16];
  if (reg >= 37 && reg <= 52) return [reg - 37, 32];
  if (reg >= 53 && reg <= 68) return [reg - 53, 64];
  return undefined;
}

/** What an instruction does, as far as the analysis cares. */
export type InsnOp =
  | { t: 'movImm'; dst: number; width: number; value: number }
  | { t: 'movReg'; dst: number; src: number; width: number; signExtend?: boolean }
  | { t: 'leaRip'; dst: number; value: number }
  | { t: 'zero'; dst: number }
  | { t: 'other' };

/** Control flow of an instruction. */
export type InsnFlow = 'next' | 'jmp' | 'jmp-indirect' | 'jcc' | 'ret' | 'call' | 'call-indirect' | 'int3' | 'stop';

/** One decoded instruction, as a plain record. */
export interface Insn {
  ip: number;
  len: number;
  flow: InsnFlow;
  /** Direct branch or call target. */
  target?: number;
  op: InsnOp;
  /** Bitmask of GPRs this instruction writes (by gpr number). */
  writes: number;
  /** Base register (gpr number, -1 for none or rip) of a memory operand this instruction writes, if any. */
  memWriteBase?: number;
  /** Intel-syntax text, for evidence and debugging. */
  text: string;
  /** The mnemonic, lower case ("mov", "cmp", "movzx", ...). */
  mn: string;
  /** Register operands by position (gpr number), where the operand is a general-purpose register. */
  reg0?: number;
  reg1?: number;
  /** The instruction's memory operand, if any. */
  mem?: MemOperand;
  /** The instruction's immediate operand, if any (sign-extended to 64 bits, as a number). */
  imm?: number;
}

/** A memory operand: [base + index*scale + disp]; base/index are gpr numbers, -1 for none, RIP for rip-relative (disp is then the absolute address). */
export interface MemOperand {
  base: number;
  index: number;
  scale: number;
  disp: number;
  /** Access size in bytes (0 when unknown, e.g. lea). */
  size: number;
}

/** MemOperand.base of a rip-relative operand. */
export const RIP = -2;

/** A function decoded by following its control flow from the entry. */
export interface DecodedFunction {
  entry: number;
  /** Exclusive upper bound the decoding was confined to. */
  limit: number;
  /** Instructions by address. */
  insns: Map<number, Insn>;
  /** Instruction addresses in ascending order. */
  order: number[];
  /** Addresses that are the target of a branch inside the function. */
  branchTargets: Set<number>;
  /** Problems found while decoding (invalid opcodes, branches into the middle of an instruction, ...). */
  problems: string[];
}

const MAX_INSNS = 20000;

/**
 * Decode the function at `entry` by recursive descent over its branches.
 * `bytes` holds the code from `base` on; decoding never goes below `entry` or
 * at/after `limit`: branches there are treated as leaving the function (tail
 * calls). Decoding stops at ret, int3, indirect jumps, invalid opcodes and
 * (after a call) at int3 padding.
 */
export function decodeFunction(bytes: Uint8Array, base: number, entry: number, limit: number): DecodedFunction {
  const I = iced();
  const decoder = new I.Decoder(64, bytes, I.DecoderOptions.None);
  const instr = new I.Instruction();
  const fmt = new I.Formatter(I.FormatterSyntax.Intel);
  const factory = new I.InstructionInfoFactory();
  const insns = new Map<number, Insn>();
  const branchTargets = new Set<number>();
  const problems: string[] = [];
  const end = Math.min(limit, base + bytes.length);
  const work: number[] = [entry];
  const covered = new Map<number, number>(); // byte address -> start of the instruction covering it (only non-start bytes)
  try {
    while (work.length > 0 && insns.size < MAX_INSNS) {
      let ip = work.pop()!;
      for (;;) {
        if (ip < entry || ip >= end) break;
        if (insns.has(ip)) break;
        if (covered.has(ip)) {
          problems.push(`branch to 0x${ip.toString(16)} lands inside the instruction at 0x${covered.get(ip)!.toString(16)}`);
          break;
        }
        decoder.position = ip - base;
        decoder.ip = BigInt(ip);
        decoder.decodeOut(instr);
        const len = instr.length;
        if (instr.isInvalid || ip + len > end) {
          problems.push(`undecodable bytes at 0x${ip.toString(16)}`);
          break;
        }
        const insn = convert(I, instr, factory, fmt, ip, len);
        insns.set(ip, insn);
        for (let k = 1; k < len; k++) {
          if (insns.has(ip + k)) problems.push(`instruction at 0x${ip.toString(16)} overlaps the one at 0x${(ip + k).toString(16)}`);
          covered.set(ip + k, ip);
        }
        const next = ip + len;
        if (insn.flow === 'jmp' || insn.flow === 'jcc') {
          const t = insn.target!;
          if (t >= entry && t < end) {
            branchTargets.add(t);
            work.push(t);
          }
          if (insn.flow === 'jmp') break;
          ip = next;
          continue;
        }
        if (insn.flow === 'ret' || insn.flow === 'jmp-indirect' || insn.flow === 'int3' || insn.flow === 'stop') break;
        if ((insn.flow === 'call' || insn.flow === 'call-indirect') && next < end && bytes[next - base] === 0xcc) break;
        ip = next;
      }
    }
  } finally {
    factory.free();
    fmt.free();
    instr.free();
    decoder.free();
  }
  if (insns.size >= MAX_INSNS) problems.push(`more than ${MAX_INSNS} instructions`);
  const order = [...insns.keys()].sort((a, b) => a - b);
  return { entry, limit: end, insns, order, branchTargets, problems };
}

/**
 * Decode [start, end) instruction after instruction (a linear sweep), for
 * code known to hold no data between its instructions (Go's compiler keeps
 * jump tables and constants out of the text). Undecodable bytes stop the
 * sweep with a problem: what follows them is not known to be instructions.
 */
export function decodeRange(bytes: Uint8Array, base: number, start: number, end: number): { insns: Insn[]; problems: string[] } {
  const I = iced();
  const decoder = new I.Decoder(64, bytes, I.DecoderOptions.None);
  const instr = new I.Instruction();
  const fmt = new I.Formatter(I.FormatterSyntax.Intel);
  const factory = new I.InstructionInfoFactory();
  const insns: Insn[] = [];
  const problems: string[] = [];
  const limit = Math.min(end, base + bytes.length);
  try {
    for (let ip = start; ip < limit && insns.length < MAX_INSNS;) {
      decoder.position = ip - base;
      decoder.ip = BigInt(ip);
      decoder.decodeOut(instr);
      const len = instr.length;
      if (instr.isInvalid || len === 0 || ip + len > limit) {
        problems.push(`undecodable bytes at 0x${ip.toString(16)}`);
        break;
      }
      insns.push(convert(I, instr, factory, fmt, ip, len));
      ip += len;
    }
  } finally {
    factory.free();
    fmt.free();
    instr.free();
    decoder.free();
  }
  if (insns.length >= MAX_INSNS) problems.push(`more than ${MAX_INSNS} instructions`);
  return { insns, problems };
}

function convert(I: Iced, ins: IcedNs.Instruction, factory: IcedNs.InstructionInfoFactory, fmt: IcedNs.Formatter, ip: number, len: number): Insn {
  const FC = I.FlowControl;
  const fc = ins.flowControl;
  const text = fmt.format(ins);
  let flow: InsnFlow;
  let target: number | undefined;
  switch (fc) {
    case FC.Next:
      flow = 'next';
      break;
    case FC.UnconditionalBranch:
      flow = 'jmp';
      target = Number(ins.nearBranchTarget);
      break;
    case FC.ConditionalBranch:
      flow = 'jcc';
      target = Number(ins.nearBranchTarget);
      break;
    case FC.IndirectBranch:
      flow = 'jmp-indirect';
      break;
    case FC.Return:
      flow = 'ret';
      break;
    case FC.Call:
      flow = 'call';
      target = Number(ins.nearBranchTarget);
      break;
    case FC.IndirectCall:
      flow = 'call-indirect';
      break;
    case FC.Interrupt:
      flow = ins.mnemonic === I.Mnemonic.Int3 ? 'int3' : 'stop';
      break;
    default:
      flow = 'stop'; // ud2, xbegin/xabort, exceptions
  }
  // jmp/jcc with a far or indirect form have no near target
  if ((flow === 'jmp' || flow === 'jcc' || flow === 'call') && (target === undefined || Number.isNaN(target))) flow = 'stop';

  let op: InsnOp = { t: 'other' };
  const M = I.Mnemonic;
  const OK = I.OpKind;
  const mn = ins.mnemonic;
  if (ins.opCount === 2 && ins.op0Kind === OK.Register) {
    const d = gpr(ins.op0Register);
    if (d) {
      const k1 = ins.op1Kind;
      if (mn === M.Mov && (k1 === OK.Immediate32 || k1 === OK.Immediate64 || k1 === OK.Immediate32to64)) {
        if (d[1] >= 32) op = { t: 'movImm', dst: d[0], width: d[1], value: Number(ins.immediate(1)) };
      } else if ((mn === M.Mov || mn === M.Movsxd) && k1 === OK.Register) {
        const s = gpr(ins.op1Register);
        if (s && d[1] >= 32 && s[1] >= 32) op = { t: 'movReg', dst: d[0], src: s[0], width: Math.min(d[1], s[1]), signExtend: mn === M.Movsxd };
      } else if ((mn === M.Xor || mn === M.Sub) && k1 === OK.Register && ins.op0Register === ins.op1Register && d[1] >= 32) {
        op = { t: 'zero', dst: d[0] };
      } else if (mn === M.Lea && k1 === OK.Memory && ins.isIpRelMemoryOperand && d[1] === 64) {
        op = { t: 'leaRip', dst: d[0], value: Number(ins.ipRelMemoryAddress) };
      }
    }
  }

  let writes = 0;
  let memWriteBase: number | undefined;
  if (op.t !== 'other') {
    writes = 1 << op.dst;
  } else if (flow === 'next' || flow === 'call' || flow === 'call-indirect') {
    const info = factory.info(ins);
    try {
      const OA = I.OpAccess;
      for (let i = 0; i < ins.opCount; i++) {
        if (ins.opKind(i) !== OK.Memory) continue;
        const a = info.opAccess(i);
        if (a === OA.Write || a === OA.CondWrite || a === OA.ReadWrite || a === OA.ReadCondWrite) {
          memWriteBase = gpr(ins.memoryBase)?.[0] ?? -1;
        }
      }
      for (const u of info.usedRegisters() as IcedNs.UsedRegister[]) {
        const g = gpr(u.register);
        const a = u.access;
        if (g && (a === I.OpAccess.Write || a === I.OpAccess.CondWrite || a === I.OpAccess.ReadWrite || a === I.OpAccess.ReadCondWrite)) {
          writes |= 1 << g[0];
        }
        u.free();
      }
    } finally {
      info.free();
    }
  }
  const out: Insn = { ip, len, flow, op, writes, text, mn: text.split(' ', 1)[0] };
  if (target !== undefined) out.target = target;
  if (memWriteBase !== undefined) out.memWriteBase = memWriteBase;
  for (let i = 0; i < ins.opCount && i < 2; i++) {
    const k = ins.opKind(i);
    if (k === OK.Register) {
      const g = gpr(i === 0 ? ins.op0Register : ins.op1Register);
      if (g) {
        if (i === 0) out.reg0 = g[0];
        else out.reg1 = g[0];
      }
    }
  }
  for (let i = 0; i < ins.opCount; i++) {
    const k = ins.opKind(i);
    if (k === OK.Memory && !out.mem) {
      const rip = ins.isIpRelMemoryOperand;
      out.mem = {
        base: rip ? RIP : (gpr(ins.memoryBase)?.[0] ?? -1),
        index: gpr(ins.memoryIndex)?.[0] ?? -1,
        scale: ins.memoryIndexScale,
        disp: rip ? Number(ins.ipRelMemoryAddress) : Number(BigInt.asIntN(64, ins.memoryDisplacementU64)),
        size: memSize(I, ins.memorySize),
      };
    } else if (
      out.imm === undefined &&
      (k === OK.Immediate8 ||
        k === OK.Immediate16 ||
        k === OK.Immediate32 ||
        k === OK.Immediate64 ||
        k === OK.Immediate8to16 ||
        k === OK.Immediate8to32 ||
        k === OK.Immediate8to64 ||
        k === OK.Immediate32to64)
    ) {
      out.imm = Number(BigInt.asIntN(64, ins.immediate(i)));
    }
  }
  return out;
}

function memSize(I: Iced, m: number): number {
  const M = I.MemorySize;
  if (m === M.UInt8 || m === M.Int8) return 1;
  if (m === M.UInt16 || m === M.Int16 || m === M.WordOffset) return 2;
  if (m === M.UInt32 || m === M.Int32 || m === M.DwordOffset) return 4;
  if (m === M.UInt64 || m === M.Int64 || m === M.QwordOffset) return 8;
  if (m === M.UInt128 || m === M.Packed128_UInt8 || m === M.Packed128_UInt64) return 16;
  return 0;
}

/** Abstract value of a register: a constant or an entry argument (by SysV argument index), and its width. */
export type Value = { k: 'const'; v: number } | { k: 'arg'; i: number; width: number };

/** Register file: one Value (or unknown) per GPR. */
export type RegState = (Value | undefined)[];

/** Apply one instruction to a register state (in place). Calls clobber caller-saved registers. */
export function step(s: RegState, insn: Insn): void {
  const op = insn.op;
  switch (op.t) {
    case 'movImm':
      s[op.dst] = { k: 'const', v: op.width === 32 ? op.value >>> 0 : op.value };
      return;
    case 'zero':
      s[op.dst] = { k: 'const', v: 0 };
      return;
    case 'leaRip':
      s[op.dst] = { k: 'const', v: op.value };
      return;
    case 'movReg': {
      const v = s[op.src];
      if (!v) s[op.dst] = undefined;
      else if (v.k === 'const') s[op.dst] = op.width === 32 && !op.signExtend ? { k: 'const', v: v.v % 0x1_0000_0000 } : v;
      else s[op.dst] = { k: 'arg', i: v.i, width: Math.min(v.width, op.width) };
      return;
    }
    default:
      if (insn.flow === 'call' || insn.flow === 'call-indirect') for (const r of CALLER_SAVED) s[r] = undefined;
      for (let r = 0; r < 16; r++) if (insn.writes & (1 << r)) s[r] = undefined;
  }
}

function sameValue(a: Value | undefined, b: Value | undefined): boolean {
  if (!a || !b) return false;
  if (a.k === 'const' && b.k === 'const') return a.v === b.v;
  if (a.k === 'arg' && b.k === 'arg') return a.i === b.i && a.width === b.width;
  return false;
}

/**
 * Where each entry argument is, before every instruction: a forward data-flow
 * analysis over the decoded function (meet = "same value on every path").
 * At entry, rdi/rsi/rdx/rcx/r8/r9 hold arguments 0..5 (64-bit). With
 * `meet = 'may'` a value survives a merge with a path where it is unknown
 * (but not one where the register holds something else): an optimistic view,
 * for matching instruction patterns that are then checked on their own.
 * @returns the state before each instruction, by address.
 */
export function argumentFlow(fn: DecodedFunction, meet: 'must' | 'may' = 'must'): Map<number, RegState> {
  const before = new Map<number, RegState>();
  const init: RegState = new Array(16).fill(undefined);
  ARG_REGS.forEach((r, i) => (init[r] = { k: 'arg', i, width: 64 }));
  const work: [number, RegState][] = [[fn.entry, init]];
  let guard = 0;
  while (work.length > 0 && guard++ < 200000) {
    const [ip, incoming] = work.pop()!;
    const insn = fn.insns.get(ip);
    if (!insn) continue;
    const cur = before.get(ip);
    let state: RegState;
    if (!cur) {
      state = incoming.slice();
    } else {
      let changed = false;
      state = cur.slice();
      for (let r = 0; r < 16; r++) {
        if (meet === 'may' && !state[r] && incoming[r]) {
          // 'may': a value known on one path and unknown on another survives (paths
          // through calls that never return, e.g. allocation failure, lose nothing)
          state[r] = incoming[r];
          changed = true;
        } else if (state[r] && (meet === 'must' || incoming[r]) && !sameValue(state[r], incoming[r])) {
          state[r] = undefined;
          changed = true;
        }
      }
      if (!changed) continue;
    }
    before.set(ip, state);
    const out = state.slice();
    step(out, insn);
    for (const succ of successors(fn, insn)) work.push([succ, out]);
  }
  return before;
}

/** Addresses that can execute after `insn` inside the decoded function. */
export function successors(fn: DecodedFunction, insn: Insn): number[] {
  const next = insn.ip + insn.len;
  const out: number[] = [];
  if (insn.flow === 'jmp' || insn.flow === 'jcc') {
    if (fn.insns.has(insn.target!)) out.push(insn.target!);
    if (insn.flow === 'jmp') return out;
  }
  if (insn.flow === 'ret' || insn.flow === 'jmp-indirect' || insn.flow === 'int3' || insn.flow === 'stop') return out;
  if (fn.insns.has(next)) out.push(next);
  return out;
}

/** True when the function sets up a frame pointer (push rbp; mov rbp,rsp), so rbp-based memory is the stack frame. */
export function usesFramePointer(fn: DecodedFunction): boolean {
  const a = fn.insns.get(fn.entry);
  if (!a || a.text !== 'push rbp') return false;
  const b = fn.insns.get(a.ip + a.len);
  return b?.text === 'mov rbp,rsp';
}

/** Addresses reachable (inside the function) from `from`, including it. */
export function reachableFrom(fn: DecodedFunction, from: number): Set<number> {
  const seen = new Set<number>();
  const work = [from];
  while (work.length > 0) {
    const ip = work.pop()!;
    if (seen.has(ip)) continue;
    const insn = fn.insns.get(ip);
    if (!insn) continue;
    seen.add(ip);
    for (const n of successors(fn, insn)) work.push(n);
  }
  return seen;
}
