/** ELF note parsing (PT_NOTE segments and SHT_NOTE sections). */
import type { ElfNote } from './types';

/**
 * Parse a run of notes. Each note is namesz(4) descsz(4) type(4) name desc, with
 * name and desc padded to `align` (4, or 8 for 8-aligned note segments such as
 * .note.gnu.property). Stops quietly at the first malformed entry.
 */
export function parseNotes(buf: Buffer, align: number): ElfNote[] {
  const a = align === 8 ? 8 : 4;
  const pad = (n: number) => (n + a - 1) & ~(a - 1);
  const out: ElfNote[] = [];
  let o = 0;
  while (o + 12 <= buf.length) {
    const namesz = buf.readUInt32LE(o);
    const descsz = buf.readUInt32LE(o + 4);
    const type = buf.readUInt32LE(o + 8);
    const nameStart = o + 12;
    const descStart = nameStart + pad(namesz);
    if (namesz > buf.length || descsz > buf.length || descStart + descsz > buf.length) break;
    let nameEnd = nameStart + namesz;
    if (namesz > 0 && buf[nameEnd - 1] === 0) nameEnd--;
    out.push({
      name: buf.toString('latin1', nameStart, nameEnd),
      type,
      desc: Buffer.from(buf.subarray(descStart, descStart + descsz)),
    });
    o = descStart + pad(descsz);
  }
  return out;
}
