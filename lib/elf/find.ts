/** findSymbols(): the convenience lookup a uprobe attacher needs. */
import { withElf, ElfFile } from './reader';
import { nameSetFilter, readSymbolTable } from './symbols';
import type { ElfSymbol, FoundSymbol } from './types';

interface Wanted {
  /** As asked (e.g. "SSL_write" or "SSL_write@@OPENSSL_3.0.0"). */
  asked: string;
  base: string;
  /** Version required, when asked as name@VER / name@@VER. */
  version?: string;
}

function parseWanted(asked: string): Wanted {
  const at = asked.indexOf('@');
  if (at <= 0) return { asked, base: asked };
  const dbl = asked[at + 1] === '@';
  return { asked, base: asked.slice(0, at), version: asked.slice(at + (dbl ? 2 : 1)) };
}

const BIND_RANK: Record<string, number> = { GLOBAL: 0, GNU_UNIQUE: 0, WEAK: 1, LOCAL: 2 };

/** Order candidates: the default version first, then by binding strength. */
function better(a: ElfSymbol, b: ElfSymbol): boolean {
  const ah = a.versionHidden ? 1 : 0;
  const bh = b.versionHidden ? 1 : 0;
  if (ah !== bh) return ah < bh;
  return (BIND_RANK[a.binding] ?? 3) < (BIND_RANK[b.binding] ?? 3);
}

function toFound(elf: ElfFile, s: ElfSymbol): FoundSymbol {
  const f: FoundSymbol = {
    name: s.name,
    vaddr: s.value,
    offset: elf.vaddrToFileOffset(s.value),
    size: s.size,
    binding: s.binding,
    type: s.type,
    table: s.table,
  };
  if (s.version !== undefined) f.version = s.version;
  return f;
}

/**
 * Look up defined symbols by name in an open ElfFile: .dynsym first, then
 * .symtab for names not found there (only read when needed). A name may carry
 * a version (`SSL_write@@OPENSSL_3.0.0` or `SSL_write@OPENSSL_3.0.0`); a bare
 * name matches any version, preferring the default one. Imported (undefined)
 * symbols are not returned: they have no address in this file.
 * @returns one entry per name found, in the order asked.
 */
export async function findSymbolsIn(elf: ElfFile, names: readonly string[]): Promise<FoundSymbol[]> {
  const wanted = names.map(parseWanted);
  const byBase = new Map<string, Wanted[]>();
  for (const w of wanted) {
    const l = byBase.get(w.base);
    if (l) l.push(w);
    else byBase.set(w.base, [w]);
  }
  const best = new Map<Wanted, ElfSymbol>();
  for (const table of ['dynsym', 'symtab'] as const) {
    if (best.size === wanted.length) break;
    const missing = wanted.filter((w) => !best.has(w)).map((w) => w.base);
    const syms = await readSymbolTable(elf, table, nameSetFilter(missing));
    for (const s of syms) {
      if (!s.defined) continue;
      const ws = byBase.get(s.name);
      if (!ws) continue;
      for (const w of ws) {
        if (w.version !== undefined && w.version !== s.version) continue;
        const cur = best.get(w);
        if (cur && cur.table !== table) continue; // found in .dynsym already
        if (!cur || better(s, cur)) best.set(w, s);
      }
    }
  }
  const out: FoundSymbol[] = [];
  for (const w of wanted) {
    const s = best.get(w);
    if (s) out.push(toFound(elf, s));
  }
  return out;
}

/**
 * Open the ELF file at `path`, find these symbols (see findSymbolsIn) and close it.
 * @throws ElfError when the file cannot be read or is not ELF64 little-endian.
 */
export function findSymbols(path: string, names: readonly string[]): Promise<FoundSymbol[]> {
  return withElf(path, (elf) => findSymbolsIn(elf, names));
}
