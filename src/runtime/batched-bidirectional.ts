/**
 * A diffusion model whose forward passes from concurrent generations run as one batched forward
 * (continuous batching, coalescer.ts). Each call's canvases become rows of the batch, right-padded
 * to the longest with an attention mask, so every row keeps the positions and the result it has
 * alone (the loop relies on the same property to batch prompts: padding keys are masked out).
 * Only `forward` is batched; the KV-cache methods (windowed forwards) run as they are.
 */
import { Coalescer, type CoalescerOptions } from './coalescer.js';
import { headRows } from './head-rows.js';
import { modelView } from './model-view.js';
import type { BidirectionalModel, DecodeHeadOutput, ForwardOptions } from './types.js';

interface Call {
  tokens: Int32Array;
  batch: number;
  length: number;
  logits: boolean;
  attentionMask: Uint8Array | undefined;
}

export interface BatchedModel<M> {
  /** the model to decode with: its forwards are batched with those of the other generations */
  readonly model: M;
  readonly coalescer: Coalescer<unknown, unknown>;
}

export function batchedBidirectional(inner: BidirectionalModel, options: CoalescerOptions = {}): BatchedModel<BidirectionalModel> {
  const coalescer = new Coalescer<Call, DecodeHeadOutput>((calls) => runTogether(inner, calls), options);
  const forward = (tokens: Int32Array, batch: number, length: number, o: ForwardOptions & { attentionMask?: Uint8Array } = {}): Promise<DecodeHeadOutput> =>
    coalescer.submit({ tokens, batch, length, logits: o.logits === true, attentionMask: o.attentionMask }, batch);
  const model = modelView(inner, (key) => (key === 'forward' ? (forward as (...a: unknown[]) => unknown) : undefined));
  return { model, coalescer: coalescer as Coalescer<unknown, unknown> };
}

async function runTogether(model: BidirectionalModel, calls: Call[]): Promise<DecodeHeadOutput[]> {
  if (calls.length === 1) {
    // alone: exactly the call as it was made
    const c = calls[0]!;
    return [await model.forward(c.tokens, c.batch, c.length, { logits: c.logits, ...(c.attentionMask ? { attentionMask: c.attentionMask } : {}) })];
  }
  const L = Math.max(...calls.map((c) => c.length));
  const B = calls.reduce((n, c) => n + c.batch, 0);
  const tokens = new Int32Array(B * L).fill(model.maskTokenId);
  const mask = new Uint8Array(B * L);
  let row = 0;
  for (const c of calls) {
    for (let b = 0; b < c.batch; b++, row++) {
      tokens.set(c.tokens.subarray(b * c.length, (b + 1) * c.length), row * L);
      if (c.attentionMask) mask.set(c.attentionMask.subarray(b * c.length, (b + 1) * c.length), row * L);
      else mask.fill(1, row * L, row * L + c.length);
    }
  }
  const logits = calls.some((c) => c.logits);
  const head = await model.forward(tokens, B, L, { logits, attentionMask: mask });
  row = 0;
  return calls.map((c) => {
    const out = headRows(head, row, c.batch, c.length, c.logits);
    row += c.batch;
    return out;
  });
}
