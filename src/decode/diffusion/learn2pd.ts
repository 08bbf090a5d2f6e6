/**
 * Learn2PD ("Learning to Parallel: Accelerating Diffusion Large Language Models via Adaptive
 * Parallel Decoding", 2025, arXiv:2509.25188; ims-kdks/Learning-to-Parallel-Decoding
 * `llada/generate.py` `generate_l2p_eot` / `get_transfer_index`).
 *
 * A small filter f — a 2-layer MLP (input → ReLU hidden → one logit per position) — reads the
 * block's vector of current confidences (the argmax probability at EVERY block position, committed
 * ones included, exactly as the reference feeds `x0_p[block]`) and predicts per position whether
 * the current prediction is already the final token. Each step commits
 *     {masked block positions with sigmoid(f) > accept_thres (0.96)}  ∪  the top-k by confidence
 * (k: the base schedule, one per step when steps = gen_length — the reference's setting).
 *
 * End-of-Text Prediction (EoTP, `eotp`, default on), as the reference truncates the sequence:
 *   if the filter accepted an end-of-text token, the text ends at the leftmost such position;
 *   elif any masked position of the generation region predicts end-of-text, the text ends at the
 *   most confident one (which itself stays masked and is decoded normally).
 * Everything after the cut becomes end-of-text: masks are committed to end-of-text in the same
 * step, and tokens committed earlier after the cut are remasked and committed to end-of-text next
 * step (the reference drops them with the truncated tail). Cuts only move left.
 *
 * Difference from the reference, kept on purpose: the reference truncates the sequence
 * (`x = x[:, :pos + 1]`), so every later forward runs on prompt + text up to the cut, with no
 * positions after it; paradec keeps the row's canvas at its length and the tail holds the cut's
 * end-of-text token. The model then attends to those end-of-text positions, so its predictions
 * before the cut (and the filter's input, which reads the whole block, tail included, where the
 * reference's block slice ends at the cut) can differ from the reference's, and with them which
 * positions commit when; the text after the cut is end-of-text in both. Why: the canvas belongs to
 * the denoising loop (row-state.ts), whose forward, KV caches (prefix, dual, window), guidance
 * twin, batched candidate forwards and end-of-text fill all assume a fixed canvas per row; a
 * shorter canvas for one row would be a loop feature (a visible length per row through all of
 * them), not a rule of this strategy.
 *
 * The filter's input size is fixed (the reference: 32 = its block length). A block of a different
 * size is split into chunks of that size, each zero-padded; `learn2pd-train.ts` builds training
 * samples the same way. Weights are a JSON file (`filter=PATH`, relative to the working directory;
 * default `models/tiny-dlm/learn2pd-filter.json` in the paradec package), trained by
 * `paradec train-filter` (`trainLearn2pdFilter`).
 */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { OptionError } from '../../errors.js';
import { PACKAGE_ROOT } from '../../model/locate.js';
import { TOKENS_PER_STEP_PARAM, stepCount } from './ranking.js';
import { rankByConfidence } from './helpers.js';
import { defineDiffusionStrategy, type DiffusionStrategy, type RowView } from './types.js';

export const FILTER_FORMAT = 'paradec-learn2pd-filter';

/** 2-layer MLP: logits = W2 · relu(W1 · x + b1) + b2. Row-major: w1[h][i], w2[o][h]. */
export interface FilterWeights {
  format: typeof FILTER_FORMAT;
  inputDim: number;
  hidden: number;
  w1: number[][];
  b1: number[];
  w2: number[][];
  b2: number[];
  /** free-form provenance (training settings, loss) */
  meta?: Record<string, unknown>;
}

export const DEFAULT_FILTER = 'models/tiny-dlm/learn2pd-filter.json';

export function validateFilter(f: unknown, where: string): FilterWeights {
  const bad = (why: string): never => {
    throw new OptionError(`learn2pd: filter ${where} is not a valid filter (${why})`);
  };
  if (typeof f !== 'object' || f === null) return bad('not a JSON object');
  const w = f as Partial<FilterWeights>;
  if (w.format !== FILTER_FORMAT) bad(`format is not '${FILTER_FORMAT}'`);
  const D = w.inputDim;
  const H = w.hidden;
  if (!Number.isInteger(D) || D! <= 0 || !Number.isInteger(H) || H! <= 0) bad('inputDim and hidden must be positive integers');
  const isMatrix = (m: unknown, rows: number, cols: number) =>
    Array.isArray(m) && m.length === rows && m.every((r) => Array.isArray(r) && r.length === cols && r.every((v) => typeof v === 'number' && Number.isFinite(v)));
  const isVector = (v: unknown, n: number) => Array.isArray(v) && v.length === n && v.every((x) => typeof x === 'number' && Number.isFinite(x));
  if (!isMatrix(w.w1, H!, D!)) bad(`w1 must be ${H}×${D}`);
  if (!isVector(w.b1, H!)) bad(`b1 must have ${H} numbers`);
  if (!isMatrix(w.w2, D!, H!)) bad(`w2 must be ${D}×${H}`);
  if (!isVector(w.b2, D!)) bad(`b2 must have ${D} numbers`);
  return w as FilterWeights;
}

export function loadFilter(path: string): FilterWeights {
  if (!existsSync(path)) throw new OptionError(`learn2pd: filter file ${path} not found (train one with 'paradec train-filter', or pass filter=PATH)`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new OptionError(`learn2pd: filter ${path} is not valid JSON (${(e as Error).message})`, { cause: e });
  }
  return validateFilter(parsed, path);
}

export function saveFilter(path: string, filter: FilterWeights): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, JSON.stringify(filter));
}

/** Filter logits for one input vector (length inputDim). */
export function filterLogits(f: FilterWeights, x: ArrayLike<number>): Float64Array {
  const h = new Float64Array(f.hidden);
  for (let j = 0; j < f.hidden; j++) {
    const row = f.w1[j]!;
    let z = f.b1[j]!;
    for (let i = 0; i < f.inputDim; i++) z += row[i]! * x[i]!;
    h[j] = z > 0 ? z : 0;
  }
  const out = new Float64Array(f.inputDim);
  for (let o = 0; o < f.inputDim; o++) {
    const row = f.w2[o]!;
    let z = f.b2[o]!;
    for (let j = 0; j < f.hidden; j++) z += row[j]! * h[j]!;
    out[o] = z;
  }
  return out;
}

/** Split a block's values into zero-padded chunks of `inputDim` (the filter's input layout). */
export function blockChunks(values: ArrayLike<number>, inputDim: number): Float64Array[] {
  const out: Float64Array[] = [];
  for (let s = 0; s < Math.max(1, values.length); s += inputDim) {
    const x = new Float64Array(inputDim);
    for (let i = 0; i < inputDim && s + i < values.length; i++) x[i] = values[s + i]!;
    out.push(x);
  }
  return out;
}

/** sigmoid(f) for every position of a block, given its confidence vector. */
export function filterScores(f: FilterWeights, blockConfidence: ArrayLike<number>): number[] {
  const scores: number[] = [];
  for (const x of blockChunks(blockConfidence, f.inputDim)) {
    const logits = filterLogits(f, x);
    for (let i = 0; i < f.inputDim && scores.length < blockConfidence.length; i++) scores.push(1 / (1 + Math.exp(-logits[i]!)));
  }
  return scores;
}

export interface Learn2pdOptions {
  acceptThres?: number;
  /** tokens per step of the base rule (null: the schedule's quota) */
  k?: number | null;
  eotp?: boolean;
}

/** Learn2PD with a filter given in memory. */
export function createLearn2pd(filter: FilterWeights, options: Learn2pdOptions = {}): DiffusionStrategy {
  const thres = options.acceptThres ?? 0.96;
  const k = options.k ?? null;
  const eotp = options.eotp ?? true;
  /** per row: where the text has been cut (last kept position) and the end-of-text token used */
  const cuts = new Map<number, { pos: number; token: number }>();
  return {
    name: 'learn2pd',
    begin: (row) => cuts.delete(row.row),
    decide: (row: RowView, pred) => {
      const eos = row.eosTokenIds;
      let cut = cuts.get(row.row) ?? { pos: Infinity, token: eos[0] ?? -1 };
      const blockConf: number[] = [];
      for (let pos = row.blockStart; pos < row.blockEnd; pos++) blockConf.push(pred.confidence[pos]!);
      const scores = filterScores(filter, blockConf);
      const eligible = row.candidates.filter((pos) => pos <= cut.pos);
      const accepted = eligible.filter((pos) => scores[pos - row.blockStart]! > thres);
      const commit = new Set(accepted);
      const ranked = rankByConfidence(eligible, (pos) => pred.confidence[pos]!);
      for (const pos of ranked.slice(0, Math.max(1, stepCount(row, k)))) commit.add(pos);
      if (eotp && eos.length > 0) {
        const isEos = (pos: number) => eos.includes(pred.tokens[pos]!);
        const filterEot = accepted.filter(isEos);
        let at = -1;
        if (filterEot.length > 0) at = Math.min(...filterEot);
        else {
          for (const pos of row.masked) {
            if (pos > cut.pos || !isEos(pos)) continue;
            if (at < 0 || pred.confidence[pos]! > pred.confidence[at]!) at = pos;
          }
        }
        if (at >= 0 && at < cut.pos) {
          cut = { pos: at, token: pred.tokens[at]! };
          cuts.set(row.row, cut);
        }
      }
      const positions = [...commit].filter((pos) => pos <= cut.pos).sort((a, b) => a - b);
      const tokens = positions.map((pos) => pred.tokens[pos]!);
      const remask: number[] = [];
      if (Number.isFinite(cut.pos)) {
        for (let pos = cut.pos + 1; pos < row.canvas.length; pos++) {
          const t = row.canvas[pos]!;
          if (t === row.maskTokenId) {
            positions.push(pos);
            tokens.push(cut.token);
          } else if (!eos.includes(t)) remask.push(pos);
        }
      }
      return { commit: positions, tokens, remask };
    },
  };
}

const filterCache = new Map<string, FilterWeights>();

export function resolveFilterPath(given: string | null): string {
  if (given === null || given === '') return resolve(PACKAGE_ROOT, DEFAULT_FILTER);
  return isAbsolute(given) ? given : resolve(process.cwd(), given);
}

export const learn2pd = defineDiffusionStrategy({
  name: 'learn2pd',
  summary: 'a trained MLP filter over the block confidences accepts final-looking tokens (> 0.96) plus the top-1; EoT prediction (Learn2PD)',
  paper: 'Learning to Parallel: Accelerating Diffusion LLMs via Adaptive Parallel Decoding (Learn2PD), 2025 (arXiv:2509.25188)',
  params: {
    ...TOKENS_PER_STEP_PARAM,
    filter: { type: 'string', default: null, description: `filter weights (JSON from 'paradec train-filter'); default ${DEFAULT_FILTER} in the package`, names: 'file' },
    accept_thres: { type: 'number', default: 0.96, min: 0, max: 1, description: 'commit masked positions whose filter score exceeds this' },
    eotp: { type: 'boolean', default: true, description: 'End-of-Text Prediction: cut the text at a predicted end-of-text' },
  },
  create: ({ k, filter, accept_thres: acceptThres, eotp }) => {
    const path = resolveFilterPath(filter);
    const key = existsSync(path) ? `${path}@${statSync(path).mtimeMs}` : path;
    let f = filterCache.get(key);
    if (!f) filterCache.set(key, (f = loadFilter(path)));
    return createLearn2pd(f, { acceptThres, k, eotp });
  },
});
