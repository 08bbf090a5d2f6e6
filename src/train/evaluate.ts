/**
 * Held-out evaluation by greedy generation in TensorFlow.js, scored with the suite's scorers.
 *
 * - diffusion: the prompt followed by a canvas of mask tokens; each step runs the model on the
 *   whole sequence and commits exactly one token: the masked position whose most probable token
 *   has the highest probability (LLaDA's low-confidence remasking at one token per step).
 * - causal: greedy next token until end-of-text or `maxNew` tokens.
 */
import { tf } from './backend.js';
import { head, trunk, type ModelShape, type ParamMap } from './model.js';
import type { Objective } from './objective.js';
import type { Encoded, SuiteData } from './data.js';

export interface EvalResult {
  /** task → mean score × 100 */
  tasks: Record<string, number>;
  /** mean of the task scores */
  suite: number;
  /** instances per task */
  perTask: number;
  seconds: number;
  samples: { task: string; prompt: string; prediction: string; score: number }[];
}

/** Top-1 id and probability at every position: ids [B*T], probs [B*T]. */
async function top1(params: ParamMap, shape: ModelShape, ids: Int32Array, mask: Float32Array, B: number, T: number, causal: boolean): Promise<{ id: Int32Array; p: Float32Array }> {
  const [idT, pT] = tf.tidy(() => {
    const h = trunk(params, shape, tf.tensor2d(ids, [B, T], 'int32'), tf.tensor2d(mask, [B, T]), causal);
    const logits = head(params, h);
    const probs = tf.softmax(logits);
    return [tf.argMax(logits, -1), tf.max(probs, -1)];
  });
  const id = (await idT.data()) as Int32Array;
  const p = (await pT.data()) as Float32Array;
  idT.dispose();
  pT.dispose();
  return { id, p };
}

/** Generate for a batch of encoded instances; returns the generated ids per row. */
export async function generate(params: ParamMap, shape: ModelShape, objective: Objective, data: SuiteData, rows: Encoded[], canvas: number): Promise<number[][]> {
  const B = rows.length;
  if (objective === 'diffusion') {
    const T = Math.max(...rows.map((r) => r.prompt.length)) + canvas;
    const ids = new Int32Array(B * T).fill(data.pad);
    const mask = new Float32Array(B * T);
    rows.forEach((r, b) => {
      r.prompt.forEach((id, i) => (ids[b * T + i] = id));
      for (let i = 0; i < canvas; i++) ids[b * T + r.prompt.length + i] = data.mask;
      mask.fill(1, b * T, b * T + r.prompt.length + canvas);
    });
    for (let step = 0; step < canvas; step++) {
      const { id, p } = await top1(params, shape, ids, mask, B, T, false);
      for (let b = 0; b < B; b++) {
        const start = b * T + rows[b]!.prompt.length;
        let best = -1;
        let bestP = -1;
        for (let i = start; i < start + canvas; i++) {
          if (ids[i] === data.mask && p[i]! > bestP) {
            bestP = p[i]!;
            best = i;
          }
        }
        if (best >= 0) ids[best] = id[best]!;
      }
    }
    return rows.map((r, b) => Array.from(ids.subarray(b * T + r.prompt.length, b * T + r.prompt.length + canvas)));
  }
  // causal
  const out: number[][] = rows.map(() => []);
  const done = rows.map(() => false);
  const maxPrompt = Math.max(...rows.map((r) => r.prompt.length));
  for (let step = 0; step < canvas && done.some((d) => !d); step++) {
    const T = maxPrompt + step;
    const ids = new Int32Array(B * T).fill(data.pad);
    const mask = new Float32Array(B * T);
    rows.forEach((r, b) => {
      const seq = [...r.prompt, ...out[b]!];
      seq.forEach((id, i) => (ids[b * T + i] = id));
      mask.fill(1, b * T, b * T + seq.length);
    });
    const { id } = await top1(params, shape, ids, mask, B, T, true);
    rows.forEach((r, b) => {
      if (done[b]) return;
      const last = b * T + r.prompt.length + out[b]!.length - 1;
      const next = id[last]!;
      out[b]!.push(next);
      if (next === data.eos) done[b] = true;
    });
  }
  return out;
}

export async function evaluate(params: ParamMap, shape: ModelShape, objective: Objective, data: SuiteData, heldOut: Encoded[], canvas: number, batchSize = 128): Promise<EvalResult> {
  const t0 = performance.now();
  const sums = new Map<string, { s: number; n: number }>();
  const samples: EvalResult['samples'] = [];
  for (let i = 0; i < heldOut.length; i += batchSize) {
    const rows = heldOut.slice(i, i + batchSize);
    const gen = await generate(params, shape, objective, data, rows, canvas);
    rows.forEach((r, b) => {
      const { text, score } = data.score(r, gen[b]!);
      const t = r.instance.task;
      const acc = sums.get(t) ?? { s: 0, n: 0 };
      acc.s += score;
      acc.n += 1;
      sums.set(t, acc);
      if (acc.n === 1) samples.push({ task: t, prompt: r.instance.prompt, prediction: text, score });
    });
  }
  const tasks: Record<string, number> = {};
  for (const [t, { s, n }] of sums) tasks[t] = (100 * s) / n;
  const vals = Object.values(tasks);
  const suite = vals.reduce((a, b) => a + b, 0) / Math.max(1, vals.length);
  return { tasks, suite, perTask: Math.round(heldOut.length / Math.max(1, sums.size)), seconds: (performance.now() - t0) / 1000, samples };
}
