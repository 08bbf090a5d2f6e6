/**
 * safetensors reading and writing.
 *
 * Written by hand because the format is tiny (8-byte length, JSON header, raw bytes) and no
 * maintained npm package exposes what paradec needs: absolute byte offsets of every tensor, so
 * that ONNX external-data initializers can point straight into `model.safetensors` and weights
 * never pass through JavaScript when a graph is compiled.
 */
import { closeSync, fstatSync, openSync, readSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { CheckpointError } from '../errors.js';

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
    readSync(fd, lenBuf, 0, 8, 0);
    const headerLen = Number(lenBuf.readBigUInt64LE(0));
    if (headerLen <= 0 || headerLen > MAX_HEADER_BYTES || 8 + headerLen > size) {
      throw new CheckpointError(`${file}: safetensors header length ${headerLen} does not fit in a ${size}-byte file`);
    }
    const headerBuf = Buffer.alloc(headerLen);
    readSync(fd, headerBuf, 0, headerLen, 8);
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
      if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
        throw new CheckpointError(`${file}: tensor '${name}' has an invalid shape ${JSON.stringify(shape)}`);
      }
      const offs = info.data_offsets;
      if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isInteger(o) && o >= 0)) {
        throw new CheckpointError(`${file}: tensor '${name}' has invalid data_offsets ${JSON.stringify(offs)}`);
      }
      const [begin, end] = offs as [number, number];
      const expected = (shape as number[]).reduce((a, b) => a * b, 1) * DTYPE_BYTES[dtype as SafetensorsDtype];
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

/** Read raw bytes of a tensor. */
export function readTensorBytes(entry: TensorEntry): Buffer {
  const fd = openSync(entry.file, 'r');
  try {
    const buf = Buffer.alloc(entry.byteLength);
    const n = readSync(fd, buf, 0, entry.byteLength, entry.offset);
    if (n !== entry.byteLength) throw new CheckpointError(`${entry.file}: tensor '${entry.name}' is truncated`);
    return buf;
  } finally {
    closeSync(fd);
  }
}

export function f16ToF32(h: number): number {
  const s = (h & 0x8000) >> 15;
  const e = (h & 0x7c00) >> 10;
  const f = h & 0x03ff;
  let v: number;
  if (e === 0) v = (f / 1024) * 2 ** -14;
  else if (e === 0x1f) v = f ? NaN : Infinity;
  else v = (1 + f / 1024) * 2 ** (e - 15);
  return s ? -v : v;
}

export function f32ToF16(v: number): number {
  const f32 = new Float32Array([v]);
  const u = new Uint32Array(f32.buffer)[0]!;
  const sign = (u >> 16) & 0x8000;
  const exp = (u >> 23) & 0xff;
  let mant = u & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant = (mant | 0x800000) >> (1 - e);
    if (mant & 0x1000) mant += 0x2000;
    return sign | (mant >> 13);
  }
  if (mant & 0x1000) {
    mant += 0x2000;
    if (mant & 0x800000) {
      mant = 0;
      e += 1;
      if (e >= 0x1f) return sign | 0x7c00;
    }
  }
  return sign | (e << 10) | (mant >> 13);
}

/** Decode a floating tensor (F32, F16, BF16, F64) to Float32Array. */
export function readTensorF32(entry: TensorEntry): Float32Array {
  const bytes = readTensorBytes(entry);
  return decodeToF32(bytes, entry.dtype, `${entry.file}: tensor '${entry.name}'`);
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

/** Write tensors (float ones given as F32 values) to a safetensors file in the requested dtype. */
export function writeSafetensors(file: string, tensors: Record<string, TensorToWrite>, metadata: Record<string, string> = {}): void {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt', ...metadata } };
  const chunks: Buffer[] = [];
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) {
      throw new CheckpointError(`writing ${file}: tensor '${name}' has ${t.data.length} values for shape ${JSON.stringify(t.shape)}`);
    }
    let buf: Buffer;
    if (t.dtype === 'F32' || t.dtype === 'I32') buf = Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    else {
      const h = new Uint16Array(count);
      if (t.dtype === 'F16') for (let i = 0; i < count; i++) h[i] = f32ToF16(t.data[i]!);
      else {
        const u = new Uint32Array(t.data.buffer, t.data.byteOffset, count);
        // round-to-nearest-even to bfloat16
        for (let i = 0; i < count; i++) {
          const x = u[i]!;
          h[i] = ((x + 0x7fff + ((x >> 16) & 1)) >>> 16) & 0xffff;
        }
      }
      buf = Buffer.from(h.buffer);
    }
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + buf.byteLength] };
    chunks.push(buf);
    offset += buf.byteLength;
  }
  let json = JSON.stringify(header);
  // pad the header to 8 bytes so that data is aligned (as the reference implementation does)
  while ((8 + Buffer.byteLength(json)) % 8 !== 0) json += ' ';
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  writeFileSync(file, Buffer.concat([len, Buffer.from(json, 'utf8'), ...chunks]));
}
