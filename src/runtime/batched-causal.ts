/**
 * An autoregressive model whose forward passes from concurrent generations run as one batched
 * forward (continuous batching, coalescer.ts): each generation keeps its own KV cache at its own
 * length, and its own number of new tokens per forward — one for a greedy step, its pending
 * tokens plus however many drafts its own adaptive draft length gave for a verification (per-
 * request adaptive speculation, as FASER does inside continuous batching: each row verifies only
 * what it drafted; shorter rows are padded). `OnnxCausalModel.forwardRagged` lays the rows out.
 *
 * Forwards that cannot join a batch run as they are: tree verification, input embeddings, calls
 * on caches the model's worker does not hold.
 */
import { Coalescer, type CoalescerOptions } from './coalescer.js';
import { OnnxCausalModel, type RaggedEntry } from './causal-model.js';
import { modelView } from './model-view.js';
import { ResidentKvCache } from './resident-kv-cache.js';
import type { BatchedModel } from './batched-bidirectional.js';
import type { CausalModel, DecodeHeadOutput, ForwardOptions, KvCache } from './types.js';

interface Call extends RaggedEntry {
  logits: boolean;
}

type Result = { head: DecodeHeadOutput; cache: KvCache };

/** resident batches one generation may hold at once: its cache, a verify's extension, a batch's share */
const RESIDENT_PER_GENERATION = 6;

/** Whether `model` can batch forwards of different generations (a compiled ONNX model). */
export function canBatchCausal(model: CausalModel): model is OnnxCausalModel {
  return model instanceof OnnxCausalModel;
}

export function batchedCausal(inner: OnnxCausalModel, options: CoalescerOptions = {}): BatchedModel<CausalModel> {
  // Every generation keeps its KV cache in the model's worker, and a batched forward adds its
  // composed past, its output and one cache per entry: the worker's resident limit (4 batches by
  // default, for one generation) grows with the generations taking part, or their caches would be
  // handed out of the worker and could no longer join a batch.
  const baseLimit = inner.session.residentLimit;
  const coalescer = new Coalescer<Call, Result>((calls) => runTogether(inner, calls), {
    ...options,
    onParticipants: (n) => {
      inner.session.residentLimit = baseLimit + RESIDENT_PER_GENERATION * n;
      options.onParticipants?.(n);
    },
  });
  const forward = (tokens: Int32Array, batch: number, newLength: number, cache: KvCache, o: ForwardOptions = {}): Promise<Result> =>
    coalescer.submit({ tokens, batch, newLength, cache, logits: o.logits === true }, batch);
  const model = modelView(inner, (key) => (key === 'forward' ? (forward as (...a: unknown[]) => unknown) : undefined));
  return { model, coalescer: coalescer as Coalescer<unknown, unknown> };
}

async function runTogether(model: OnnxCausalModel, calls: Call[]): Promise<Result[]> {
  const alone = (c: Call): Promise<Result> => model.forward(c.tokens, c.batch, c.newLength, c.cache, { logits: c.logits });
  if (calls.length === 1) return [await alone(calls[0]!)];
  const joins = (c: Call): boolean => c.cache.length === 0 || (c.cache instanceof ResidentKvCache && c.cache.tensors.every((t) => model.session.holds(t)));
  const together = calls.filter(joins);
  const results = new Map<Call, Result>();
  if (together.length > 1) {
    const out = await model.forwardRagged(together, { logits: together.some((c) => c.logits) });
    together.forEach((c, i) => results.set(c, out[i]!));
  }
  for (const c of calls) if (!results.has(c)) results.set(c, await alone(c));
  return calls.map((c) => results.get(c)!);
}
