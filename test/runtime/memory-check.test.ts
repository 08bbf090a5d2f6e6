import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel } from '../../src/api.js';
import { InputError } from '../../src/errors.js';
import { isGraphCached } from '../../src/runtime/compile.js';
import { COMFORT, estimateAll } from '../../src/runtime/memory.js';
import { tempDir, tinyCheckpoint } from './helpers.js';

const tmp = tempDir('memory-check');
after(() => tmp.cleanup());
const GB = 1e9;

test('loadModel checks memory before compiling, with an injected memory source', async () => {
  const ck = tinyCheckpoint(tmp.dir, 'llada', { seed: 11 });
  const cacheDir = join(tmp.dir, 'cache');
  const estimates = estimateAll(ck.config);
  const at = (bytes: number) => () => ({ total: 64 * GB, available: bytes });
  const lines: string[] = [];
  const log = (line: string) => void lines.push(line);
  const name = ck.dir.split('/').pop()!;

  // nothing fits: an InputError, and nothing was compiled
  await assert.rejects(loadModel(ck.dir, { cacheDir, memory: at(50e6), log }), (e: unknown) =>
    e instanceof InputError && e.message.startsWith(`${name} needs `) && /even at int4 and this machine has ~?50 MB free$/.test(e.message));
  await assert.rejects(loadModel(ck.dir, { cacheDir, dtype: 'fp32', memory: at(50e6), log }), (e: unknown) =>
    e instanceof InputError && /at fp32 and this machine has 50 MB free; even int4 needs/.test(e.message));
  assert.ok(!existsSync(join(cacheDir, 'graphs')) || readdirSync(join(cacheDir, 'graphs')).length === 0, 'no graph compiled');

  // fp32 does not fit comfortably but int8 does: the default is int8, said in one line
  const [fp32, int8] = estimates;
  assert.equal(isGraphCached(ck.config, ck.weights, { kind: 'bidirectional', quantize: 'int8', cacheDir }), false);
  const band = (int8!.total + fp32!.total) / 2 / COMFORT;
  const auto = await loadModel(ck.dir, { cacheDir, memory: at(band), log, threads: 1 });
  try {
    assert.equal(auto.dtype, 'int8');
    assert.equal(auto.runtime.kind, 'bidirectional');
    assert.equal((auto.runtime as { graph?: { quantize: string } }).graph?.quantize, 'int8');
    assert.equal(isGraphCached(ck.config, ck.weights, { kind: 'bidirectional', quantize: 'int8', cacheDir }), true, 'compiled: a later check counts no compiling');
    assert.equal(isGraphCached(ck.config, ck.weights, { kind: 'bidirectional', quantize: 'int4', cacheDir }), false);
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, new RegExp(`^${name}: loading at int8 \\(~\\d+ MB\\): fp32 would need ~\\d+ MB and this machine has ~?\\d+ MB free \\(--dtype to choose\\)$`));
  } finally {
    await auto.dispose();
  }
  // plenty of memory: fp32, nothing said; an asked dtype is loaded as asked
  const plenty = await loadModel(ck.dir, { cacheDir, memory: at(64 * GB), log, threads: 1, dtype: 'auto' });
  await plenty.dispose();
  assert.equal(plenty.dtype, 'fp32');
  const asked = await loadModel(ck.dir, { cacheDir, memory: at(64 * GB), log, threads: 1, dtype: 'int4' });
  await asked.dispose();
  assert.equal(asked.dtype, 'int4');
  assert.equal(lines.length, 1, 'only the automatic non-fp32 choice is announced');
  // the check can be turned off
  const unchecked = await loadModel(ck.dir, { cacheDir, memory: at(1), checkMemory: false, threads: 1 });
  await unchecked.dispose();
  assert.equal(unchecked.dtype, 'fp32');
  await assert.rejects(loadModel(ck.dir, { cacheDir, dtype: 'fp16' as 'fp32' }), /dtype fp16 is not offered/);
});
