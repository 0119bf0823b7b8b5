/** Little-endian field reads shared by the ELF readers. */

/** Read an unsigned 64-bit little-endian value as a Number (exact below 2^53, rounded above). */
export function u64(buf: Buffer, off: number): number {
  return buf.readUInt32LE(off) + buf.readUInt32LE(off + 4) * 0x1_0000_0000;
}
