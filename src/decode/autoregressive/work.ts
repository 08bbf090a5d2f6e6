/**
 * The work of an autoregressive generation: the positions fed to the target model — every row of
 * every forward: the prefill, batched verification rows (padding included: it is computed),
 * tree nodes, lookahead and rollouts — and, apart, those fed to the draft models the strategy was
 * given (draft LM, layer-skip drafter, DEER's diffusion drafter, anchored's safe model).
 *
 * `nfe` counts sequential target forwards (the latency proxy); a forward over B rows of W
 * positions is one forward and B × W positions of work. The work is counted on the models
 * themselves: ArSession hands strategies a counting view of the target (`session.model`) and of
 * every model it loads for them (`session.models`), so nothing a strategy runs goes uncounted and
 * no strategy counts by hand.
 *
 * A strategy kept alive across generations (GenerateOptions.keptStrategy) keeps the draft model
 * it was handed in its first one, and a loaded model may be shared by concurrent generations; so
 * a draft model's view charges the generation whose step is running (`chargingWork`, an
 * AsyncLocalStorage scope the loop opens around each step), and only outside any step the
 * session that handed it out.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { BidirectionalModel, CausalModel, WindowForwardInput } from '../../runtime/types.js';
import { modelView } from '../../runtime/model-view.js';
import type { ExtraModels, Loaded } from './extra-models.js';

/** Positions computed by the target and by the draft models. */
export interface WorkCounts {
  target: number;
  draft: number;
}

const running = new AsyncLocalStorage<WorkCounts>();

/** Run one strategy step with draft-model work charged to `counts`. */
export function chargingWork<T>(counts: WorkCounts, step: () => Promise<T>): Promise<T> {
  return running.run(counts, step);
}

/** The counts of the step running now, else `fallback`. */
export function runningWork(fallback: WorkCounts): WorkCounts {
  return running.getStore() ?? fallback;
}

/** How many positions a forward method's call computes, from its arguments. */
type PositionCount = (args: readonly unknown[]) => number;

const rowsTimesLength: PositionCount = (args) => (args[1] as number) * (args[2] as number);

/** forward(tokens, batch, newLength, cache, …), forwardEmbeddings(embeds, batch, newLength, …), forwardTree(tokens [batch, n], …) */
const CAUSAL_FORWARDS: Readonly<Record<string, PositionCount>> = {
  forward: rowsTimesLength,
  forwardEmbeddings: rowsTimesLength,
  forwardTree: (args) => (args[0] as Int32Array).length,
};

/** The real (unpadded) positions of a bidirectional forward(tokens, batch, length, { attentionMask }). */
const realPositions: PositionCount = (args) => {
  const mask = (args[3] as { attentionMask?: Uint8Array } | undefined)?.attentionMask;
  if (!mask) return rowsTimesLength(args);
  let n = 0;
  for (const m of mask) n += m ? 1 : 0;
  return n;
};

/** A windowed forward's real window slots: the last `window` key-mask entries of each row. */
const windowPositions: PositionCount = (args) => {
  const input = args[0] as WindowForwardInput;
  const perRow = input.keyMask.length / input.batch;
  let n = 0;
  for (let b = 0; b < input.batch; b++) {
    for (let j = perRow - input.window; j < perRow; j++) n += input.keyMask[b * perRow + j] ? 1 : 0;
  }
  return n;
};

const BIDIRECTIONAL_FORWARDS: Readonly<Record<string, PositionCount>> = {
  forward: realPositions,
  forwardWithKv: realPositions,
  forwardWindow: windowPositions,
};

/**
 * A view of `model` (runtime/model-view.ts: the model in every respect, `instanceof` included)
 * whose forwards first add the positions they compute through `charge`.
 */
function counting<M extends object>(model: M, forwards: Readonly<Record<string, PositionCount>>, charge: (positions: number) => void): M {
  return modelView(model, (key, own) => {
    const count = forwards[key];
    if (!count) return undefined;
    return (...args: unknown[]) => {
      charge(count(args));
      return own(...args);
    };
  });
}

/** A causal model whose forwards add their positions through `charge`. */
export function countingCausal<M extends CausalModel>(model: M, charge: (positions: number) => void): M {
  return counting(model, CAUSAL_FORWARDS, charge);
}

/** A bidirectional model whose forwards add their real positions through `charge`. */
export function countingBidirectional<M extends BidirectionalModel>(model: M, charge: (positions: number) => void): M {
  return counting(model, BIDIRECTIONAL_FORWARDS, charge);
}

/** The caller's extra models, each one handed out as a counting view (its forwards add through `charge`). */
export function countingExtraModels(models: ExtraModels, charge: (positions: number) => void): ExtraModels {
  // the view is what the strategy holds; disposing it lets go of the model it came from
  const view = <M>(loaded: Loaded<M>, model: M): Loaded<M> => ({ model, dir: loaded.dir, dispose: () => loaded.dispose() });
  return {
    causal: async (request) => {
      const loaded = await models.causal(request);
      return view(loaded, countingCausal(loaded.model, charge));
    },
    bidirectional: async (request) => {
      const loaded = await models.bidirectional(request);
      return view(loaded, countingBidirectional(loaded.model, charge));
    },
    layerSubset: async (request) => {
      const loaded = await models.layerSubset(request);
      return view(loaded, countingCausal(loaded.model, charge));
    },
    targetCheckpointDir: () => models.targetCheckpointDir(),
    trigramDatastore: (owner, datastore) => models.trigramDatastore(owner, datastore),
    encode: (owner, why) => models.encode(owner, why),
  };
}
