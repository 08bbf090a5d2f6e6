/**
 * Streaming safetensors writer: header first, then each tensor's values encoded and written piece
 * by piece at their positions, so a file of any size is written with memory bounded by one piece.
 *
 * The header can be written first because a safetensors header holds only dtypes, shapes and
 * byte ranges, all known before any value is. Floats arrive as F32 values and are encoded here
 * (F16 through f32ToF16: nearest, ties away from zero; BF16: nearest, ties to even, on the top 16 bits),
 * a piece at a time into one reused buffer: a BF16 checkpoint never has an fp32 copy of more than
 * that piece. The bytes are the same as encoding every tensor whole and joining them.
 */
import { closeSync, openSync, rmSync } from 'node:fs';
import { CheckpointError } from '../errors.js';
import { writeFully } from './file-io.js';
import { f32ToF16 } from './half-float.js';

export type StreamedDtype = 'F32' | 'F16' | 'BF16' | 'I32';

const BYTES: Record<StreamedDtype, number> = { F32: 4, F16: 2, BF16: 2, I32: 4 };

/** One tensor to write, whose values are produced when it is written. */
export interface StreamedTensor {
  name: string;
  dtype: StreamedDtype;
  shape: number[];
  /**
   * The values in order, in pieces of any length (F32 values for float dtypes, an Int32Array for
   * I32). Called once, when the tensor's turn comes; a piece may be reused after it is consumed.
   */
  values(): Iterable<Float32Array | Int32Array>;
}

/** Where the bytes go: the file by default; tests record the calls. */
export interface ByteSink {
  write(bytes: Uint8Array, position: number): void;
  close(): void;
}

export interface StreamWriteOptions {
  /** Extra `__metadata__` entries (after `format: pt`). */
  metadata?: Record<string, string>;
  /** Most bytes per write call and per encoded piece (default 64 MiB; F32/I32 pieces are written as views, not copied). */
  chunkBytes?: number;
  /** Replaces the file (tests). */
  sink?: ByteSink;
}

/** Encoding scratch per BF16/F16 piece: big enough that write calls cost nothing, small next to a model. */
const DEFAULT_ENCODE_CHUNK_BYTES = 64 * 1024 * 1024;

export interface SafetensorsLayout {
  /** The 8-byte header length and the JSON header (space-padded so data starts 8-byte aligned). */
  header: Uint8Array;
  /** Absolute file position of each tensor's first byte, in the order given. */
  positions: number[];
  /** Each tensor's byte size. */
  byteLengths: number[];
  /** The whole file's size. */
  fileBytes: number;
}

/** The header and every tensor's place, from names, dtypes and shapes alone. */
export function safetensorsLayout(tensors: readonly Pick<StreamedTensor, 'name' | 'dtype' | 'shape'>[], metadata: Record<string, string> = {}): SafetensorsLayout {
  const json: Record<string, unknown> = { __metadata__: { format: 'pt', ...metadata } };
  const byteLengths: number[] = [];
  let offset = 0;
  for (const t of tensors) {
    const bytes = t.shape.reduce((a, b) => a * b, 1) * BYTES[t.dtype];
    if (!Number.isSafeInteger(bytes)) throw new CheckpointError(`tensor '${t.name}' of shape ${JSON.stringify(t.shape)} is too large to write`);
    json[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    byteLengths.push(bytes);
    offset += bytes;
  }
  let text = JSON.stringify(json);
  // pad the header to 8 bytes so that data is aligned (as the reference implementation does)
  while ((8 + Buffer.byteLength(text)) % 8 !== 0) text += ' ';
  const body = Buffer.from(text, 'utf8');
  const header = Buffer.alloc(8 + body.byteLength);
  header.writeBigUInt64LE(BigInt(body.byteLength));
  body.copy(header, 8);
  const positions: number[] = [];
  let at = header.byteLength;
  for (const n of byteLengths) {
    positions.push(at);
    at += n;
  }
  return { header, positions, byteLengths, fileBytes: at };
}

function fileSink(file: string): ByteSink {
  const fd = openSync(file, 'w');
  return { write: (bytes, position) => writeFully(fd, bytes, position), close: () => closeSync(fd) };
}

/**
 * Write `tensors` to `file` as safetensors, each tensor's values pulled, encoded and written a
 * piece at a time. A tensor whose pieces do not add up to its shape fails naming it, and the
 * partial file is removed.
 */
export function writeSafetensorsStream(file: string, tensors: readonly StreamedTensor[], options: StreamWriteOptions = {}): SafetensorsLayout {
  const layout = safetensorsLayout(tensors, options.metadata);
  const chunkBytes = options.chunkBytes ?? DEFAULT_ENCODE_CHUNK_BYTES;
  if (!Number.isSafeInteger(chunkBytes) || chunkBytes < 4) throw new RangeError(`chunkBytes ${chunkBytes} must be an integer of at least 4`);
  const sink = options.sink ?? fileSink(file);
  let ok = false;
  try {
    sink.write(layout.header, 0);
    let scratch: Uint16Array | undefined;
    tensors.forEach((t, i) => {
      const count = layout.byteLengths[i]! / BYTES[t.dtype];
      let position = layout.positions[i]!;
      let done = 0;
      const fail = (got: number): never => {
        throw new CheckpointError(`writing ${file}: tensor '${t.name}' got ${got} values for shape ${JSON.stringify(t.shape)} (${count})`);
      };
      for (const piece of t.values()) {
        if (done + piece.length > count) fail(done + piece.length);
        if ((t.dtype === 'I32') !== (piece instanceof Int32Array)) {
          throw new CheckpointError(`writing ${file}: tensor '${t.name}' is ${t.dtype} but was given ${piece.constructor.name} values`);
        }
        if (t.dtype === 'F32' || t.dtype === 'I32') {
          // already the bytes on disk: written as a view, split only into write calls
          const bytes = new Uint8Array(piece.buffer, piece.byteOffset, piece.byteLength);
          for (let at = 0; at < bytes.byteLength; at += chunkBytes) sink.write(bytes.subarray(at, at + chunkBytes), position + at);
          position += bytes.byteLength;
        } else {
          const per = Math.floor(chunkBytes / 2);
          scratch ??= new Uint16Array(per);
          for (let at = 0; at < piece.length; at += per) {
            const n = Math.min(per, piece.length - at);
            encodeHalf(piece as Float32Array, at, n, t.dtype, scratch);
            sink.write(new Uint8Array(scratch.buffer, 0, n * 2), position);
            position += n * 2;
          }
        }
        done += piece.length;
      }
      if (done !== count) fail(done);
    });
    ok = true;
  } finally {
    sink.close();
    if (!ok && !options.sink) rmSync(file, { force: true });
  }
  return layout;
}

/** Encode values[at, at + n) to F16 (f32ToF16) or BF16 (round to nearest even) into out[0, n). */
function encodeHalf(values: Float32Array, at: number, n: number, dtype: 'F16' | 'BF16', out: Uint16Array): void {
  if (dtype === 'F16') {
    for (let i = 0; i < n; i++) out[i] = f32ToF16(values[at + i]!);
    return;
  }
  const u = new Uint32Array(values.buffer, values.byteOffset + at * 4, n);
  for (let i = 0; i < n; i++) {
    const x = u[i]!;
    out[i] = ((x + 0x7fff + ((x >> 16) & 1)) >>> 16) & 0xffff;
  }
}
