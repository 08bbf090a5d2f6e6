/**
 * Layer-skip self-speculation with Unified Layer Skipping (Liu et al. 2024, "Accelerating
 * Inference in Large Language Models with a Unified Layer Skipping Strategy", arXiv:2404.06954).
 *
 * The drafter is the target itself with layers skipped: the number kept follows from the target
 * speedup `ratio` alone (default 2: half the layers), and the skipped layers are spread evenly
 * over the intermediate layers (the first and last layers always run). Skipping alone is lossy;
 * as in Draft&Verify / LayerSkip / SWIFT (and HF's `assistant_early_exit`), the skipped model
 * drafts and the full target verifies, so the output is the target's (identical to plain greedy
 * at temperature 0, the target's distribution with verify=sampling|block). The draft loop, draft
 * length schedule and confidence stop are those of `speculative` (same defaults).
 *
 * Engine: the drafter is compiled as its own causal graph over the kept layers of the target's
 * checkpoint (same weight files, no copy) and keeps its own KV cache; it needs the target's
 * checkpoint directory, which the caller knows (`ExtraModels.targetCheckpointDir`: read from the
 * target's compiled graph), or given as `model=DIR`.
 */
import { OptionError } from '../../errors.js';
import { DRAFT_LOOP_PARAMS, DRAFT_RUN_PARAMS, draftSettings } from './draft-params.js';
import { draftModelStrategy } from './speculative.js';
import { defineAutoregressiveStrategy } from './types.js';

/**
 * Unified Layer Skipping's choice (Liu et al. 2024, arXiv:2404.06954): the number of layers to
 * keep follows from the target speedup ratio alone (round(L / ratio), at least 2 when L ≥ 2), and
 * the skipped layers are spread evenly over the intermediate layers: the kept ones are evenly
 * spaced from the first layer to the last, which are always kept.
 */
export function unifiedKeptLayers(numLayers: number, ratio: number): number[] {
  if (!(ratio >= 1)) throw new OptionError(`layerskip: ratio must be >= 1, got ${ratio}`);
  const keep = Math.min(numLayers, Math.max(Math.min(2, numLayers), Math.round(numLayers / ratio)));
  if (keep === 1) return [0];
  const out: number[] = [];
  for (let i = 0; i < keep; i++) {
    const at = Math.round((i * (numLayers - 1)) / (keep - 1));
    if (!out.includes(at)) out.push(at);
  }
  return out;
}

export const layerskip = defineAutoregressiveStrategy({
  name: 'layerskip',
  summary: 'self-speculation: the target with evenly skipped middle layers drafts, the full target verifies',
  paper: 'Liu et al. 2024, Unified Layer Skipping (arXiv:2404.06954); self-speculative verification as in Draft&Verify / LayerSkip',
  params: {
    ratio: { type: 'number', default: 2, min: 1, max: 64, description: 'target speedup of the drafter: keeps round(layers / ratio) layers' },
    model: { type: 'string', default: null, description: 'the target\'s checkpoint directory (default: read from the compiled target)', names: 'model' },
    ...DRAFT_LOOP_PARAMS,
    ...DRAFT_RUN_PARAMS,
  },
  create: (params) =>
    draftModelStrategy(draftSettings(params), async (session) => {
      const checkpoint = params.model || session.models.targetCheckpointDir();
      if (!checkpoint) throw new OptionError('layerskip: cannot tell which checkpoint the target was compiled from; pass it with --set model=DIR');
      const numLayers = session.model.numLayers;
      const layers = unifiedKeptLayers(numLayers, params.ratio);
      if (layers.length >= numLayers) {
        throw new OptionError(`layerskip: ratio ${params.ratio} keeps all ${numLayers} layers; use a ratio that skips at least one`);
      }
      return session.models.layerSubset({ owner: 'layerskip', checkpoint, layers, threads: params.threads, inProcess: params.in_process });
    }),
});
