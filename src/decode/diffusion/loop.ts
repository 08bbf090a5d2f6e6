/**
 * The denoising loop shared by every diffusion strategy (LLaDA's `generate.py` skeleton).
 *
 *   canvas = [prompt | MASK × genLength]
 *   for each semi-autoregressive block:
 *     repeat: forward the canvas → decode-head predictions → strategy decides what to commit
 *
 * The loop owns forward passes (and counts them), the block schedule, temperature sampling,
 * classifier-free guidance and the progress guarantee; strategies only decide. Rows of a batch
 * are right-padded so every row keeps the positions it would have alone (batched output equals
 * unbatched output), and each row has its own block positions.
 */
import { supportsKvCache, type BidirectionalModel, type DecodeHeadOutput } from '../../runtime/types.js';
import { InputError, OptionError } from '../../errors.js';
import { DiffusionKvCache, resolveCacheOptions, type CacheRow, type DiffusionCacheOptions } from './cache.js';
import { headFromLogits, softmaxRow } from '../head.js';
import { dreamQuota, lladaEvenSplit } from './schedule.js';
import { settledPrefix } from './settled.js';
import type { Decision, DiffusionStrategy, LoopServices, Predictions, RandomSource, RowView } from './types.js';

export interface DiffusionOptions {
  genLength: number;
  /** total denoising steps of the base schedule (default: genLength, one token per step) */
  steps?: number;
  /** semi-autoregressive block length (default: genLength, a single block) */
  blockLength?: number;
  /** Gumbel-max sampling temperature (0 = argmax) */
  temperature?: number;
  /** classifier-free guidance scale (LLaDA's cfg_scale; 0 = off) */
  cfgScale?: number;
  /** base schedule: 'llada' even split or 'dream' timesteps (default from the model) */
  schedule?: 'llada' | 'dream';
  /**
   * Once an end-of-text token is committed with no mask before it, fill the masks after it with
   * end-of-text for free: the text (cut at the first end-of-text) cannot change any more.
   */
  eosFill?: boolean;
  /**
   * KV caching (cache.ts, docs/caching.md): mode 'none' (default: every step forwards the whole
   * canvas), 'prefix', 'dual', 'delayed', 'window' or 'vicinity', and `refresh: N` for a full
   * refresh every N forwards of a row (1 = every step, exactly the uncached result).
   */
  cache?: DiffusionCacheOptions;
  /** tokens forbidden from being predicted at all (LLaDA's logits_eos_inf analogue) */
  rng: RandomSource;
  signal?: AbortSignal;
}

export interface StepEvent {
  row: number;
  /** forward passes this row has taken so far */
  nfe: number;
  committed: { position: number; token: number }[];
  remasked: number[];
  /** the row's canvas after this step (a live view: copy it to keep it) */
  canvas: Int32Array;
  promptLength: number;
}

export interface DiffusionRowResult {
  /** the generation region, genLength tokens (end-of-text tokens included) */
  generated: number[];
  /** forward passes (NFE) this row took part in */
  nfe: number;
  /** of those, how many computed the whole canvas (all of them without a KV cache) */
  fullForwards: number;
  /** step at which each generation position was (last) committed */
  committedAt: number[];
}

interface RowState {
  canvas: Int32Array;
  promptLength: number;
  committedAt: Int32Array;
  blockIndex: number;
  blockStart: number;
  blockEnd: number;
  blockFresh: boolean;
  stepInBlock: number;
  stepsPerBlock: number;
  blockSchedule: number[];
  blockMaskCount: number;
  nfe: number;
  fullForwards: number;
  reviewRounds: number;
  done: boolean;
}

export function validateDiffusionOptions(options: { genLength: number; steps?: number; blockLength?: number }): {
  genLength: number;
  steps: number;
  blockLength: number;
} {
  const genLength = options.genLength;
  const blockLength = options.blockLength ?? genLength;
  const steps = options.steps ?? genLength;
  for (const [name, v] of [['gen_length', genLength], ['block_length', blockLength], ['steps', steps]] as const) {
    if (!Number.isInteger(v) || v <= 0) throw new OptionError(`${name} must be a positive integer (got ${v})`);
  }
  if (genLength % blockLength !== 0) {
    throw new OptionError(`gen_length ${genLength} is not a multiple of block_length ${blockLength}`);
  }
  const blocks = genLength / blockLength;
  if (steps % blocks !== 0) {
    throw new OptionError(`steps ${steps} is not divisible by the number of blocks ${blocks} (gen_length / block_length)`);
  }
  return { genLength, steps, blockLength };
}

/** Gumbel-max sample of one position: argmax(l/T + g) == LLaDA's exp(l) / (-log U)^T. */
function gumbelArgmax(logits: Float32Array, offset: number, vocab: number, temperature: number, rng: RandomSource, mask: number): number {
  let best = 0;
  let bestScore = -Infinity;
  for (let v = 0; v < vocab; v++) {
    let u = rng.float();
    if (v === mask) continue; // the mask token is never a prediction
    if (u <= 1e-300) u = 1e-300;
    const score = logits[offset + v]! / temperature - Math.log(-Math.log(u));
    if (score > bestScore) {
      bestScore = score;
      best = v;
    }
  }
  return best;
}

/** Decode `prompts` (token ids) with `strategy`, yielding one event per row per step. */
export async function* runDiffusion(
  model: BidirectionalModel,
  prompts: readonly (readonly number[])[],
  strategy: DiffusionStrategy,
  eosTokenIds: readonly number[],
  options: DiffusionOptions,
): AsyncGenerator<StepEvent, DiffusionRowResult[]> {
  const cacheMode = resolveCacheOptions(options.cache).mode;
  let kvCache: DiffusionKvCache | undefined;
  if (cacheMode !== 'none') {
    if (!supportsKvCache(model)) throw new OptionError(`cache '${cacheMode}' needs a model that can return and reuse keys/values (a compiled ONNX model)`);
    kvCache = new DiffusionKvCache(model, options.cache!);
  }
  try {
    return yield* denoise(model, prompts, strategy, eosTokenIds, options, kvCache);
  } finally {
    kvCache?.dispose(); // also when the caller stops early
  }
}

async function* denoise(
  model: BidirectionalModel,
  prompts: readonly (readonly number[])[],
  strategy: DiffusionStrategy,
  eosTokenIds: readonly number[],
  options: DiffusionOptions,
  kvCache: DiffusionKvCache | undefined,
): AsyncGenerator<StepEvent, DiffusionRowResult[]> {
  const { genLength, steps, blockLength } = validateDiffusionOptions(options);
  const numBlocks = genLength / blockLength;
  const stepsPerBlock = steps / numBlocks;
  const temperature = options.temperature ?? 0;
  const cfgScale = options.cfgScale ?? 0;
  const schedule = options.schedule ?? 'llada';
  const eosFill = options.eosFill ?? true;
  const mask = model.maskTokenId;
  const needLogits = temperature > 0 || cfgScale > 0 || strategy.needsLogits === true;
  if (prompts.length === 0) throw new InputError('no prompts given');

  const rows: RowState[] = prompts.map((p, i) => {
    const total = p.length + genLength;
    if (total > model.maxPositions) {
      throw new InputError(
        `prompt ${i} is ${p.length} tokens; with gen_length ${genLength} that is ${total} positions, over the model's context of ${model.maxPositions}`,
      );
    }
    const canvas = new Int32Array(total).fill(mask);
    canvas.set(p);
    return {
      canvas,
      promptLength: p.length,
      committedAt: new Int32Array(total).fill(-1),
      blockIndex: 0,
      blockStart: p.length,
      blockEnd: p.length + blockLength,
      blockFresh: true,
      stepInBlock: 0,
      stepsPerBlock,
      blockSchedule: lladaEvenSplit(blockLength, stepsPerBlock),
      blockMaskCount: blockLength,
      nfe: 0,
      fullForwards: 0,
      reviewRounds: 0,
      done: false,
    };
  });

  const maskedIn = (r: RowState, from: number, to: number): number[] => {
    const out: number[] = [];
    for (let i = from; i < to; i++) if (r.canvas[i] === mask) out.push(i);
    return out;
  };

  const quotaOf = (r: RowState): number => {
    const remaining = maskedIn(r, r.blockStart, r.blockEnd).length;
    if (r.stepInBlock >= r.stepsPerBlock) return remaining;
    if (schedule === 'dream') return Math.min(remaining, dreamQuota(remaining, r.stepInBlock, r.stepsPerBlock));
    return Math.min(remaining, r.blockSchedule[r.stepInBlock]!);
  };

  const view = (index: number, r: RowState): RowView => ({
    row: index,
    canvas: r.canvas,
    promptLength: r.promptLength,
    genLength,
    maskTokenId: mask,
    eosTokenIds,
    blockStart: r.blockStart,
    blockEnd: r.blockEnd,
    blockIndex: r.blockIndex,
    stepInBlock: r.stepInBlock,
    step: r.nfe,
    quota: quotaOf(r),
    committedAt: r.committedAt,
    candidates: maskedIn(r, r.blockStart, r.blockEnd),
    masked: maskedIn(r, r.promptLength, r.canvas.length),
  });

  /**
   * One forward over several canvases (right-padded); returns the head, CFG applied, and whether
   * each canvas's forward computed the whole canvas. `cacheRows` (with a KV cache): each
   * canvas's row and the block it needs predictions for; `ephemeral`: candidate canvases that
   * leave the cache as is.
   */
  const forwardCanvases = async (
    canvases: Int32Array[],
    promptLengths: number[],
    cacheRows?: CacheRow[],
    ephemeral = false,
  ): Promise<{ head: DecodeHeadOutput; full: boolean[] }> => {
    if (options.signal?.aborted) throw options.signal.reason ?? new Error('aborted');
    const len = Math.max(...canvases.map((c) => c.length));
    const n = canvases.length;
    const rowsIn = cfgScale > 0 ? 2 * n : n;
    const tokens = new Int32Array(rowsIn * len);
    const attention = new Uint8Array(rowsIn * len);
    canvases.forEach((c, i) => {
      tokens.set(c, i * len);
      attention.fill(1, i * len, i * len + c.length);
      if (cfgScale > 0) {
        // unconditional row: the prompt replaced by masks (LLaDA's un_x)
        const u = (n + i) * len;
        tokens.set(c, u);
        tokens.fill(mask, u, u + promptLengths[i]!);
        attention.fill(1, u, u + c.length);
      }
    });
    let head: DecodeHeadOutput;
    let full = canvases.map(() => true);
    if (kvCache && cacheRows) {
      // CFG's unconditional rows have caches of their own
      const cacheRowsIn = cfgScale > 0 ? [...cacheRows, ...cacheRows.map((r) => ({ ...r, id: rows.length + r.id }))] : cacheRows;
      const result = await kvCache.forward(tokens, rowsIn, len, { logits: needLogits, attentionMask: attention, rows: cacheRowsIn, ephemeral });
      head = result.head;
      full = canvases.map((_, i) => result.full[i]! && (cfgScale === 0 || result.full[n + i]!));
    } else head = await model.forward(tokens, rowsIn, len, { logits: needLogits, attentionMask: attention });
    if (cfgScale === 0) return { head, full };
    const V = head.vocabSize;
    const logits = head.logits!;
    const guided = new Float32Array(n * len * V);
    for (let i = 0; i < n * len * V; i++) {
      const c = logits[i]!;
      const u = logits[n * len * V + i]!;
      guided[i] = u + (cfgScale + 1) * (c - u);
    }
    return { head: headFromLogits(guided, n, len, V, head.k), full };
  };

  const predictionsFor = (head: DecodeHeadOutput, b: number, r: RowState): Predictions => {
    const len = r.canvas.length;
    const k = head.k;
    const V = head.vocabSize;
    const base = b * head.length;
    const tokens = new Int32Array(len);
    const confidence = new Float32Array(len);
    for (let pos = 0; pos < len; pos++) {
      const at = base + pos;
      if (temperature > 0 && head.logits && r.canvas[pos] === mask) {
        const tok = gumbelArgmax(head.logits, at * V, V, temperature, options.rng, mask);
        tokens[pos] = tok;
        confidence[pos] = softmaxRow(head.logits, at * V, V)[tok]!;
      } else {
        // The mask token is never a prediction (an undertrained model may rank it first; a
        // committed mask would leave the position masked forever): take the best other token.
        const j = head.topkIds[at * k] === mask && k > 1 ? 1 : 0;
        tokens[pos] = head.topkIds[at * k + j]!;
        confidence[pos] = head.topkProbs[at * k + j]!;
      }
    }
    return {
      tokens,
      confidence,
      head,
      topkIds: (pos) => head.topkIds.subarray((base + pos) * k, (base + pos + 1) * k),
      topkProbs: (pos) => head.topkProbs.subarray((base + pos) * k, (base + pos + 1) * k),
      entropy: (pos) => head.entropy[base + pos]!,
      logits: (pos) => {
        if (!head.logits) throw new OptionError(`strategy '${strategy.name}' reads logits but did not declare needsLogits`);
        return head.logits.subarray((base + pos) * V, (base + pos + 1) * V);
      },
    };
  };

  const startBlock = (r: RowState, blockIndex: number, blockStart: number): void => {
    r.blockIndex = blockIndex;
    r.blockStart = blockStart;
    r.blockEnd = Math.min(blockStart + blockLength, r.canvas.length);
    r.stepInBlock = 0;
    r.blockFresh = true;
    r.blockMaskCount = maskedIn(r, r.blockStart, r.blockEnd).length;
    r.blockSchedule = lladaEvenSplit(r.blockMaskCount, r.stepsPerBlock);
  };

  /**
   * Move past full blocks. Returns false when the whole generation region is full. Masks left
   * behind the current block (remasked by a self-correcting strategy) are revisited from the start.
   */
  const advance = (r: RowState): boolean => {
    if (maskedIn(r, r.promptLength, r.canvas.length).length === 0) return false;
    while (maskedIn(r, r.blockStart, r.blockEnd).length === 0) {
      if (r.blockEnd >= r.canvas.length) startBlock(r, 0, r.promptLength);
      else startBlock(r, r.blockIndex + 1, r.blockEnd);
    }
    return true;
  };

  const fillAfterEos = (r: RowState, step: number, committed: { position: number; token: number }[]): void => {
    if (!eosFill) return;
    const settled = settledPrefix(r.canvas, r.promptLength, mask, eosTokenIds);
    if (!settled.endsWithEos) return;
    const t = r.canvas[settled.end]!;
    for (let q = settled.end + 1; q < r.canvas.length; q++) {
      if (r.canvas[q] === mask) {
        r.canvas[q] = t;
        r.committedAt[q] = step;
        committed.push({ position: q, token: t });
      }
    }
  };

  const maxReviewSteps = 4 * genLength + 16; // hard bound on steps per row: no strategy loops forever
  rows.forEach((r, i) => strategy.begin?.(view(i, r)));

  const services = (): LoopServices => ({
    rng: options.rng,
    forwardCandidates: async (row, canvases) => {
      const r = rows[row.row]!;
      r.nfe += 1;
      const cacheRows = canvases.map(() => ({ id: row.row, focusStart: r.blockStart, focusEnd: r.blockEnd }));
      const { head, full } = await forwardCanvases(canvases, canvases.map(() => r.promptLength), cacheRows, true);
      if (full.every((f) => f)) r.fullForwards += 1;
      return head;
    },
  });

  while (rows.some((r) => !r.done)) {
    const active = rows.map((r, i) => ({ r, i })).filter(({ r }) => !r.done);
    const { head, full: computedWhole } = await forwardCanvases(
      active.map(({ r }) => r.canvas),
      active.map(({ r }) => r.promptLength),
      // a full canvas is forwarded only for a review, which reads every position's prediction
      active.map(({ r, i }) => ({ id: i, focusStart: r.blockStart, focusEnd: r.blockEnd, wholeCanvas: maskedIn(r, r.promptLength, r.canvas.length).length === 0 })),
    );
    for (let b = 0; b < active.length; b++) {
      const { r, i } = active[b]!;
      r.nfe += 1;
      if (computedWhole[b]) r.fullForwards += 1;
      const predictions = predictionsFor(head, b, r);
      const committed: { position: number; token: number }[] = [];
      const remasked: number[] = [];
      const full = maskedIn(r, r.promptLength, r.canvas.length).length === 0;
      if (full) {
        // the canvas is full: only a reviewing strategy (self-edit) gets here
        const atBound = r.nfe >= maxReviewSteps;
        const positions = strategy.review && !atBound ? await strategy.review(view(i, r), predictions, services()) : [];
        r.reviewRounds += 1;
        for (const pos of positions) {
          if (pos < r.promptLength || pos >= r.canvas.length || r.canvas[pos] === mask) continue;
          r.canvas[pos] = mask;
          r.committedAt[pos] = -1;
          remasked.push(pos);
        }
        if (remasked.length === 0) r.done = true;
        else {
          startBlock(r, 0, r.promptLength);
          advance(r);
        }
        yield { row: i, nfe: r.nfe, committed, remasked, canvas: r.canvas, promptLength: r.promptLength };
        continue;
      }
      if (r.blockFresh && strategy.chooseBlockEnd) {
        const end = strategy.chooseBlockEnd(view(i, r), predictions);
        r.blockEnd = Math.max(r.blockStart + 1, Math.min(r.canvas.length, Math.floor(end)));
        r.blockMaskCount = maskedIn(r, r.blockStart, r.blockEnd).length;
        r.blockSchedule = lladaEvenSplit(r.blockMaskCount, r.stepsPerBlock);
        advance(r);
      }
      r.blockFresh = false;
      const v = view(i, r);
      let decision: Decision = await strategy.decide(v, predictions, services());
      const positions = decision.commit.filter((pos) => pos >= r.promptLength && pos < r.canvas.length && r.canvas[pos] === mask);
      const progressStalled = positions.length === 0 && (decision.remask?.length ?? 0) === 0;
      if (progressStalled && (v.quota > 0 || r.stepInBlock >= r.stepsPerBlock - 1 || r.nfe >= maxReviewSteps)) {
        // Progress guarantee: a strategy that commits nothing when the schedule expects tokens
        // gets the most confident masked position of the block committed for it.
        let best = v.candidates[0] ?? v.masked[0]!;
        for (const pos of v.candidates) if (predictions.confidence[pos]! > predictions.confidence[best]!) best = pos;
        decision = { commit: [best] };
        positions.push(best);
      }
      const tokenFor = new Map<number, number>();
      decision.commit.forEach((pos, j) => tokenFor.set(pos, decision.tokens?.[j] ?? predictions.tokens[pos]!));
      for (const pos of positions) {
        const chosen = tokenFor.get(pos) ?? predictions.tokens[pos]!;
        const tok = chosen === mask ? predictions.tokens[pos]! : chosen; // never commit the mask itself
        r.canvas[pos] = tok;
        r.committedAt[pos] = r.nfe;
        committed.push({ position: pos, token: tok });
      }
      // past the step bound, remasking is ignored: commits alone always finish the canvas
      for (const pos of r.nfe >= maxReviewSteps ? [] : (decision.remask ?? [])) {
        if (pos < r.promptLength || pos >= r.canvas.length || r.canvas[pos] === mask) continue;
        if (positions.includes(pos)) continue;
        r.canvas[pos] = mask;
        r.committedAt[pos] = -1;
        remasked.push(pos);
      }
      fillAfterEos(r, r.nfe, committed);
      r.stepInBlock += 1;
      const more = advance(r);
      if (!more) {
        const wantsReview = strategy.review !== undefined;
        if (!wantsReview) r.done = true;
      }
      yield { row: i, nfe: r.nfe, committed, remasked, canvas: r.canvas, promptLength: r.promptLength };
    }
  }

  return rows.map((r) => ({
    generated: Array.from(r.canvas.subarray(r.promptLength)),
    nfe: r.nfe,
    fullForwards: r.fullForwards,
    committedAt: Array.from(r.committedAt.subarray(r.promptLength)),
  }));
}
