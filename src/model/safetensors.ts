/**
 * safetensors reading (and, through safetensors-writer.ts, writing).
 *
 * Written by hand because the format is tiny (8-byte length, JSON header, raw bytes) and no
 * maintained npm package exposes what paradec needs: absolute byte offsets of every tensor, so
 * that ONNX external-data initializers can point straight into `model.safetensors` and weights
 * never pass through JavaScript when a graph is compiled.
 *
 * Tensors of any size read correctly: bytes move in chunks (file-io.ts), offsets and lengths are
 * checked to be exact doubles rather than assumed to fit 32 bits, and a tensor too large for one
 * typed array is refused by name instead of crashing.
 */
import { closeSync, fstatSync, openSync, existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { CheckpointError } from '../errors.js';
import { DEFAULT_IO_CHUNK_BYTES, MAX_TYPED_ARRAY_LENGTH, readFully } from './file-io.js';
import { f16ToF32 } from './half-float.js';
import { writeSafetensorsStream, type StreamedTensor } from './safetensors-writer.js';

export { f16ToF32, f32ToF16 } from './half-float.js';

export type SafetensorsDtype = 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'U8' | 'I8' | 'BOOL' | 'F64';

export const DTYPE_BYTES: Record<SafetensorsDtype, number> = {
  F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, U8: 1, I8: 1, BOOL: 1, F64: 8,
};

/** One tensor inside a safetensors file, located by absolute byte offset. */
export interface TensorEntry {
  name: string;
  file: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** Absolute byte offset of the tensor's data inside `file`. */
  offset: number;
  byteLength: number;
}

export interface SafetensorsHeader {
  file: string;
  metadata: Record<string, string>;
  tensors: Map<string, TensorEntry>;
}

const MAX_HEADER_BYTES = 100 * 1024 * 1024;

/** Parse and validate the header of one safetensors file; reads only the header bytes. */
export function readSafetensorsHeader(file: string): SafetensorsHeader {
  if (!existsSync(file)) throw new CheckpointError(`${file}: file not found`);
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    if (size < 8) throw new CheckpointError(`${file}: truncated safetensors file (${size} bytes, no header length)`);
    const lenBuf = Buffer.alloc(8);
    readFully(fd, lenBuf, 0, `${file}: safetensors header length`);
    const headerLen64 = lenBuf.readBigUInt64LE(0);
    if (headerLen64 <= 0n || headerLen64 > BigInt(MAX_HEADER_BYTES) || 8n + headerLen64 > BigInt(size)) {
      throw new CheckpointError(`${file}: safetensors header length ${headerLen64} does not fit in a ${size}-byte file`);
    }
    const headerLen = Number(headerLen64);
    const headerBuf = Buffer.alloc(headerLen);
    readFully(fd, headerBuf, 8, `${file}: safetensors header`);
    let json: unknown;
    try {
      json = JSON.parse(headerBuf.toString('utf8'));
    } catch (e) {
      throw new CheckpointError(`${file}: safetensors header is not valid JSON`, { cause: e });
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json)) {
      throw new CheckpointError(`${file}: safetensors header is not a JSON object`);
    }
    const dataStart = 8 + headerLen;
    const dataSize = size - dataStart;
    const tensors = new Map<string, TensorEntry>();
    let metadata: Record<string, string> = {};
    for (const [name, raw] of Object.entries(json as Record<string, unknown>)) {
      if (name === '__metadata__') {
        metadata = (raw ?? {}) as Record<string, string>;
        continue;
      }
      const info = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
      const dtype = info?.dtype;
      if (typeof dtype !== 'string' || !(dtype in DTYPE_BYTES)) {
        throw new CheckpointError(`${file}: tensor '${name}' has unsupported dtype ${JSON.stringify(dtype)}`);
      }
      const shape = info.shape;
      if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
        throw new CheckpointError(`${file}: tensor '${name}' has an invalid shape ${JSON.stringify(shape)}`);
      }
      // offsets past 2^53 would not survive JSON.parse exactly: refuse them rather than read elsewhere
      const offs = info.data_offsets;
      if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isSafeInteger(o) && o >= 0)) {
        throw new CheckpointError(`${file}: tensor '${name}' has invalid data_offsets ${JSON.stringify(offs)}`);
      }
      const [begin, end] = offs as [number, number];
      const expected = tensorByteLength(shape as number[], dtype as SafetensorsDtype);
      if (expected === undefined) {
        throw new CheckpointError(`${file}: tensor '${name}' shape ${JSON.stringify(shape)} is too large to address (over 2^53 bytes)`);
      }
      if (end - begin !== expected) {
        throw new CheckpointError(
          `${file}: tensor '${name}' claims ${end - begin} bytes but ${dtype}${JSON.stringify(shape)} needs ${expected}`,
        );
      }
      if (end > dataSize || begin > end) {
        throw new CheckpointError(
          `${file}: tensor '${name}' data [${begin}, ${end}) lies beyond the end of the file (data section is ${dataSize} bytes; truncated?)`,
        );
      }
      tensors.set(name, {
        name, file, dtype: dtype as SafetensorsDtype, shape: shape as number[], offset: dataStart + begin, byteLength: expected,
      });
    }
    return { file, metadata, tensors };
  } finally {
    closeSync(fd);
  }
}

/**
 * The tensor table of a checkpoint directory: `model.safetensors`, or the shards listed by
 * `model.safetensors.index.json`.
 */
export function loadTensorTable(dir: string): Map<string, TensorEntry> {
  const single = join(dir, 'model.safetensors');
  const index = join(dir, 'model.safetensors.index.json');
  if (existsSync(single)) return readSafetensorsHeader(single).tensors;
  if (!existsSync(index)) {
    throw new CheckpointError(`${dir}: no model.safetensors or model.safetensors.index.json`);
  }
  let weightMap: Record<string, string>;
  try {
    weightMap = (JSON.parse(readFileSync(index, 'utf8')) as { weight_map: Record<string, string> }).weight_map;
  } catch (e) {
    throw new CheckpointError(`${index}: not valid JSON`, { cause: e });
  }
  if (!weightMap || typeof weightMap !== 'object') throw new CheckpointError(`${index}: missing weight_map`);
  const table = new Map<string, TensorEntry>();
  const shards = new Map<string, SafetensorsHeader>();
  for (const [name, shard] of Object.entries(weightMap)) {
    if (basename(shard) !== shard) throw new CheckpointError(`${index}: shard name '${shard}' must be a plain file name`);
    let header = shards.get(shard);
    if (!header) {
      header = readSafetensorsHeader(join(dir, shard));
      shards.set(shard, header);
    }
    const entry = header.tensors.get(name);
    if (!entry) throw new CheckpointError(`${index}: tensor '${name}' is listed in ${shard} but not present there`);
    table.set(name, entry);
  }
  return table;
}

/**
 * The byte size of a `dtype` tensor of `shape`, or undefined when it is not an exact double
 * (over 2^53 bytes: only a lying header asks for that).
 */
export function tensorByteLength(shape: readonly number[], dtype: SafetensorsDtype): number | undefined {
  let bytes = DTYPE_BYTES[dtype];
  for (const d of shape) {
    bytes *= d;
    if (!Number.isSafeInteger(bytes)) return undefined;
  }
  return bytes;
}

export interface TensorReadOptions {
  /**
   * Bytes per readSync, and per decoding step of F16/BF16/F64 (default: 1 GiB for raw bytes and
   * F32, 16 MiB for decoding). Tests make it tiny to cross chunk boundaries on small files.
   */
  chunkBytes?: number;
}

/** Scratch size for decoding F16/BF16/F64 chunk by chunk: large enough that syscalls do not matter. */
const DECODE_CHUNK_BYTES = 16 * 1024 * 1024;

function where(entry: TensorEntry): string {
  return `${entry.file}: tensor '${entry.name}'`;
}

/** Open a tensor's file as a CheckpointError naming it, not a bare ENOENT. */
function openTensorFile(entry: TensorEntry): number {
  try {
    return openSync(entry.file, 'r');
  } catch (e) {
    throw new CheckpointError(`${where(entry)}: cannot open the file (${(e as Error).message})`, { cause: e });
  }
}

/** Read raw bytes of a tensor (up to 4 GiB, the most one Buffer holds). */
export function readTensorBytes(entry: TensorEntry, options: TensorReadOptions = {}): Buffer {
  if (entry.byteLength > MAX_TYPED_ARRAY_LENGTH) {
    throw new CheckpointError(
      `${where(entry)} is ${entry.byteLength} bytes; one Buffer holds at most ${MAX_TYPED_ARRAY_LENGTH} in this Node.js, so its raw bytes cannot be read whole`,
    );
  }
  const fd = openTensorFile(entry);
  try {
    // allocUnsafeSlow: its own ArrayBuffer at offset 0 (aligned for typed views), and no zero-fill of memory about to be overwritten
    const buf = Buffer.allocUnsafeSlow(entry.byteLength);
    readFully(fd, buf, entry.offset, where(entry), options.chunkBytes ?? DEFAULT_IO_CHUNK_BYTES);
    return buf;
  } finally {
    closeSync(fd);
  }
}

/**
 * Decode a floating tensor (F32, F16, BF16, F64) to a Float32Array, reading straight into it (F32)
 * or through a reused scratch chunk (the others), so the raw bytes never exist whole beside it.
 * A tensor of more values than one Float32Array holds (2^32 in Node 20) is refused by name.
 */
export function readTensorF32(entry: TensorEntry, options: TensorReadOptions = {}): Float32Array {
  const count = entry.shape.reduce((a, b) => a * b, 1);
  if (!['F32', 'F16', 'BF16', 'F64'].includes(entry.dtype)) {
    throw new CheckpointError(`${where(entry)} has dtype ${entry.dtype}, expected a floating-point type`);
  }
  if (count > MAX_TYPED_ARRAY_LENGTH) {
    throw new CheckpointError(
      `${where(entry)} has ${count} values; one Float32Array holds at most ${MAX_TYPED_ARRAY_LENGTH} in this Node.js, so it cannot be decoded to fp32 whole`,
    );
  }
  const out = new Float32Array(count);
  const fd = openTensorFile(entry);
  try {
    if (entry.dtype === 'F32') {
      readFully(fd, new Uint8Array(out.buffer), entry.offset, where(entry), options.chunkBytes ?? DEFAULT_IO_CHUNK_BYTES);
      return out;
    }
    const elemBytes = DTYPE_BYTES[entry.dtype];
    const perChunk = Math.max(1, Math.floor(Math.min(options.chunkBytes ?? DECODE_CHUNK_BYTES, entry.byteLength) / elemBytes));
    const scratch = new Uint8Array(perChunk * elemBytes);
    for (let first = 0; first < count; first += perChunk) {
      const n = Math.min(perChunk, count - first);
      const raw = scratch.subarray(0, n * elemBytes);
      readFully(fd, raw, entry.offset + first * elemBytes, where(entry), options.chunkBytes ?? DEFAULT_IO_CHUNK_BYTES);
      decodeInto(raw, entry.dtype, out, first);
    }
    return out;
  } finally {
    closeSync(fd);
  }
}

/**
 * A floating tensor's values as F32, a piece of at most `chunkBytes / 4` values at a time
 * (default 4M values), in order: the streaming form of readTensorF32, for consumers that write
 * each piece on (compile's float32 bundle) and so never hold the tensor. The piece is reused:
 * consume it before taking the next.
 */
export function* readTensorF32Pieces(entry: TensorEntry, options: TensorReadOptions = {}): Generator<Float32Array> {
  if (!['F32', 'F16', 'BF16', 'F64'].includes(entry.dtype)) {
    throw new CheckpointError(`${where(entry)} has dtype ${entry.dtype}, expected a floating-point type`);
  }
  const count = entry.shape.reduce((a, b) => a * b, 1);
  const elemBytes = DTYPE_BYTES[entry.dtype];
  const perPiece = Math.max(1, Math.min(count, Math.floor((options.chunkBytes ?? DECODE_CHUNK_BYTES) / 4)));
  const out = new Float32Array(perPiece);
  const scratch = entry.dtype === 'F32' ? new Uint8Array(out.buffer) : new Uint8Array(perPiece * elemBytes);
  const fd = openTensorFile(entry);
  try {
    for (let first = 0; first < count; first += perPiece) {
      const n = Math.min(perPiece, count - first);
      const raw = scratch.subarray(0, n * elemBytes);
      readFully(fd, raw, entry.offset + first * elemBytes, where(entry));
      if (entry.dtype !== 'F32') decodeInto(raw, entry.dtype, out, 0);
      yield out.subarray(0, n);
    }
  } finally {
    closeSync(fd);
  }
}

/** Decode `raw` (F16, BF16 or F64 values; its own aligned buffer) into out[at...]. */
function decodeInto(raw: Uint8Array, dtype: SafetensorsDtype, out: Float32Array, at: number): void {
  if (dtype === 'F64') {
    const d = new Float64Array(raw.buffer, raw.byteOffset, raw.byteLength / 8);
    out.set(d, at);
  } else if (dtype === 'F16') {
    const h = new Uint16Array(raw.buffer, raw.byteOffset, raw.byteLength / 2);
    for (let i = 0; i < h.length; i++) out[at + i] = f16ToF32(h[i]!);
  } else {
    // BF16 is the top half of an F32: shift it into place through a Uint32 view of the output
    const h = new Uint16Array(raw.buffer, raw.byteOffset, raw.byteLength / 2);
    const u = new Uint32Array(out.buffer, out.byteOffset + at * 4, h.length);
    for (let i = 0; i < h.length; i++) u[i] = h[i]! << 16;
  }
}

export function decodeToF32(bytes: Uint8Array, dtype: SafetensorsDtype, what: string): Float32Array {
  const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  switch (dtype) {
    case 'F32':
      return new Float32Array(ab);
    case 'F64':
      return Float32Array.from(new Float64Array(ab));
    case 'F16': {
      const h = new Uint16Array(ab);
      const out = new Float32Array(h.length);
      for (let i = 0; i < h.length; i++) out[i] = f16ToF32(h[i]!);
      return out;
    }
    case 'BF16': {
      const h = new Uint16Array(ab);
      const u = new Uint32Array(h.length);
      for (let i = 0; i < h.length; i++) u[i] = h[i]! << 16;
      return new Float32Array(u.buffer);
    }
    default:
      throw new CheckpointError(`${what} has dtype ${dtype}, expected a floating-point type`);
  }
}

export type TensorToWrite =
  | { dtype: 'F32' | 'F16' | 'BF16'; shape: number[]; data: Float32Array }
  | { dtype: 'I32'; shape: number[]; data: Int32Array };

/**
 * Write tensors (float ones given as F32 values) to a safetensors file in the requested dtype.
 * Streams: each tensor is encoded and written in chunks (safetensors-writer.ts), never joined.
 */
export function writeSafetensors(file: string, tensors: Record<string, TensorToWrite>, metadata: Record<string, string> = {}): void {
  const streamed: StreamedTensor[] = Object.entries(tensors).map(([name, t]) => {
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) {
      throw new CheckpointError(`writing ${file}: tensor '${name}' has ${t.data.length} values for shape ${JSON.stringify(t.shape)}`);
    }
    return { name, dtype: t.dtype, shape: t.shape, values: () => [t.data] };
  });
  writeSafetensorsStream(file, streamed, { metadata });
}
