/**
 * Reading tensors of any size: the chunk arithmetic for ranges past 2^31 and 2^32 (which no
 * test can create on disk), multi-chunk reads on small files through a tiny injected chunk size,
 * and clear errors for what cannot be held in one typed array.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ioChunks, MAX_TYPED_ARRAY_LENGTH, readFully } from '../../src/model/file-io.js';
import { readSafetensorsHeader, readTensorBytes, readTensorF32, readTensorF32Pieces, writeSafetensors, type TensorEntry } from '../../src/model/safetensors.js';
import { CheckpointError } from '../../src/errors.js';
import { tempDir, throwsWith } from './helpers.js';

const GiB = 2 ** 30;

/** The chunks as BigInt ranges, checked against exact integer arithmetic. */
function assertCovers(position: number, length: number, chunkBytes: number): void {
  const chunks = ioChunks(position, length, chunkBytes);
  let next = BigInt(position);
  let at = 0n;
  for (const c of chunks) {
    assert.ok(Number.isSafeInteger(c.position) && Number.isSafeInteger(c.at) && Number.isSafeInteger(c.length));
    assert.ok(c.length > 0 && c.length <= chunkBytes, `chunk of ${c.length} bytes`);
    assert.equal(BigInt(c.position), next, 'consecutive file positions');
    assert.equal(BigInt(c.at), at, 'consecutive destination offsets');
    next += BigInt(c.length);
    at += BigInt(c.length);
  }
  assert.equal(next, BigInt(position) + BigInt(length), 'the chunks end where the range ends');
  assert.equal(chunks.length, Math.ceil(length / chunkBytes));
}

test('chunk arithmetic is exact for ranges past 2^31, 2^32 and far beyond', () => {
  // a 2.5 GiB tensor (a 72B BF16 embedding) at the start of a shard, and after 4 GiB of others
  assertCovers(8 + 1024, 2.5 * GiB, GiB);
  assertCovers(2 ** 32 + 8, 2.5 * GiB + 2, GiB);
  // 2^31 - 1 (the most one readSync takes) and odd chunk sizes
  assertCovers(2 ** 31 - 3, 5 * GiB + 7, 2 ** 31 - 1);
  assertCovers(3 * 2 ** 40 + 1, 17 * GiB + 3, 123_456_789);
  // exact values where a 32-bit (or float32) computation would wrap or round
  const c = ioChunks(2 ** 33 + 1, 3 * GiB, GiB);
  assert.deepEqual(c.map((x) => x.position), [2 ** 33 + 1, 2 ** 33 + 1 + GiB, 2 ** 33 + 1 + 2 * GiB]);
  assert.deepEqual(c.map((x) => x.at), [0, GiB, 2 * GiB]);
  assert.deepEqual(ioChunks(5, 0, 4), []);
  // ranges a double cannot hold exactly, and chunks one syscall cannot take, are refused
  assert.throws(() => ioChunks(2 ** 53 - 10, 100), RangeError);
  assert.throws(() => ioChunks(0, 10, 2 ** 31), RangeError);
  assert.throws(() => ioChunks(-1, 10), RangeError);
});

test('readFully reads a range in many chunks; a file that ends early names what and how short', () => {
  const dir = tempDir();
  const file = join(dir, 'bytes');
  const data = Uint8Array.from({ length: 1000 }, (_, i) => (i * 7 + 3) & 0xff);
  writeFileSync(file, data);
  const fd = openSync(file, 'r');
  try {
    for (const chunk of [1, 7, 64, 499, 500, 4096]) {
      const got = new Uint8Array(500);
      readFully(fd, got, 13, 'the test bytes', chunk);
      assert.deepEqual(got, data.subarray(13, 513), `chunk ${chunk}`);
    }
    throwsWith(() => readFully(fd, new Uint8Array(100), 950, "tensor 'x'", 16), CheckpointError, "tensor 'x'", 'truncated', '50 bytes short');
  } finally {
    closeSync(fd);
  }
});

test('tensors read in chunks (chunk sizes not multiples of the element) equal one read', () => {
  const dir = tempDir();
  const file = join(dir, 'm.safetensors');
  const n = 1001;
  const values = Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 3 + (i % 5 === 0 ? 1e-6 : 0));
  writeSafetensors(file, {
    f32: { dtype: 'F32', shape: [7, 143], data: values },
    f16: { dtype: 'F16', shape: [n], data: values },
    bf16: { dtype: 'BF16', shape: [11, 91], data: values },
  });
  const header = readSafetensorsHeader(file);
  for (const name of ['f32', 'f16', 'bf16']) {
    const entry = header.tensors.get(name)!;
    const whole = readTensorF32(entry);
    const bytes = readTensorBytes(entry);
    if (name === 'f32') assert.deepEqual(whole, values);
    for (const chunkBytes of [1, 3, 6, 10, 1000, 4005, 1 << 20]) {
      assert.deepEqual(readTensorF32(entry, { chunkBytes }), whole, `${name} decoded with chunkBytes ${chunkBytes}`);
      assert.deepEqual(readTensorBytes(entry, { chunkBytes }), bytes, `${name} bytes with chunkBytes ${chunkBytes}`);
      // the streaming form: pieces of at most chunkBytes / 4 values (one at least), together the tensor
      const pieces: number[] = [];
      const lengths: number[] = [];
      for (const piece of readTensorF32Pieces(entry, { chunkBytes })) {
        pieces.push(...piece);
        lengths.push(piece.length);
      }
      assert.deepEqual(Float32Array.from(pieces), whole, `${name} in pieces with chunkBytes ${chunkBytes}`);
      assert.ok(lengths.every((n) => n >= 1 && n <= Math.max(1, Math.floor(chunkBytes / 4))), `${name}: piece lengths ${lengths.slice(0, 5)}`);
    }
  }
  // BF16 is the top half of the F32: decoding its bytes directly agrees with the chunked decode
  const bf = header.tensors.get('bf16')!;
  const raw = readTensorBytes(bf);
  const u16 = new Uint16Array(raw.buffer, raw.byteOffset, n);
  assert.deepEqual(readTensorF32(bf, { chunkBytes: 10 }), new Float32Array(Uint32Array.from(u16, (h) => h << 16).buffer));
});

test('a tensor too large for one typed array is refused by name, before any read', () => {
  const entry = (shape: number[], dtype: TensorEntry['dtype']): TensorEntry => ({
    name: 'model.embed_tokens.weight', file: '/nonexistent/model-00001-of-00030.safetensors', dtype, shape,
    offset: 2 ** 34, byteLength: shape.reduce((a, b) => a * b, 1) * (dtype === 'F32' ? 4 : 2),
  });
  // 2^32 + 2^20 values: its fp32 form is past one Float32Array (and its BF16 bytes past one Buffer)
  const huge = entry([4096 + 1, 2 ** 20], 'BF16');
  throwsWith(() => readTensorF32(huge), CheckpointError, "'model.embed_tokens.weight'", 'Float32Array', String(MAX_TYPED_ARRAY_LENGTH));
  throwsWith(() => readTensorBytes(huge), CheckpointError, "'model.embed_tokens.weight'", 'Buffer');
  // a 2.5 GiB BF16 tensor fits both: the check passes and the read fails on the file instead
  throwsWith(() => readTensorF32(entry([152064, 8192], 'BF16')), CheckpointError, 'model-00001-of-00030.safetensors', 'cannot open');
});

test('header offsets and shapes that no double holds exactly are refused by name', () => {
  const dir = tempDir();
  const write = (header: object): string => {
    const json = Buffer.from(JSON.stringify(header));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(json.byteLength));
    const file = join(dir, `h${Math.random().toString(36).slice(2)}.safetensors`);
    writeFileSync(file, Buffer.concat([len, json, Buffer.alloc(16)]));
    return file;
  };
  throwsWith(() => readSafetensorsHeader(write({ w: { dtype: 'F32', shape: [4], data_offsets: [2 ** 53, 2 ** 53 + 16] } })), CheckpointError, "'w'", 'data_offsets');
  throwsWith(() => readSafetensorsHeader(write({ w: { dtype: 'F32', shape: [2 ** 30, 2 ** 30, 2 ** 4], data_offsets: [0, 16] } })), CheckpointError, "'w'", 'too large');
  // a header length past 2^53 is compared as a 64-bit integer, not rounded
  const file = join(dir, 'len.safetensors');
  const len = Buffer.alloc(24);
  len.writeBigUInt64LE(2n ** 63n + 5n);
  writeFileSync(file, len);
  throwsWith(() => readSafetensorsHeader(file), CheckpointError, file, String(2n ** 63n + 5n));
});
