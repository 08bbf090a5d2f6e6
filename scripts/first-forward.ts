// The first forwards of a model against the next ones, after loadModel (its warm-up: runtime/warm-up.ts),
// on a 130M-parameter LLaDA-shaped random BF16 checkpoint at int4 and fp32: docs/scale.md, "First forward".
//   node --import tsx scripts/first-forward.ts
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel } from '../src/api.js';
import { writeRandomCheckpoint } from '../src/model/checkpoint.js';
import type { BidirectionalModel } from '../src/runtime/types.js';
const dir = mkdtempSync(join(tmpdir(), 'ff-'));
writeRandomCheckpoint(join(dir, 'm'), { architecture: 'llada', vocabSize: 32000, hiddenSize: 1024, numLayers: 8, numHeads: 16, numKvHeads: 16, intermediateSize: 2816, seed: 1, dtype: 'BF16' });
for (const dtype of ['int4', 'fp32'] as const) {
  let t = performance.now();
  const m = await loadModel(join(dir, 'm'), { dtype, cacheDir: join(dir, 'cache') });
  console.log(dtype, 'load', (performance.now() - t).toFixed(0), 'ms', (process.memoryUsage().rss / 1e6).toFixed(0), 'MB');
  const rt = m.runtime as BidirectionalModel;
  for (let i = 0; i < 4; i++) {
    t = performance.now();
    await rt.forward(new Int32Array(64).fill(5), 1, 64);
    console.log(`  forward ${i}: ${(performance.now() - t).toFixed(0)} ms`);
  }
  await m.dispose();
}
rmSync(dir, { recursive: true, force: true });
