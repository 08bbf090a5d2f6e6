import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync, truncateSync, writeFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { loadCheckpoint, writeCheckpoint, writeRandomCheckpoint, type CheckpointDims } from '../../src/model/checkpoint.js';
import { readCanonicalTensors, checkFinite, resolveWeights } from '../../src/model/weights.js';
import { readModelConfig } from '../../src/model/config.js';
import { loadTensorTable, readTensorF32, writeSafetensors, type TensorEntry } from '../../src/model/safetensors.js';
import type { Architecture } from '../../src/model/types.js';
import { CheckpointError, ConfigError, OptionError } from '../../src/errors.js';
import { tempDir, throwsWith } from './helpers.js';

const DIMS: CheckpointDims = { vocabSize: 64, hiddenSize: 32, numLayers: 2, numHeads: 4, numKvHeads: 2, intermediateSize: 48 };

function random(arch: Architecture, extra: Partial<Parameters<typeof writeRandomCheckpoint>[1]> = {}): string {
  const dir = tempDir();
  writeRandomCheckpoint(dir, { architecture: arch, ...DIMS, seed: 7, ...extra });
  return dir;
}

test('tied embeddings: no lm head tensor, lmHead is the embedding', () => {
  for (const arch of ['llada', 'qwen2'] as const) {
    const ck = loadCheckpoint(random(arch, { tieWordEmbeddings: true }));
    assert.equal(ck.config.tieWordEmbeddings, true);
    assert.equal(ck.weights.lmHead, ck.weights.embed);
    assert.ok(![...ck.table.keys()].some((k) => k === 'lm_head.weight' || k === 'model.transformer.ff_out.weight'));
  }
});

test('given canonical values are written under the architecture names and read back exactly', () => {
  const dir = tempDir();
  const src = loadCheckpoint(random('llama'));
  const values = readCanonicalTensors(src.weights);
  values['layers.1.up']![5] = 0.125;
  writeCheckpoint(dir, 'llada', DIMS, values);
  const ck = loadCheckpoint(dir);
  const back = readCanonicalTensors(ck.weights);
  assert.deepEqual(Object.keys(back).sort(), Object.keys(values).sort());
  for (const [k, v] of Object.entries(values)) assert.deepEqual(back[k], v, k);
  assert.equal(readTensorF32(ck.table.get('model.transformer.blocks.1.up_proj.weight')!)[5], 0.125);
  // wrong inputs to the writer name the tensor
  throwsWith(() => writeCheckpoint(tempDir(), 'llama', DIMS, { ...values, 'layers.0.q': new Float32Array(3) }), OptionError, "'layers.0.q'", '[32,32]');
  const { embed: _e, ...noEmbed } = values;
  throwsWith(() => writeCheckpoint(tempDir(), 'llama', DIMS, noEmbed), OptionError, "'embed'");
  throwsWith(() => writeCheckpoint(tempDir(), 'llama', { ...DIMS, tieWordEmbeddings: true }, values), OptionError, "'lmHead'", 'tied');
});

test('same seed → same weights regardless of sharding; different seed → different', () => {
  const a = readCanonicalTensors(loadCheckpoint(random('qwen3')).weights);
  const b = readCanonicalTensors(loadCheckpoint(random('qwen3', { sharded: 3 })).weights);
  const c = readCanonicalTensors(loadCheckpoint(random('qwen3', { seed: 8 })).weights);
  for (const k of Object.keys(a)) assert.deepEqual(a[k], b[k], k);
  assert.notDeepEqual(a['layers.0.q'], c['layers.0.q']);
  // norm weights near 1, matrices small
  assert.ok(a['finalNorm']!.every((x) => x > 0.85 && x < 1.15));
  assert.ok(a['layers.0.q']!.every((x) => Math.abs(x) < 0.4));
});

test('sharded checkpoint writes an index and loads; a missing shard names the file', () => {
  const dir = random('llada', { sharded: 3 });
  const index = JSON.parse(readFileSync(join(dir, 'model.safetensors.index.json'), 'utf8')) as { weight_map: Record<string, string>; metadata: { total_size: number } };
  const shards = [...new Set(Object.values(index.weight_map))].sort();
  assert.deepEqual(shards, ['model-00001-of-00003.safetensors', 'model-00002-of-00003.safetensors', 'model-00003-of-00003.safetensors']);
  assert.ok(!existsSync(join(dir, 'model.safetensors')));
  const ck = loadCheckpoint(dir);
  assert.equal(new Set([...ck.table.values()].map((e) => e.file)).size, 3);
  assert.equal(index.metadata.total_size, [...ck.table.values()].reduce((s, e) => s + e.byteLength, 0));
  rmSync(join(dir, 'model-00002-of-00003.safetensors'));
  throwsWith(() => loadCheckpoint(dir), CheckpointError, 'model-00002-of-00003.safetensors');
});

/** sha256 (first 16 hex digits) of each weight file of a checkpoint directory. */
function weightHashes(dir: string, files: string[]): Record<string, string> {
  return Object.fromEntries(files.filter((f) => f.includes('safetensors')).map((f) => [f, createHash('sha256').update(readFileSync(join(dir, f))).digest('hex').slice(0, 16)]));
}

test('the streaming writer writes the bytes the whole-model writer wrote, for any piece size', () => {
  // pinned from the writer that held every tensor in fp32 and joined each file in one buffer:
  // tests and benchmarks keep their seeds' exact weights
  const pinned: [Partial<Parameters<typeof writeRandomCheckpoint>[1]>, Record<string, string>][] = [
    [{ architecture: 'llama' }, { 'model.safetensors': 'f425b330aed83767' }],
    [{ architecture: 'qwen2', dtype: 'BF16', sharded: true }, {
      'model-00001-of-00002.safetensors': '6cf3f75a7e4c6436', 'model-00002-of-00002.safetensors': 'c6decce51a722c9e', 'model.safetensors.index.json': '3cf84d07e9a275f8',
    }],
    [{ architecture: 'llada', dtype: 'F16', sharded: 3, tieWordEmbeddings: true }, {
      'model-00001-of-00003.safetensors': '3f6d73b28b9e1dee', 'model-00002-of-00003.safetensors': 'aecdeb9613169a88',
      'model-00003-of-00003.safetensors': 'ade539a9b2589bd3', 'model.safetensors.index.json': '0332462f7a0bd8e5',
    }],
  ];
  for (const [extra, hashes] of pinned) {
    for (const chunkBytes of [undefined, 12, 4096]) {
      const dir = tempDir();
      const written = writeRandomCheckpoint(dir, { architecture: 'llama', ...DIMS, seed: 7, ...extra, ...(chunkBytes ? { chunkBytes } : {}) });
      assert.deepEqual(weightHashes(dir, written.files), hashes, `${JSON.stringify(extra)} chunkBytes ${chunkBytes}`);
    }
  }
});

test('maxShardBytes: shards like save_pretrained (new shard before a tensor that would overflow; a big tensor alone), index and all', () => {
  const whole = readCanonicalTensors(loadCheckpoint(random('llama', { dtype: 'BF16' })).weights);
  // embed and lm head are 64×32 BF16 = 4096 bytes, the layers' matrices 512–3072 bytes
  const dir = random('llama', { dtype: 'BF16', maxShardBytes: 4096 });
  const index = JSON.parse(readFileSync(join(dir, 'model.safetensors.index.json'), 'utf8')) as { weight_map: Record<string, string>; metadata: { total_size: number } };
  const ck = loadCheckpoint(dir);
  const shards = [...new Set(Object.values(index.weight_map))];
  assert.ok(shards.length > 3, `${shards.length} shards`);
  const bytesOf = new Map<string, number>();
  for (const e of ck.table.values()) bytesOf.set(e.file, (bytesOf.get(e.file) ?? 0) + e.byteLength);
  for (const [file, bytes] of bytesOf) assert.ok(bytes <= 4096, `${file} holds ${bytes} tensor bytes`);
  assert.equal(index.metadata.total_size, [...bytesOf.values()].reduce((a, b) => a + b, 0));
  // the order of tensors is kept: shard numbers never decrease along the layout
  const order = Object.values(index.weight_map).map((f) => shards.indexOf(f));
  assert.deepEqual(order, [...order].sort((a, b) => a - b));
  const back = readCanonicalTensors(ck.weights);
  for (const k of Object.keys(whole)) assert.deepEqual(back[k], whole[k], k);
  // a tensor over the limit gets a shard of its own; under the default (5 GB) everything is one file
  // (qwen2: the q/k/v biases and the ffn norm, 384 F32 bytes in a row, share one)
  const perFile = new Map<string, TensorEntry[]>();
  for (const e of loadCheckpoint(random('qwen2', { maxShardBytes: 400 })).table.values()) perFile.set(e.file, [...(perFile.get(e.file) ?? []), e]);
  for (const group of perFile.values()) {
    if (group.some((e) => e.byteLength > 400)) assert.equal(group.length, 1, `${group.map((e) => e.name)} share a shard`);
  }
  assert.ok([...perFile.values()].some((g) => g.length === 4 && g.every((e) => e.byteLength <= 128)), 'the small tensors share a shard');
  assert.ok(existsSync(join(random('llama'), 'model.safetensors')));
  throwsWith(() => random('llama', { sharded: 2, maxShardBytes: 4096 }), OptionError, 'sharded', 'maxShardBytes');
  throwsWith(() => random('llama', { maxShardBytes: 0 }), OptionError, 'maxShardBytes');
});

test('F16 and BF16 checkpoints decode to the F32 values within format precision', () => {
  const f32 = readCanonicalTensors(loadCheckpoint(random('qwen2')).weights);
  for (const [dtype, relTol] of [['F16', 2 ** -11], ['BF16', 2 ** -8]] as const) {
    const ck = loadCheckpoint(random('qwen2', { dtype }));
    assert.equal(ck.weights.layers[0]!.q.dtype, dtype);
    assert.equal(ck.config.raw['torch_dtype'], dtype === 'F16' ? 'float16' : 'bfloat16');
    assert.equal(ck.weights.embed.byteLength, 64 * 32 * 2);
    const got = readCanonicalTensors(ck.weights);
    let exact = 0;
    let total = 0;
    for (const [k, ref] of Object.entries(f32)) {
      const v = got[k]!;
      for (let i = 0; i < ref.length; i++) {
        const err = Math.abs(v[i]! - ref[i]!);
        // relative rounding error; F16 subnormals (< 2^-14) have absolute precision 2^-24
        assert.ok(err <= Math.abs(ref[i]!) * relTol + 2 ** -24, `${dtype} ${k}[${i}]: ${v[i]} vs ${ref[i]}`);
        if (err === 0) exact++;
        total++;
      }
    }
    assert.ok(exact < total / 2, `${dtype} actually rounds (sanity: not storing F32)`);
  }
});

test('NaN / Inf weights: CheckpointError naming the tensor; checkFinite:false skips the scan', () => {
  for (const dtype of ['F32', 'F16', 'BF16'] as const) {
    const dir = tempDir();
    const values = readCanonicalTensors(loadCheckpoint(random('llama')).weights);
    values['layers.1.up']![17] = dtype === 'F16' ? Infinity : NaN;
    writeCheckpoint(dir, 'llama', DIMS, values, { dtype });
    throwsWith(() => loadCheckpoint(dir), CheckpointError, "'model.layers.1.mlp.up_proj.weight'", 'NaN or Inf', 'element 17');
    const ck = loadCheckpoint(dir, { checkFinite: false });
    assert.ok(Number.isNaN(readTensorF32(ck.weights.layers[1]!.up)[17]) || readTensorF32(ck.weights.layers[1]!.up)[17] === Infinity);
  }
  // the largest finite values of each format are not flagged
  for (const [dtype, big] of [['F32', 3.4e38], ['F16', 65504], ['BF16', 3.38e38]] as const) {
    const ok = tempDir();
    const values = readCanonicalTensors(loadCheckpoint(random('llama')).weights);
    values['embed']![0] = big;
    values['embed']![1] = -big;
    writeCheckpoint(ok, 'llama', DIMS, values, { dtype });
    const ck = loadCheckpoint(ok);
    assert.ok(Number.isFinite(readTensorF32(ck.weights.embed)[0]) && readTensorF32(ck.weights.embed)[0]! > 6e4, dtype);
  }
});

test('checkFinite streams large tensors quickly', () => {
  const dir = tempDir();
  const n = 4 * 1024 * 1024 + 3; // spans chunk boundaries
  const data = new Float32Array(n).fill(0.5);
  data[n - 1] = NaN;
  writeSafetensors(join(dir, 'big.safetensors'), { big: { dtype: 'F32', shape: [n], data } });
  const entry = loadTensorTableFromFile(join(dir, 'big.safetensors'));
  const weights = { embed: entry, layers: [], finalNorm: entry, lmHead: entry };
  const t0 = performance.now();
  throwsWith(() => checkFinite(weights), CheckpointError, "'big'", `element ${n - 1}`);
  assert.ok(performance.now() - t0 < 2000, 'scan of 16 MB took over 2 s');
});

function loadTensorTableFromFile(file: string) {
  const dir = file.slice(0, file.lastIndexOf('/'));
  writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { big: 'big.safetensors' } }));
  return loadTensorTable(dir).get('big')!;
}

test('missing directory, config.json or weights: CheckpointError naming the path', () => {
  throwsWith(() => loadCheckpoint('/nonexistent/paradec-ckpt'), CheckpointError, '/nonexistent/paradec-ckpt');
  const noCfg = random('llama');
  rmSync(join(noCfg, 'config.json'));
  throwsWith(() => loadCheckpoint(noCfg), CheckpointError, join(noCfg, 'config.json'));
  const noWeights = random('llama');
  rmSync(join(noWeights, 'model.safetensors'));
  throwsWith(() => loadCheckpoint(noWeights), CheckpointError, noWeights, 'model.safetensors');
});

test('unknown model_type in a written checkpoint is a ConfigError', () => {
  const dir = tempDir();
  writeCheckpoint(dir, 'llama', DIMS, { seed: 1 }, { extraConfig: { model_type: 'mistral' } });
  throwsWith(() => loadCheckpoint(dir), ConfigError, '"mistral"', 'supported');
});

test('truncated safetensors file names the file and tensor', () => {
  const dir = random('llama');
  const file = join(dir, 'model.safetensors');
  truncateSync(file, statSync(file).size - 10);
  throwsWith(() => loadCheckpoint(dir), CheckpointError, file, 'lm_head.weight', 'beyond the end');
  truncateSync(file, 5);
  throwsWith(() => loadCheckpoint(dir), CheckpointError, file, 'truncated');
});

/** Rewrite model.safetensors' JSON header through `edit`, keeping its byte length. */
function editHeader(dir: string, edit: (header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>) => void): string {
  const file = join(dir, 'model.safetensors');
  const buf = readFileSync(file);
  const len = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + len).toString('utf8'));
  delete header['__metadata__']; // frees a few bytes so edits may lengthen numbers
  edit(header);
  let json = JSON.stringify(header);
  assert.ok(Buffer.byteLength(json) <= len, 'edited header must not grow');
  json = json.padEnd(len, ' ');
  buf.write(json, 8, 'utf8');
  writeFileSync(file, buf);
  return file;
}

test('a header that lies: offsets beyond the file, byte count not matching shape', () => {
  const dir = random('llama');
  const file = editHeader(dir, (h) => {
    const t = h['model.norm.weight']!;
    t.data_offsets = [t.data_offsets[0] + 1_000_000, t.data_offsets[1] + 1_000_000];
  });
  throwsWith(() => loadCheckpoint(dir), CheckpointError, file, 'model.norm.weight', 'beyond the end');

  const dir2 = random('llama');
  const file2 = editHeader(dir2, (h) => {
    h['model.layers.0.self_attn.o_proj.weight']!.shape = [32, 31];
  });
  throwsWith(() => loadCheckpoint(dir2), CheckpointError, file2, 'model.layers.0.self_attn.o_proj.weight', 'needs');
});

test('shape mismatch against the config names tensor, got and expected', () => {
  const dir = tempDir();
  writeCheckpoint(dir, 'qwen2', DIMS, { seed: 3 }, { extraConfig: { intermediate_size: 40 } });
  throwsWith(() => loadCheckpoint(dir), CheckpointError, "'model.layers.0.mlp.gate_proj.weight'", '[48,32]', '[40,32]');
  // header edited to a consistent but wrong shape
  const dir2 = random('llada');
  editHeader(dir2, (h) => {
    h['model.transformer.blocks.1.attn_out.weight']!.shape = [16, 64];
  });
  throwsWith(() => loadCheckpoint(dir2), CheckpointError, 'model.transformer.blocks.1.attn_out.weight', '[16,64]', '[32,32]');
});

test('wrong dtype names the tensor', () => {
  const dir = random('qwen3');
  const file = editHeader(dir, (h) => {
    h['model.layers.1.self_attn.q_norm.weight']!.dtype = 'I32';
  });
  throwsWith(() => loadCheckpoint(dir), CheckpointError, 'model.layers.1.self_attn.q_norm.weight', 'I32', file);
});

test('a missing tensor names the tensor and the file', () => {
  const dir = random('dream');
  const table = loadTensorTable(dir);
  const config = readModelConfig(dir);
  table.delete('model.layers.1.self_attn.v_proj.bias');
  throwsWith(() => resolveWeights(config, table), CheckpointError, "'model.layers.1.self_attn.v_proj.bias'", join(dir, 'model.safetensors'));
  // and through the loader, with a rewritten file lacking the tensor
  const dir2 = random('llada');
  const full = loadTensorTable(dir2);
  const tensors: Record<string, { dtype: 'F32'; shape: number[]; data: Float32Array }> = {};
  for (const [name, e] of full) if (name !== 'model.transformer.blocks.0.up_proj.weight') tensors[name] = { dtype: 'F32', shape: e.shape, data: readTensorF32(e) };
  writeSafetensors(join(dir2, 'model.safetensors'), tensors);
  throwsWith(() => loadCheckpoint(dir2), CheckpointError, "'model.transformer.blocks.0.up_proj.weight'", 'model.safetensors');
});
