import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { InputError, OptionError } from '../../src/errors.js';
import { parseModelConfig } from '../../src/model/config.js';
import type { ModelConfig } from '../../src/model/types.js';
import { parseDtype } from '../../src/runtime/dtype.js';
import {
  checkFits, chooseDtype, COMFORT, estimateAll, estimateMemory, formatBytes, storedBytesPerParam, systemMemory, type MemoryInfo,
} from '../../src/runtime/memory.js';

// the estimate and the choices on scripted configs and fake memory sizes; loadModel's use of
// them, which compiles graphs, is in memory-check.test.ts
const GB = 1e9;

/** LLaDA-8B's shape (hidden 4096, 32 layers, vocabulary 126464), from a config.json like its own. */
function llada8b(): ModelConfig {
  const raw = JSON.parse(readFileSync('models/tiny-dlm/config.json', 'utf8')) as Record<string, unknown>;
  return parseModelConfig({
    ...raw, d_model: 4096, n_heads: 32, n_kv_heads: 32, n_layers: 32, mlp_hidden_size: 12288,
    vocab_size: 126464, embedding_size: 126464, max_sequence_length: 4096, mask_token_id: 126336,
  });
}

const memory = (availableGB: number): MemoryInfo => ({ total: 24 * GB, available: availableGB * GB });

test('estimates: fp32 > int8 > int4; a 16-bit checkpoint costs more to load at fp32; tied heads; the default size', () => {
  const c = llada8b();
  const [fp32, int8, int4] = estimateAll(c, { storedBytesPerParam: 2 });
  assert.deepEqual([fp32!.dtype, int8!.dtype, int4!.dtype], ['fp32', 'int8', 'int4']);
  assert.ok(fp32!.total > int8!.total && int8!.total > int4!.total);
  // fp32 holds ~4 bytes per parameter (8.0B of them); the quantized weights a third and a fifth of that
  assert.ok(fp32!.weights > 32 * GB && fp32!.weights < 33 * GB, formatBytes(fp32!.weights));
  assert.ok(int8!.weights / fp32!.weights < 0.36 && int4!.weights / fp32!.weights < 0.22);
  // BF16 → float32 Cast folding at load; an F32 checkpoint has none
  assert.ok(fp32!.loading > 0);
  assert.equal(estimateMemory(c, 'fp32', { storedBytesPerParam: 4 }).loading, 0);
  // fp32: the folding is over before the first forward; quantizing: its copies may outlive it
  assert.equal(fp32!.total, fp32!.process + fp32!.weights + Math.max(fp32!.activations, fp32!.loading));
  assert.equal(int4!.total, int4!.process + int4!.weights + int4!.activations + int4!.loading);
  // a quantized graph already compiled loads without the compiler's float32 copies
  const cached = estimateMemory(c, 'int4', { storedBytesPerParam: 2, compiled: true });
  assert.deepEqual([cached.loading, cached.total], [0, int4!.total - int4!.loading]);
  // a tied head saves nothing in memory: ORT prepacks the head's own copy of the embedding's matrix
  const tied = { ...c, tieWordEmbeddings: true };
  for (const e of estimateAll(c)) assert.equal(estimateMemory(tied, e.dtype).weights, e.weights, e.dtype);
  // activations at the default 256 tokens, dominated by the decode head's full-vocabulary tensors
  assert.ok(estimateMemory(c, 'fp32', { tokens: 512 }).activations > 1.9 * fp32!.activations);
  assert.equal(estimateMemory({ ...c, maxPositions: 64 }, 'fp32').activations, estimateMemory(c, 'fp32', { tokens: 64 }).activations);
});

test('an asked dtype that does not fit: one line naming what it needs, the free memory and the dtype that would fit', () => {
  const c = llada8b();
  const estimates = estimateAll(c, { storedBytesPerParam: 2 });
  const [fp32, int8, int4] = estimates.map((e) => formatBytes(e.total));
  const fails = (dtype: 'fp32' | 'int8' | 'int4', gb: number, message: string) =>
    assert.throws(() => checkFits('LLaDA-8B', dtype, estimates, memory(gb)), (e: unknown) => {
      assert.ok(e instanceof InputError);
      assert.equal(e.message, message);
      return true;
    });
  fails('fp32', 23, `LLaDA-8B needs ${fp32} at fp32 and this machine has 23 GB free; --dtype int8 needs ${int8}`);
  fails('fp32', 14, `LLaDA-8B needs ${fp32} at fp32 and this machine has 14 GB free; --dtype int4 needs ${int4}`);
  fails('int8', 14, `LLaDA-8B needs ${int8} at int8 and this machine has 14 GB free; --dtype int4 needs ${int4}`);
  fails('fp32', 4, `LLaDA-8B needs ${fp32} at fp32 and this machine has 4.0 GB free; even int4 needs ${int4}`);
  fails('int4', 4, `LLaDA-8B needs ${int4} at int4 and this machine has 4.0 GB free`);
  assert.equal(checkFits('LLaDA-8B', 'int8', estimates, memory(23)).dtype, 'int8');
  assert.equal(checkFits('LLaDA-8B', 'fp32', estimates, memory(200)).dtype, 'fp32');
});

test('the default dtype: fp32 when it fits comfortably, else the most precise that does (said in one line), else an error', () => {
  const estimates = estimateAll(llada8b(), { storedBytesPerParam: 2 });
  const [fp32, int8, int4] = estimates;
  const big = chooseDtype('LLaDA-8B', estimates, memory(200));
  assert.deepEqual([big.dtype, big.notice], ['fp32', null]);
  const mid = chooseDtype('LLaDA-8B', estimates, memory(23));
  assert.equal(mid.dtype, 'int8');
  assert.equal(mid.notice, `LLaDA-8B: loading at int8 (${formatBytes(int8!.total)}): fp32 would need ${formatBytes(fp32!.total)} and this machine has 23 GB free (--dtype to choose)`);
  assert.equal(chooseDtype('LLaDA-8B', estimates, memory(int8!.total / COMFORT / GB - 0.01)).dtype, 'int4', 'just under int8 comfortable');
  assert.throws(() => chooseDtype('LLaDA-8B', estimates, memory(int4!.total / GB)), (e: unknown) =>
    e instanceof InputError && e.message === `LLaDA-8B needs ${formatBytes(int4!.total)} even at int4 and this machine has ${formatBytes(int4!.total).slice(1)} free`);
});

test('dtype names: auto and the three dtypes; fp16 and anything else rejected with the choices', () => {
  assert.equal(parseDtype('int8', '--dtype'), 'int8');
  assert.equal(parseDtype('auto', '--dtype', true), 'auto');
  assert.throws(() => parseDtype('auto', 'dtype'), /dtype must be one of fp32, int8, int4 \(got 'auto'\)/);
  assert.throws(() => parseDtype('fp16', '--dtype', true), (e: unknown) => e instanceof OptionError && /fp16 is not offered.*choices: auto, fp32, int8, int4/.test(e.message));
  assert.throws(() => parseDtype('INT8', '--dtype'), /got 'INT8'/);
});

test('the memory source: the system one is sane; stored bytes per parameter', () => {
  const m = systemMemory();
  assert.ok(m.total > 0 && m.available > 0 && m.available <= m.total, JSON.stringify(m));
  assert.equal(storedBytesPerParam([{ shape: [4, 8], byteLength: 64 }]), 2);
  assert.equal(storedBytesPerParam([{ shape: [4, 8], byteLength: 128 }, { shape: [2], byteLength: 8 }]), 4);
});
