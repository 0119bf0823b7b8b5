/**
 * ELF64 little-endian reader for uprobe attachment and binary analysis.
 * Reads only the headers and the pieces asked for, with positional reads.
 */
export { ElfFile, withElf } from './reader';
export { u64 } from './bytes';
export type { ElfFileStat } from './reader';
export { ElfError } from './errors';
export type { ElfErrorCode } from './errors';
export { findSymbols, findSymbolsIn } from './find';
export { readMaps, parseMaps } from './maps';
export type { MapEntry } from './maps';
export { parseNotes } from './notes';
export { readEhFrame, parseEhFrame, FunctionTable } from './ehframe';
export type { Fde } from './ehframe';
export { readGoFuncTable, readGoBuildInfo, parseGoVersion, isGoBinary, goPclntabSection } from './gopclntab';
export type { GoFunc, GoFuncTable, GoPclnFormat, GoBuildInfo } from './gopclntab';
export { readDwarfStructs } from './dwarf';
export type { DwarfStruct, DwarfMember } from './dwarf';
export * from './types';
