/**
 * A model's first forwards are slower than the rest: ONNX Runtime grows its arena and the
 * process faults in the weights' pages on them. Measured on a 130M-parameter LLaDA-shaped model
 * (64 tokens, 2-core VM): int4 236 and 268 ms for the first two forwards, then 113 ms; fp32 328,
 * 366, then 130–187 ms. `loadModel` runs two forwards at load for models whose weights are big
 * enough for this to matter (`LoadOptions.warmUp`), so the first request costs what the next
 * ones do; small models skip it (it would only add to their load time).
 */
import type { BidirectionalModel, CausalModel } from './types.js';

/** Weights from which `loadModel` warms a model up by default (64 MB). */
export const WARM_UP_FROM_BYTES = 64 * 1024 * 1024;

/** Two forwards of `tokens` positions (capped at the model's context), their results dropped. */
export async function warmUp(model: BidirectionalModel | CausalModel, tokens = 64): Promise<void> {
  const n = Math.max(1, Math.min(tokens, model.maxPositions - 1));
  for (let i = 0; i < 2; i++) {
    if (model.kind === 'bidirectional') {
      await model.forward(new Int32Array(n).fill(model.maskTokenId), 1, n);
    } else {
      const empty = model.emptyCache(1);
      const { cache } = await model.forward(new Int32Array(n), 1, n, empty);
      model.releaseCache?.(cache);
    }
  }
}
