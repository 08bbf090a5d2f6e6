/**
 * Positional reads and writes of any length, in chunks.
 *
 * One `readSync`/`writeSync` cannot move a large tensor: Node validates the length as an int32
 * (so 2 GiB and up is refused: a Qwen2.5-7B F32 embedding, a 72B BF16 one), and Linux moves at
 * most 0x7ffff000 bytes per read(2)/write(2) call and may return early, so even a length that
 * passes comes back short. These helpers move at most `chunkBytes` per call and loop until the
 * whole range is done, so nothing on the path holds a length or an offset in 32 bits.
 *
 * Offsets are JavaScript numbers: exact up to 2^53 bytes (8 PiB), far past any file.
 */
import { constants } from 'node:buffer';
import { readSync, writeSync } from 'node:fs';
import { CheckpointError } from '../errors.js';

/** Bytes per readSync/writeSync by default: well under the int32 limit and the kernel's per-call cap. */
export const DEFAULT_IO_CHUNK_BYTES = 1024 * 1024 * 1024;

/**
 * The most elements one typed array holds (V8's TypedArray::kMaxLength, which Node exposes as
 * Buffer's MAX_LENGTH): 2^32 in Node 20, so a Float32Array reaches 16 GiB but a Buffer or a
 * Uint8Array only 4 GiB.
 */
export const MAX_TYPED_ARRAY_LENGTH = constants.MAX_LENGTH;

/** One call's share of a range: `length` bytes at file position `position`, into `at` of the array. */
export interface IoChunk {
  position: number;
  at: number;
  length: number;
}

/**
 * The calls that move `length` bytes starting at file position `position`: consecutive, each at
 * most `chunkBytes`, together exactly the range. Pure arithmetic, so a test can check it for
 * ranges past 2^31 and 2^32 that no test could create on disk.
 */
export function ioChunks(position: number, length: number, chunkBytes = DEFAULT_IO_CHUNK_BYTES): IoChunk[] {
  checkRange(position, length, chunkBytes);
  const out: IoChunk[] = [];
  for (let at = 0; at < length; at += chunkBytes) out.push({ position: position + at, at, length: Math.min(chunkBytes, length - at) });
  return out;
}

function checkRange(position: number, length: number, chunkBytes: number): void {
  if (!Number.isSafeInteger(position) || position < 0) throw new RangeError(`file position ${position} is not a non-negative safe integer`);
  if (!Number.isSafeInteger(length) || length < 0 || !Number.isSafeInteger(position + length)) {
    throw new RangeError(`byte length ${length} at position ${position} is not representable exactly`);
  }
  if (!Number.isSafeInteger(chunkBytes) || chunkBytes < 1 || chunkBytes > 2 ** 31 - 1) {
    throw new RangeError(`chunk size ${chunkBytes} must be between 1 and 2^31 - 1 bytes`);
  }
}

/**
 * Fill `dest` from `fd` at `position`: at most `chunkBytes` per readSync, and short reads
 * continued where they stopped. `what` names the data (file and tensor) when the file ends first.
 */
export function readFully(fd: number, dest: Uint8Array, position: number, what: string, chunkBytes = DEFAULT_IO_CHUNK_BYTES): void {
  checkRange(position, dest.byteLength, chunkBytes);
  let done = 0;
  while (done < dest.byteLength) {
    const want = Math.min(chunkBytes, dest.byteLength - done);
    const got = readSync(fd, dest, done, want, position + done);
    if (got === 0) {
      throw new CheckpointError(`${what} is truncated: the file ends ${dest.byteLength - done} bytes short (read ${done} of ${dest.byteLength} at byte ${position})`);
    }
    done += got;
  }
}

/** Write all of `bytes` to `fd` at `position`: at most `chunkBytes` per writeSync, short writes continued. */
export function writeFully(fd: number, bytes: Uint8Array, position: number, chunkBytes = DEFAULT_IO_CHUNK_BYTES): void {
  checkRange(position, bytes.byteLength, chunkBytes);
  let done = 0;
  while (done < bytes.byteLength) {
    const want = Math.min(chunkBytes, bytes.byteLength - done);
    const wrote = writeSync(fd, bytes, done, want, position + done);
    if (wrote <= 0) throw new Error(`writeSync wrote nothing at byte ${position + done} (disk full?)`);
    done += wrote;
  }
}
