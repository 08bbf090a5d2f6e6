/**
 * The streaming safetensors writer: the header first, then every tensor's bytes written once, in
 * order, in calls of at most the chunk size (nothing is joined), each tensor's values pulled
 * once, when its turn comes; BF16/F16 encoded a piece at a time with round-to-nearest-even.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensorsHeader, readTensorBytes, readTensorF32 } from '../../src/model/safetensors.js';
import { safetensorsLayout, writeSafetensorsStream, type ByteSink, type StreamedTensor } from '../../src/model/safetensors-writer.js';
import { CheckpointError } from '../../src/errors.js';
import { tempDir, throwsWith } from './helpers.js';

/** Records every write; assembles the file. */
function recordingSink(): ByteSink & { writes: { position: number; length: number }[]; bytes(): Buffer; closed: boolean } {
  const writes: { position: number; length: number }[] = [];
  const parts: { position: number; data: Buffer }[] = [];
  const sink = {
    writes,
    closed: false,
    write(bytes: Uint8Array, position: number) {
      writes.push({ position, length: bytes.byteLength });
      parts.push({ position, data: Buffer.from(bytes) }); // copied: the writer reuses its buffers
    },
    close() {
      sink.closed = true;
    },
    bytes() {
      const end = Math.max(...parts.map((p) => p.position + p.data.byteLength));
      const out = Buffer.alloc(end);
      for (const p of parts) p.data.copy(out, p.position);
      return out;
    },
  };
  return sink;
}

/** A tensor whose values come in pieces of `piece` values, counting how often they are asked for. */
function pieces(name: string, dtype: StreamedTensor['dtype'], shape: number[], value: (i: number) => number, piece: number, calls: Map<string, number>): StreamedTensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return {
    name, dtype, shape,
    *values() {
      calls.set(name, (calls.get(name) ?? 0) + 1);
      const buf = dtype === 'I32' ? new Int32Array(piece) : new Float32Array(piece); // one buffer, reused
      for (let at = 0; at < n; at += piece) {
        const out = buf.subarray(0, Math.min(piece, n - at));
        for (let i = 0; i < out.length; i++) out[i] = value(at + i);
        yield out;
      }
    },
  };
}

test('each tensor is written once, in order, in writes of at most chunkBytes; values are pulled once', () => {
  const calls = new Map<string, number>();
  const tensors = [
    pieces('a', 'F32', [5, 7], (i) => i / 4, 6, calls),
    pieces('b', 'BF16', [33], (i) => 1 + i / 8, 33, calls), // one piece bigger than the chunk: split into writes
    pieces('c', 'I32', [9], (i) => i - 4, 2, calls),
    pieces('d', 'F16', [3, 5], (i) => -i / 16, 4, calls),
  ];
  const sink = recordingSink();
  const chunkBytes = 16;
  const layout = writeSafetensorsStream('unused', tensors, { chunkBytes, sink, metadata: { note: 'x' } });
  assert.ok(sink.closed);
  assert.deepEqual([...calls.entries()], [['a', 1], ['b', 1], ['c', 1], ['d', 1]]);
  // the header, then data writes that tile the rest of the file exactly: no gap, no overlap, no going back
  assert.equal(sink.writes[0]!.position, 0);
  assert.equal(sink.writes[0]!.length, layout.header.byteLength);
  let end = layout.header.byteLength;
  for (const w of sink.writes.slice(1)) {
    assert.equal(w.position, end, 'writes are consecutive');
    assert.ok(w.length > 0 && w.length <= chunkBytes, `a write of ${w.length} bytes (chunk ${chunkBytes})`);
    end += w.length;
  }
  assert.equal(end, layout.fileBytes);
  // what was written reads back as the values given
  const dir = tempDir();
  const file = join(dir, 'x.safetensors');
  writeFileSync(file, sink.bytes());
  const header = readSafetensorsHeader(file);
  assert.equal(header.metadata['note'], 'x');
  assert.deepEqual(readTensorF32(header.tensors.get('a')!), Float32Array.from({ length: 35 }, (_, i) => i / 4));
  assert.deepEqual(readTensorF32(header.tensors.get('b')!), Float32Array.from({ length: 33 }, (_, i) => Math.fround(1 + i / 8)));
  const c = readTensorBytes(header.tensors.get('c')!);
  assert.deepEqual([...new Int32Array(c.buffer, c.byteOffset, 9)], [-4, -3, -2, -1, 0, 1, 2, 3, 4]);
  assert.deepEqual(readTensorF32(header.tensors.get('d')!), Float32Array.from({ length: 15 }, (_, i) => -i / 16));
  assert.equal(layout.positions[1], layout.positions[0]! + 35 * 4);
});

test('BF16 rounds to nearest, ties to even, and F16 as f32ToF16 does (ties away), whatever the piece size', () => {
  // 1 + 2^-8 lies halfway between BF16 1 and 1 + 2^-7: ties to even (1); 1 + 3·2^-8 ties up to 1 + 2^-6
  const values = [1 + 2 ** -8, 1 + 3 * 2 ** -8, 1 + 2 ** -8 + 2 ** -20, -2.5, 65504, 1 + 2 ** -11, 1 + 3 * 2 ** -11];
  const expectBf16 = [1, 1 + 2 ** -6, 1 + 2 ** -7, -2.5, 65536, 1, 1];
  const expectF16 = [1 + 2 ** -8, 1 + 3 * 2 ** -8, 1 + 2 ** -8, -2.5, 65504, 1 + 2 ** -10, 1 + 2 ** -9];
  const dir = tempDir();
  for (const chunkBytes of [4, 6, 1024]) {
    const file = join(dir, `r${chunkBytes}.safetensors`);
    const calls = new Map<string, number>();
    writeSafetensorsStream(file, [
      pieces('bf', 'BF16', [7], (i) => values[i]!, 3, calls),
      pieces('h', 'F16', [7], (i) => values[i]!, 1, calls),
    ], { chunkBytes });
    const h = readSafetensorsHeader(file);
    assert.deepEqual([...readTensorF32(h.tensors.get('bf')!)], expectBf16, `BF16, chunk ${chunkBytes}`);
    assert.deepEqual([...readTensorF32(h.tensors.get('h')!)], expectF16, `F16, chunk ${chunkBytes}`);
  }
});

test('values that do not add up to the shape fail naming the tensor, and leave no file', () => {
  const dir = tempDir();
  const file = join(dir, 'bad.safetensors');
  const calls = new Map<string, number>();
  throwsWith(() => writeSafetensorsStream(file, [pieces('ok', 'F32', [4], (i) => i, 4, calls), { name: 'short', dtype: 'BF16', shape: [2, 3], values: () => [new Float32Array(5)] }]),
    CheckpointError, "'short'", 'got 5 values', '[2,3]');
  assert.ok(!existsSync(file));
  throwsWith(() => writeSafetensorsStream(file, [{ name: 'long', dtype: 'F32', shape: [2], values: () => [new Float32Array(2), new Float32Array(1)] }]), CheckpointError, "'long'", 'got 3');
  throwsWith(() => writeSafetensorsStream(file, [{ name: 'ints', dtype: 'I32', shape: [2], values: () => [new Float32Array(2)] }]), CheckpointError, "'ints'", 'I32');
});

test('the layout: an 8-aligned header and data offsets from shapes alone', () => {
  const layout = safetensorsLayout([{ name: 'x', dtype: 'BF16', shape: [3] }, { name: 'y', dtype: 'F32', shape: [2, 2] }]);
  assert.equal(layout.header.byteLength % 8, 0);
  assert.deepEqual(layout.byteLengths, [6, 16]);
  assert.deepEqual(layout.positions, [layout.header.byteLength, layout.header.byteLength + 6]);
  assert.equal(layout.fileBytes, layout.header.byteLength + 22);
  const json = JSON.parse(Buffer.from(layout.header.subarray(8)).toString('utf8')) as Record<string, { data_offsets: number[] }>;
  assert.deepEqual(json['y']!.data_offsets, [6, 22]);
});
