/**
 * Bounded zstd decoding. fzstd decodes; this module follows the frame
 * structure (RFC 8878: frame headers, block headers, checksums, skippable
 * frames) ahead of it so that
 *
 * - a frame whose window is larger than ZSTD_MAX_WINDOW is refused before
 *   fzstd allocates it (in HTTP a window is at most 8 MB: RFC 9659),
 * - a block larger than the format's 128 KiB maximum is refused,
 * - input is handed over one block at a time and decoding stops as soon as
 *   the output reaches its cap: at most one block (128 KiB) beyond the cap
 *   is ever decoded, whatever one push holds (a zstd bomb expands ~32000:1).
 */
import { fzstd } from '../core/lazy';

/** Largest window a frame may ask for (RFC 9659: 8 MB for the "zstd" content coding). */
export const ZSTD_MAX_WINDOW = 8 * 1024 * 1024;
/** Largest block content (RFC 8878, Block_Maximum_Size). */
const BLOCK_MAX = 128 * 1024;
const ZSTD_MAGIC = 0xfd2fb528;

type State = 'frame' | 'block_header' | 'block' | 'checksum' | 'skip';

/** What one push produced. */
export interface ZstdOutput {
  bytes: Buffer;
  /** the output reached the cap: nothing more is decoded */
  truncated: boolean;
  /** why decoding stopped (the bytes are what was decoded before) */
  error?: string;
}

/** Incremental zstd decoder whose output is cut at `maxOutput` bytes. */
export class ZstdStream {
  private readonly d = new (fzstd().Decompress)((chunk) => this.onData(chunk));
  private out: Buffer[] = [];
  private emitted = 0;
  private full = false;
  private failed: string | null = null;
  private state: State = 'frame';
  /** bytes of a frame or block header gathered so far */
  private head = Buffer.alloc(0);
  /** bytes left in the current block content, checksum or skippable frame */
  private need = 0;
  private window = 0;
  private checksum = false;
  private lastBlock = false;

  constructor(private readonly maxOutput: number) {}

  /** Decoded bytes so far (at most maxOutput). */
  get size(): number {
    return this.emitted;
  }

  get truncated(): boolean {
    return this.full;
  }

  get error(): string | null {
    return this.failed;
  }

  /** Feed compressed bytes; returns the bytes decoded from them. */
  push(input: Buffer): ZstdOutput {
    let i = 0;
    while (i < input.length && !this.full && !this.failed) {
      try {
        i = this.step(input, i);
      } catch (e) {
        this.failed = `zstd: ${(e as Error).message}`;
      }
    }
    return this.take();
  }

  /**
   * The input ended. `partial`: it may have been cut short, so what was
   * decoded is the result and an unfinished frame is no error.
   */
  finish(partial = false): ZstdOutput {
    if (!this.full && !this.failed) {
      const atBoundary = this.state === 'frame' && this.head.length === 0;
      try {
        // fzstd holds frames shorter than 18 bytes until told the input ended
        if (atBoundary) this.d.push(new Uint8Array(0), true);
        else if (!partial) this.failed = 'zstd: unexpected end of data';
      } catch (e) {
        if (!partial) this.failed = `zstd: ${(e as Error).message}`;
      }
    }
    return this.take();
  }

  private take(): ZstdOutput {
    const bytes = this.out.length === 1 ? this.out[0] : Buffer.concat(this.out);
    this.out = [];
    return { bytes, truncated: this.full, ...(this.failed ? { error: this.failed } : {}) };
  }

  private onData(chunk: Uint8Array): void {
    if (this.full || chunk.length === 0) return;
    const room = this.maxOutput - this.emitted;
    const n = Math.min(room, chunk.length);
    this.out.push(Buffer.from(chunk.subarray(0, n)));
    this.emitted += n;
    if (chunk.length > room) this.full = true;
  }

  /** Gather header bytes up to `size`; true once there are that many. */
  private gather(input: Buffer, i: number, size: number): number {
    const n = Math.min(size - this.head.length, input.length - i);
    this.head = Buffer.concat([this.head, input.subarray(i, i + n)]);
    return i + n;
  }

  /** Consume the next unit (or part of one) of the input from `i`; returns where it stopped. */
  private step(input: Buffer, i: number): number {
    switch (this.state) {
      case 'frame': {
        if (this.head.length < 5) return this.gather(input, i, 5);
        const magic = this.head.readUInt32LE(0);
        if ((magic & 0xfffffff0) === 0x184d2a50) {
          if (this.head.length < 8) return this.gather(input, i, 8);
          this.need = this.head.readUInt32LE(4);
          this.handOn(this.head);
          this.state = 'skip';
          return i;
        }
        if (magic !== ZSTD_MAGIC) throw new Error('not a zstd frame');
        const size = frameHeaderSize(this.head[4]);
        if (this.head.length < size) return this.gather(input, i, size);
        this.window = frameWindow(this.head);
        if (this.window > ZSTD_MAX_WINDOW)
          throw new Error(`the frame asks for a window of ${this.window} bytes, more than the ${ZSTD_MAX_WINDOW} allowed in HTTP (RFC 9659): not decoded`);
        this.checksum = (this.head[4] & 4) !== 0;
        this.handOn(this.head);
        this.state = 'block_header';
        return i;
      }
      case 'block_header': {
        if (this.head.length < 3) return this.gather(input, i, 3);
        const h = this.head[0] | (this.head[1] << 8) | (this.head[2] << 16);
        const type = (h >> 1) & 3;
        const size = h >>> 3;
        if (type === 3) throw new Error('reserved block type');
        if (size > Math.min(BLOCK_MAX, Math.max(this.window, 1)))
          throw new Error(`block of ${size} bytes, more than the maximum of ${Math.min(BLOCK_MAX, this.window)}`);
        this.lastBlock = (h & 1) === 1;
        this.need = type === 1 ? 1 : size;
        this.handOn(this.head);
        this.state = 'block';
        if (this.need === 0) this.blockDone();
        return i;
      }
      case 'block':
      case 'checksum':
      case 'skip': {
        const n = Math.min(this.need, input.length - i);
        this.handOn(input.subarray(i, i + n));
        this.need -= n;
        if (this.need === 0) {
          if (this.state === 'block') this.blockDone();
          else this.state = 'frame';
        }
        return i + n;
      }
    }
  }

  private blockDone(): void {
    if (!this.lastBlock) this.state = 'block_header';
    else if (this.checksum) {
      this.state = 'checksum';
      this.need = 4;
    } else this.state = 'frame';
  }

  /** Give fzstd bytes whose framing was checked. */
  private handOn(bytes: Buffer): void {
    if (bytes === this.head) this.head = Buffer.alloc(0);
    if (bytes.length) this.d.push(bytes);
  }
}

/** Size of a frame header (magic included) from its descriptor byte. */
function frameHeaderSize(fhd: number): number {
  const fcsFlag = fhd >> 6;
  const single = (fhd >> 5) & 1;
  const didFlag = fhd & 3;
  const fcs = fcsFlag === 0 ? single : 1 << fcsFlag;
  return 4 + 1 + (single ? 0 : 1) + [0, 1, 2, 4][didFlag] + fcs;
}

/** The window a frame needs: its window descriptor, or its content size for a single-segment frame. */
function frameWindow(h: Buffer): number {
  const fhd = h[4];
  if (fhd & 8) throw new Error('reserved frame header bit set');
  const single = (fhd >> 5) & 1;
  if (!single) {
    const wd = h[5];
    const base = 2 ** (10 + (wd >> 3));
    return base + (base / 8) * (wd & 7);
  }
  const fcsFlag = fhd >> 6;
  const at = 5 + [0, 1, 2, 4][fhd & 3];
  switch (fcsFlag) {
    case 0:
      return h[at];
    case 1:
      return h.readUInt16LE(at) + 256;
    case 2:
      return h.readUInt32LE(at);
    default:
      return h.readUInt32LE(at) + h.readUInt32LE(at + 4) * 0x1_0000_0000;
  }
}
