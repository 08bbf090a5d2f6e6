import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatEngineSpeed, measureEngineSpeed } from '../../src/bench/engine-speed.js';
import { OptionError } from '../../src/errors.js';

test('engine speed: a miniature run returns consistent numbers', async () => {
  const r = await measureEngineSpeed({ hiddenSize: 64, layers: 2, vocabSize: 256, seq: 16, threads: 1, warmup: 1, runs: 2 });
  assert.equal(r.model.heads, 1);
  assert.equal(r.model.intermediateSize, 256);
  assert.equal(r.model.matmulParams, 2 * (4 * 64 * 64 + 3 * 64 * 256) + 256 * 64);
  assert.ok(Math.abs(r.forwardGflop - (2 * r.model.matmulParams * 16 + 2 * 4 * 16 * 16 * 64) / 1e9) < 1e-12);
  assert.equal(r.forward.samplesMs.length, 2);
  assert.ok(r.forwardGflops > 0 && r.matmul.gflops > 0 && r.efficiencyPercent > 0);
  assert.ok(r.overheadPercent >= 0);
  assert.deepEqual(r.matmul.shape, [16, 64, 256]);
  assert.match(formatEngineSpeed(r), /efficiency: [\d.]+% of MatMul/);
  await assert.rejects(measureEngineSpeed({ hiddenSize: 100, heads: 3 }), OptionError);
});
