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
 * checkpoint directory, read from the target's compiled graph, or given as `model=DIR`.
 */
import { OptionError } from '../../errors.js';
import type { CausalModel } from '../../runtime/types.js';
import type { ParamValues } from '../params.js';
import { DRAFT_PARAMS, draftModelStrategy, draftSettings, VERIFY_PARAM } from './speculative.js';
import { loadLayerSubset, resolveDir, targetCheckpointDir, unifiedKeptLayers, type Loaded } from './models.js';
import type { ArSession } from './session.js';
import type { AutoregressiveStrategy, AutoregressiveStrategyDefinition } from './types.js';

export function createLayerskip(params: ParamValues, load?: (session: ArSession) => Promise<Loaded<CausalModel>>): AutoregressiveStrategy {
  const ratio = params['ratio'] as number;
  const threads = params['threads'] as number;
  const given = params['model'] as string | null;
  const loader = async (session: ArSession): Promise<Loaded<CausalModel>> => {
    const dir = given ? await resolveDir(given) : targetCheckpointDir(session.model);
    if (!dir) throw new OptionError('layerskip: cannot tell which checkpoint the target was compiled from; pass it with --set model=DIR');
    const layers = unifiedKeptLayers(session.model.numLayers, ratio);
    if (layers.length >= session.model.numLayers) {
      throw new OptionError(`layerskip: ratio ${ratio} keeps all ${session.model.numLayers} layers; use a ratio that skips at least one`);
    }
    return loadLayerSubset('layerskip', dir, layers, session.model, threads, params['in_process'] as boolean);
  };
  return draftModelStrategy('layerskip', draftSettings(params), load ?? loader);
}

export const layerskip: AutoregressiveStrategyDefinition = {
  name: 'layerskip',
  family: 'autoregressive',
  summary: 'self-speculation: the target with evenly skipped middle layers drafts, the full target verifies',
  paper: 'Liu et al. 2024, Unified Layer Skipping (arXiv:2404.06954); self-speculative verification as in Draft&Verify / LayerSkip',
  params: {
    ratio: { type: 'number', default: 2, min: 1, max: 64, description: 'target speedup of the drafter: keeps round(layers / ratio) layers' },
    model: { type: 'string', default: null, description: 'the target\'s checkpoint directory (default: read from the compiled target)' },
    ...VERIFY_PARAM,
    ...DRAFT_PARAMS,
  },
  create: (params) => createLayerskip(params),
};
