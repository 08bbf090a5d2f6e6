/**
 * Build one step's RowView and Predictions by hand, so a strategy's rule can be checked on a
 * single, fully specified step.
 */
import { headFromLogits } from '../../src/decode/head.js';
import type { LoopServices, Predictions, RowView } from '../../src/decode/diffusion/types.js';

export const V = 16;
export const MASK = 15;
export const EOS = 14;

export interface StepSpec {
  /** generation region: per position [predicted token, confidence], and whether it is still masked */
  gen: { token: number; p: number; masked?: boolean; second?: [number, number] }[];
  promptLength?: number;
  blockStart?: number; // relative to the generation region
  blockEnd?: number;
  stepInBlock?: number;
  step?: number;
  /** the schedule's total steps (default: the generation length) */
  totalSteps?: number;
  quota?: number;
  blockIndex?: number;
}

export function oneStep(spec: StepSpec): { row: RowView; pred: Predictions; services: LoopServices } {
  const P = spec.promptLength ?? 2;
  const L = spec.gen.length;
  const canvas = new Int32Array(P + L).fill(3);
  const logits = new Float32Array((P + L) * V).fill(Math.log(1e-9));
  spec.gen.forEach((g, i) => {
    const pos = P + i;
    canvas[pos] = g.masked === false ? g.token : MASK;
    const rest = 1 - g.p - (g.second ? g.second[1] : 0);
    for (let v = 0; v < V; v++) logits[pos * V + v] = Math.log(Math.max(1e-9, rest / (V - 2)));
    logits[pos * V + g.token] = Math.log(g.p);
    if (g.second) logits[pos * V + g.second[0]] = Math.log(g.second[1]);
  });
  const head = headFromLogits(logits, 1, P + L, V, 4);
  const tokens = new Int32Array(P + L);
  const confidence = new Float32Array(P + L);
  for (let i = 0; i < P + L; i++) {
    tokens[i] = head.topkIds[i * 4]!;
    confidence[i] = head.topkProbs[i * 4]!;
  }
  const blockStart = P + (spec.blockStart ?? 0);
  const blockEnd = P + (spec.blockEnd ?? L);
  const masked: number[] = [];
  for (let i = P; i < P + L; i++) if (canvas[i] === MASK) masked.push(i);
  const row: RowView = {
    row: 0,
    canvas,
    promptLength: P,
    genLength: L,
    maskTokenId: MASK,
    eosTokenIds: [EOS],
    newlineTokenIds: [],
    blockStart,
    blockEnd,
    blockIndex: spec.blockIndex ?? 0,
    stepInBlock: spec.stepInBlock ?? 0,
    step: spec.step ?? 1,
    totalSteps: spec.totalSteps ?? L,
    quota: spec.quota ?? 1,
    committedAt: new Int32Array(P + L).fill(-1),
    candidates: masked.filter((p) => p >= blockStart && p < blockEnd),
    masked,
  };
  const pred: Predictions = {
    tokens,
    confidence,
    head,
    topkIds: (pos) => head.topkIds.subarray(pos * 4, pos * 4 + 4),
    topkProbs: (pos) => head.topkProbs.subarray(pos * 4, pos * 4 + 4),
    entropy: (pos) => head.entropy[pos]!,
    logits: (pos) => head.logits!.subarray(pos * V, pos * V + V),
  };
  let s = 12345;
  const services: LoopServices = {
    rng: { float: () => ((s = (s * 1103515245 + 12345) >>> 0) / 4294967296) },
    forwardCandidates: async () => {
      throw new Error('not scripted');
    },
  };
  return { row, pred, services };
}

/** positions relative to the generation region, sorted */
export function rel(row: RowView, positions: readonly number[]): number[] {
  return positions.map((p) => p - row.promptLength).sort((a, b) => a - b);
}
