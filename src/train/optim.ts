/**
 * AdamW (decoupled weight decay) with global-norm gradient clipping, and the learning-rate
 * schedule: linear warmup, then cosine decay to `minLrRatio * lr` at `totalSteps`.
 * Norm weights and the embedding are not decayed.
 */
import { tf } from './backend.js';
import type { ParamMap } from './model.js';

export interface AdamWConfig {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  clipNorm: number;
  warmupSteps: number;
  totalSteps: number;
  minLrRatio: number;
}

export function lrAt(c: AdamWConfig, step: number): number {
  if (step < c.warmupSteps) return (c.lr * (step + 1)) / c.warmupSteps;
  const span = Math.max(1, c.totalSteps - c.warmupSteps);
  const p = Math.min(1, (step - c.warmupSteps) / span);
  const min = c.lr * c.minLrRatio;
  return min + 0.5 * (c.lr - min) * (1 + Math.cos(Math.PI * p));
}

function decays(name: string): boolean {
  return !name.endsWith('Norm') && name !== 'embed';
}

export class AdamW {
  readonly m = new Map<string, tf.Variable>();
  readonly v = new Map<string, tf.Variable>();
  /** number of updates applied so far */
  t = 0;

  constructor(readonly config: AdamWConfig, params: ParamMap) {
    for (const [name, p] of params) {
      this.m.set(name, tf.variable(tf.zerosLike(p), false));
      this.v.set(name, tf.variable(tf.zerosLike(p), false));
    }
  }

  /** Apply one update with gradients `grads` (disposed by the caller). Returns the grad norm tensor. */
  apply(params: ParamMap, grads: Record<string, tf.Tensor>): tf.Scalar {
    const c = this.config;
    const lr = lrAt(c, this.t);
    this.t += 1;
    const bc1 = 1 - Math.pow(c.beta1, this.t);
    const bc2 = 1 - Math.pow(c.beta2, this.t);
    return tf.tidy(() => {
      const sq = Object.values(grads).map((g) => tf.sum(tf.square(g)));
      const norm = tf.sqrt(tf.addN(sq)) as tf.Scalar;
      const scale = tf.minimum(1, tf.div(c.clipNorm, tf.add(norm, 1e-6)));
      for (const [name, p] of params) {
        const g0 = grads[p.name]; // variableGrads keys gradients by tf variable name
        if (!g0) throw new Error(`no gradient for parameter ${name}`);
        const g = tf.mul(g0, scale);
        const m = this.m.get(name)!;
        const v = this.v.get(name)!;
        m.assign(tf.add(tf.mul(m, c.beta1), tf.mul(g, 1 - c.beta1)));
        v.assign(tf.add(tf.mul(v, c.beta2), tf.mul(tf.square(g), 1 - c.beta2)));
        let upd = tf.div(tf.div(m, bc1), tf.add(tf.sqrt(tf.div(v, bc2)), c.eps));
        if (decays(name) && c.weightDecay > 0) upd = tf.add(upd, tf.mul(p, c.weightDecay));
        p.assign(tf.sub(p, tf.mul(upd, lr)));
      }
      return tf.keep(norm);
    });
  }

  async state(): Promise<{ t: number; m: Map<string, Float32Array>; v: Map<string, Float32Array> }> {
    const m = new Map<string, Float32Array>();
    const v = new Map<string, Float32Array>();
    for (const [k, x] of this.m) m.set(k, (await x.data()) as Float32Array);
    for (const [k, x] of this.v) v.set(k, (await x.data()) as Float32Array);
    return { t: this.t, m, v };
  }

  load(state: { t: number; m: Map<string, Float32Array>; v: Map<string, Float32Array> }): void {
    this.t = state.t;
    for (const [k, x] of this.m) {
      const d = state.m.get(k);
      if (d) x.assign(tf.tensor(d, x.shape));
    }
    for (const [k, x] of this.v) {
      const d = state.v.get(k);
      if (d) x.assign(tf.tensor(d, x.shape));
    }
  }
}
