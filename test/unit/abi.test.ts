import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LAYOUTS_BY_OBJECT, type Layout } from '../../lib/kernel/abi';
import { getBinding } from '../../lib/kernel/binding';

// Reading BTF from the embedded objects needs the built addon but no privileges.
const binding = getBinding();
const header = fs.readFileSync(path.join(__dirname, '../../bpf/events.h'), 'utf8');

describe('event ABI: lib/abi.ts matches the BTF the compiler emitted', () => {
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

  it('the embedded objects are the ones built from bpf/*.bpf.c', () => {
    const sources = fs
      .readdirSync(path.join(__dirname, '../../bpf'))
      .filter((f) => f.endsWith('.bpf.c'))
      .map((f) => f.replace(/\.bpf\.c$/, ''))
      .sort();
    expect([...binding.embeddedObjects()].sort()).toEqual(sources);
  });
});
