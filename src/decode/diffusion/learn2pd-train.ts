/**
 * Training the Learn2PD filter (learn2pd.ts), in plain TypeScript: the filter is a 2-layer MLP of a
 * few thousand weights, trained on oracle labels in seconds on a CPU.
 *
 * Labels, as in ims-kdks/Learning-to-Parallel-Decoding `generate_training_data.py`: first run
 * one-token-per-step confidence decoding (`confidence`, k = 1) to get each prompt's final answer;
 * then, along a decoding trajectory, record at every step the block's confidence vector (the
 * argmax probability at every block position) and per position the label "current prediction ==
 * final token". The reference records along its "Extremely Greedy Parallel" oracle pass
 * (`trajectory: 'oracle'`, the default here: the states the filter will see when it decodes in
 * parallel); `trajectory: 'baseline'` records along the one-token-per-step run itself.
 *
 * Training, as the reference notebook: BCE-with-logits on every position of the block vector,
 * AdamW (lr 3e-3, weight decay 0.01 — torch's default). The reference runs 40 000 full-batch
 * epochs; here mini-batches (256) for `epochs` (200) passes, seeded. Blocks of a size other than
 * the filter's input are split into zero-padded chunks (padding positions carry no loss).
 */
import type { BidirectionalModel } from '../../runtime/types.js';
import { confidence } from './confidence.js';
import { returnValue } from '../drain.js';
import { runDiffusion, type DiffusionOptions } from './loop.js';
import { createOracle } from './oracle.js';
import { blockChunks, FILTER_FORMAT, filterLogits, saveFilter, type FilterWeights } from './learn2pd.js';
import type { DiffusionStrategy } from './types.js';
import { Rng } from '../../tasks/rng.js';

export { loadFilter, saveFilter } from './learn2pd.js';

export interface FilterSample {
  /** the block's current confidence at every block position */
  confidence: number[];
  /** 1 where the current prediction equals the final token, else 0 */
  label: number[];
}

export interface CollectOptions extends DiffusionOptions {
  eosTokenIds: readonly number[];
  /** which trajectory to record along (default 'oracle', as the paper) */
  trajectory?: 'oracle' | 'baseline';
}

function drain(model: BidirectionalModel, prompts: readonly (readonly number[])[], strategy: DiffusionStrategy, eos: readonly number[], options: DiffusionOptions) {
  return returnValue(runDiffusion(model, prompts, strategy, eos, options));
}

/**
 * Decode `prompts` and return one sample per row per step: the block's confidence vector and the
 * labels "current prediction == final token".
 */
export async function collectLabels(model: BidirectionalModel, prompts: readonly (readonly number[])[], options: CollectOptions): Promise<FilterSample[]> {
  const { eosTokenIds, trajectory = 'oracle', ...loopOptions } = options;
  const records: { row: number; start: number; confidence: number[]; tokens: number[] }[] = [];
  const recording = (inner: DiffusionStrategy): DiffusionStrategy => ({
    ...inner,
    name: `${inner.name}-recorded`,
    begin: inner.begin?.bind(inner),
    decide: (row, pred, services) => {
      const conf: number[] = [];
      const toks: number[] = [];
      for (let pos = row.blockStart; pos < row.blockEnd; pos++) {
        conf.push(pred.confidence[pos]!);
        toks.push(pred.tokens[pos]!);
      }
      records.push({ row: row.row, start: row.blockStart - row.promptLength, confidence: conf, tokens: toks });
      return inner.decide(row, pred, services);
    },
  });
  const base = confidence.create({ k: 1 });
  let finals: number[][];
  if (trajectory === 'baseline') {
    finals = (await drain(model, prompts, recording(base), eosTokenIds, loopOptions)).map((r) => r.generated);
  } else {
    finals = (await drain(model, prompts, base, eosTokenIds, loopOptions)).map((r) => r.generated);
    const oracle = createOracle({ references: finals, fillSettledTail: loopOptions.eosFill ?? true });
    await drain(model, prompts, recording(oracle), eosTokenIds, loopOptions);
  }
  return records.map((r) => ({
    confidence: r.confidence,
    label: r.tokens.map((t, i) => (t === finals[r.row]![r.start + i] ? 1 : 0)),
  }));
}

export interface TrainOptions {
  /** filter input size (default 32, the paper's block length) */
  inputDim?: number;
  hidden?: number;
  epochs?: number;
  lr?: number;
  seed?: number;
  batchSize?: number;
  weightDecay?: number;
  onEpoch?: (epoch: number, loss: number) => void;
}


/** Mean BCE-with-logits of a filter over samples (valid positions only). */
export function filterLoss(f: FilterWeights, samples: readonly FilterSample[]): number {
  let loss = 0;
  let n = 0;
  for (const s of samples) {
    const xs = blockChunks(s.confidence, f.inputDim);
    xs.forEach((x, c) => {
      const z = filterLogits(f, x);
      for (let i = 0; i < f.inputDim; i++) {
        const at = c * f.inputDim + i;
        if (at >= s.confidence.length) break;
        const y = s.label[at]!;
        loss += Math.max(z[i]!, 0) - z[i]! * y + Math.log1p(Math.exp(-Math.abs(z[i]!)));
        n += 1;
      }
    });
  }
  return n > 0 ? loss / n : 0;
}

/** Train the 2-layer MLP filter with AdamW on BCE-with-logits. */
export function trainFilter(samples: readonly FilterSample[], options: TrainOptions = {}): FilterWeights {
  const D = options.inputDim ?? 32;
  const H = options.hidden ?? 32;
  const epochs = options.epochs ?? 200;
  const lr = options.lr ?? 3e-3;
  const batchSize = options.batchSize ?? 256;
  const wd = options.weightDecay ?? 0.01;
  const source = new Rng(options.seed ?? 0);
  const rand = () => source.float();
  // chunked training rows: x (D), y (D), valid count
  const rows: { x: Float64Array; y: Float64Array; n: number }[] = [];
  for (const s of samples) {
    const xs = blockChunks(s.confidence, D);
    xs.forEach((x, c) => {
      const y = new Float64Array(D);
      const n = Math.min(D, s.confidence.length - c * D);
      for (let i = 0; i < n; i++) y[i] = s.label[c * D + i]!;
      rows.push({ x, y, n });
    });
  }
  // PyTorch nn.Linear init: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
  const u = (fanIn: number) => (rand() * 2 - 1) / Math.sqrt(fanIn);
  const params = {
    w1: Float64Array.from({ length: H * D }, () => u(D)),
    b1: Float64Array.from({ length: H }, () => u(D)),
    w2: Float64Array.from({ length: D * H }, () => u(H)),
    b2: Float64Array.from({ length: D }, () => u(H)),
  };
  type Key = keyof typeof params;
  const keys: Key[] = ['w1', 'b1', 'w2', 'b2'];
  const zerosLikeParams = (): Record<Key, Float64Array> => ({
    w1: new Float64Array(params.w1.length),
    b1: new Float64Array(params.b1.length),
    w2: new Float64Array(params.w2.length),
    b2: new Float64Array(params.b2.length),
  });
  const grads = zerosLikeParams();
  const m1 = zerosLikeParams();
  const m2 = zerosLikeParams();
  const beta1 = 0.9;
  const beta2 = 0.999;
  let t = 0;
  const z1 = new Float64Array(H);
  const a1 = new Float64Array(H);
  const dz2 = new Float64Array(D);
  const da = new Float64Array(H);
  const order = rows.map((_, i) => i);
  let lastLoss = NaN;
  for (let epoch = 0; epoch < epochs && rows.length > 0; epoch++) {
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    let epochLoss = 0;
    let epochCount = 0;
    for (let start = 0; start < order.length; start += batchSize) {
      const batch = order.slice(start, start + batchSize);
      for (const k of keys) grads[k].fill(0);
      let count = 0;
      for (const r of batch) count += rows[r]!.n;
      if (count === 0) continue;
      for (const r of batch) {
        const { x, y, n } = rows[r]!;
        for (let h = 0; h < H; h++) {
          let z = params.b1[h]!;
          for (let i = 0; i < D; i++) z += params.w1[h * D + i]! * x[i]!;
          z1[h] = z;
          a1[h] = z > 0 ? z : 0;
        }
        for (let o = 0; o < D; o++) {
          if (o >= n) {
            dz2[o] = 0;
            continue;
          }
          let z = params.b2[o]!;
          for (let h = 0; h < H; h++) z += params.w2[o * H + h]! * a1[h]!;
          epochLoss += Math.max(z, 0) - z * y[o]! + Math.log1p(Math.exp(-Math.abs(z)));
          epochCount += 1;
          dz2[o] = (1 / (1 + Math.exp(-z)) - y[o]!) / count;
        }
        da.fill(0);
        for (let o = 0; o < n; o++) {
          const g = dz2[o]!;
          if (g === 0) continue;
          grads.b2[o] = grads.b2[o]! + g;
          for (let h = 0; h < H; h++) {
            grads.w2[o * H + h] = grads.w2[o * H + h]! + g * a1[h]!;
            da[h] = da[h]! + g * params.w2[o * H + h]!;
          }
        }
        for (let h = 0; h < H; h++) {
          if (z1[h]! <= 0) continue;
          const g = da[h]!;
          grads.b1[h] = grads.b1[h]! + g;
          for (let i = 0; i < D; i++) grads.w1[h * D + i] = grads.w1[h * D + i]! + g * x[i]!;
        }
      }
      t += 1;
      const c1 = 1 - Math.pow(beta1, t);
      const c2 = 1 - Math.pow(beta2, t);
      for (const k of keys) {
        const p = params[k];
        const g = grads[k];
        const m = m1[k];
        const v = m2[k];
        for (let i = 0; i < p.length; i++) {
          p[i] = p[i]! * (1 - lr * wd);
          m[i] = beta1 * m[i]! + (1 - beta1) * g[i]!;
          v[i] = beta2 * v[i]! + (1 - beta2) * g[i]! * g[i]!;
          p[i] = p[i]! - (lr * (m[i]! / c1)) / (Math.sqrt(v[i]! / c2) + 1e-8);
        }
      }
    }
    lastLoss = epochCount > 0 ? epochLoss / epochCount : NaN;
    options.onEpoch?.(epoch, lastLoss);
  }
  const matrix = (a: Float64Array, r: number, c: number) => Array.from({ length: r }, (_, i) => Array.from(a.subarray(i * c, (i + 1) * c)));
  return {
    format: FILTER_FORMAT,
    inputDim: D,
    hidden: H,
    w1: matrix(params.w1, H, D),
    b1: Array.from(params.b1),
    w2: matrix(params.w2, D, H),
    b2: Array.from(params.b2),
    meta: { epochs, lr, batchSize, weightDecay: wd, seed: options.seed ?? 0, samples: samples.length, trainLoss: lastLoss },
  };
}

export interface TrainLearn2pdOptions extends TrainOptions {
  model: BidirectionalModel;
  /** prompts as token ids */
  prompts: readonly (readonly number[])[];
  /** where to write the filter JSON */
  out: string;
  eosTokenIds: readonly number[];
  genLength: number;
  blockLength?: number;
  steps?: number;
  trajectory?: 'oracle' | 'baseline';
  /** prompts decoded per batch while collecting labels (default 8) */
  batch?: number;
  signal?: AbortSignal;
  onCollect?: (done: number, total: number) => void;
}

/**
 * `paradec train-filter`: collect labels on `prompts`, train the filter, write it to `out`. The
 * filter's input size defaults to the block length (the paper: 32 = its block length), capped at 32.
 */
export async function trainLearn2pdFilter(options: TrainLearn2pdOptions): Promise<{ filter: FilterWeights; samples: number; loss: number }> {
  const { model, prompts, out, eosTokenIds, genLength, blockLength, steps, trajectory, signal } = options;
  const batch = options.batch ?? 8;
  const samples: FilterSample[] = [];
  for (let i = 0; i < prompts.length; i += batch) {
    const part = prompts.slice(i, i + batch);
    samples.push(
      ...(await collectLabels(model, part, {
        eosTokenIds,
        trajectory,
        genLength,
        blockLength,
        steps,
        rng: { float: () => 0.5 },
        signal,
      })),
    );
    options.onCollect?.(Math.min(prompts.length, i + batch), prompts.length);
  }
  const inputDim = options.inputDim ?? Math.min(32, blockLength ?? genLength);
  const filter = trainFilter(samples, { ...options, inputDim });
  saveFilter(out, filter);
  return { filter, samples: samples.length, loss: Number(filter.meta?.trainLoss ?? NaN) };
}
