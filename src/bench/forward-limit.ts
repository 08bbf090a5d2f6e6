/**
 * The bench's guard against a diffusion decoder that makes no progress: each instance gets a cap
 * on forward passes, counted on a wrapper around the model's runtime (with the positions they
 * computed, the work a stopped instance did).
 */
import type { ParadecModel } from '../api.js';
import type { BidirectionalModel } from '../runtime/types.js';

/** Thrown by a guarded model when an instance exceeds its forward-pass limit. */
export class ForwardLimit extends Error {
  constructor(readonly limit: number) {
    super(`no end after ${limit} forward passes`);
  }
}

/** A model whose forward passes are counted and capped: `arm` before each instance. */
export interface GuardedModel {
  model: ParadecModel;
  /** start an instance: reset the count and cap it at `limit` passes */
  arm(limit: number): void;
  /** forward passes of the current instance (at most the limit) */
  used(): number;
  /** positions those forward passes computed (each row's real length, padding left out) */
  usedWork(): number;
}

/**
 * A diffusion model whose forward passes are counted and capped per instance: a decoder that makes
 * no progress (e.g. an undertrained model whose top prediction is the mask token itself, which
 * leaves the position masked) is stopped after `limit` passes instead of running forever. The
 * instance is then recorded as unsolved, with `stopped` set; the cap is a count, so it is the same
 * in every run.
 */
export function guarded(model: ParadecModel): GuardedModel {
  if (model.runtime.kind !== 'bidirectional') return { model, arm: () => {}, used: () => 0, usedWork: () => 0 };
  const inner = model.runtime;
  let count = 0;
  let work = 0;
  let limit = Infinity;
  const runtime: BidirectionalModel = {
    kind: 'bidirectional',
    vocabSize: inner.vocabSize,
    maskTokenId: inner.maskTokenId,
    maxPositions: inner.maxPositions,
    forward: (tokens, batch, length, options) => {
      if (++count > limit) return Promise.reject(new ForwardLimit(limit));
      const mask = options?.attentionMask;
      work += mask ? mask.reduce((n, m) => n + (m ? 1 : 0), 0) : batch * length;
      return inner.forward(tokens, batch, length, options);
    },
  };
  return {
    model: { ...model, runtime, dispose: () => model.dispose() },
    arm: (l) => {
      count = 0;
      work = 0;
      limit = l;
    },
    used: () => Math.min(count, limit),
    usedWork: () => work,
  };
}

/** The forward-pass cap of one diffusion instance: generous for self-correcting strategies. */
export function forwardLimit(genLength: number): number {
  return 8 * genLength + 16;
}
