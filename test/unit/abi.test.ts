import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ENUMS, LAYOUTS_BY_OBJECT, OPEN_SYSCALL_NAMES, SSL_FUNC_NAMES, SSL_LIB_NAMES, STAT, STAT_NAMES, type Layout } from '../../lib/kernel/abi';
import { getBinding } from '../../lib/kernel/binding';

// Reading BTF from the embedded objects needs the built addon but no privileges.
const binding = getBinding();
const header = fs.readFileSync(path.join(__dirname, '../../bpf/events.h'), 'utf8');

describe('event ABI: lib/kernel/abi.ts matches the BTF the compiler emitted', () => {
  for (const [objName, layouts] of Object.entries(LAYOUTS_BY_OBJECT)) {
    describe(`${objName}.bpf.o`, () => {
      const obj = new binding.BpfObject(objName);
      for (const l of layouts) {
        it(`struct ${l.name}: size and every member offset/size`, () => {
          const btf = obj.structLayout(l.name);
          expect(btf.size).toBe(l.size);
          expect(btf.members.map((m) => m.name)).toEqual([...l.order]);
          for (const m of btf.members) {
            expect({ field: m.name, offset: l.off[m.name], size: l.sizes[m.name] }).toEqual({
              field: m.name,
              offset: m.offset,
              size: m.size,
            });
          }
        });
      }
      for (const m of ENUMS) {
        it(`enum ${m.name}: every constant and value`, () => {
          const btf = Object.fromEntries(obj.enumValues(m.name).map((v) => [v.name, v.value]));
          const ts = Object.fromEntries(Object.entries(m.values).map(([k, v]) => [m.prefix + k.toUpperCase(), v]));
          expect(ts).toEqual(btf);
        });
      }
      it('closes', () => obj.close());
    });
  }

  it('every AS_*_SIZE constant in events.h equals the TypeScript size', () => {
    const all = new Map<string, Layout>();
    for (const ls of Object.values(LAYOUTS_BY_OBJECT)) for (const l of ls) all.set(l.name, l);
    const sizes = [...header.matchAll(/#define AS_([A-Z_]+)_SIZE (\d+)/g)];
    expect(sizes.length).toBeGreaterThanOrEqual(7);
    let checked = 0;
    for (const [, name, size] of sizes) {
      const l = all.get(`as_${name.toLowerCase()}`);
      if (!l) continue;
      expect({ struct: l.name, size: l.size }).toEqual({ struct: l.name, size: Number(size) });
      checked++;
    }
    expect(checked).toBe(all.size);
  });

  it('every enum of events.h has its mirror, and constants are enums (only struct sizes are #defines)', () => {
    const enums = [...header.matchAll(/^enum (as_\w+) \{/gm)].map((m) => m[1]);
    expect(enums.length).toBeGreaterThanOrEqual(10);
    expect([...enums].sort()).toEqual(ENUMS.map((m) => m.name).sort());
    const defines = [...header.matchAll(/^#define (\w+)/gm)].map((m) => m[1]);
    expect(defines.filter((d) => d !== 'AGENTSIGHT_EVENTS_H' && !/^AS_[A-Z_]+_SIZE$/.test(d))).toEqual([]);
  });

  it('the name tables cover every value of their enum', () => {
    const counters = Object.entries(STAT).filter(([k]) => k !== 'MAX');
    expect(
      Object.keys(STAT_NAMES)
        .map(Number)
        .sort((a, b) => a - b),
    ).toEqual(counters.map(([, v]) => v).sort((a, b) => a - b));
    expect(new Set(Object.values(STAT_NAMES)).size).toBe(counters.length);
    for (const [, v] of counters) expect(v).toBeLessThan(STAT.MAX);
    for (const names of [SSL_FUNC_NAMES, SSL_LIB_NAMES, OPEN_SYSCALL_NAMES]) {
      expect(names.length).toBeGreaterThan(0);
      for (let i = 0; i < names.length; i++) expect(names[i]).toBeTypeOf('string');
    }
    expect(SSL_FUNC_NAMES).toEqual(['READ/RECV', 'WRITE/SEND', 'HANDSHAKE', 'BIND']);
  });

  it('the embedded objects are the ones built from bpf/*.bpf.c', () => {
    const sources = fs
      .readdirSync(path.join(__dirname, '../../bpf'))
      .filter((f) => f.endsWith('.bpf.c'))
      .map((f) => f.replace(/\.bpf\.c$/, ''))
      .sort();
    expect([...binding.embeddedObjects()].sort()).toEqual(sources);
  });
});
