/**
 * Test doubles whose logits the test controls: the decoding loops and strategies run on them
 * exactly as on a compiled model, so a test can show a strategy's defining rule step by step.
 */
import { headFromLogits } from '../../src/decode/head.js';
import type { BidirectionalModel, DecodeHeadOutput, ForwardOptions } from '../../src/runtime/types.js';

/** logits for every position of one row, given that row's tokens */
export type RowScript = (tokens: Int32Array, call: number) => Float32Array;

export class ScriptedBidirectional implements BidirectionalModel {
  readonly kind = 'bidirectional' as const;
  calls = 0;
  /** canvases seen by each forward (one entry per row) */
  readonly seen: Int32Array[][] = [];
  constructor(
    readonly vocabSize: number,
    readonly maskTokenId: number,
    private readonly script: RowScript,
    readonly maxPositions = 4096,
    readonly topK = 4,
  ) {}

  async forward(tokens: Int32Array, batch: number, length: number, options: ForwardOptions & { attentionMask?: Uint8Array } = {}): Promise<DecodeHeadOutput> {
    const V = this.vocabSize;
    const logits = new Float32Array(batch * length * V);
    const rows: Int32Array[] = [];
    for (let b = 0; b < batch; b++) {
      let real = length;
      if (options.attentionMask) {
        real = 0;
        for (let i = 0; i < length; i++) real += options.attentionMask[b * length + i]!;
      }
      const row = tokens.slice(b * length, b * length + real);
      rows.push(row);
      logits.set(this.script(row, this.calls).subarray(0, real * V), b * length * V);
    }
    this.seen.push(rows);
    this.calls += 1;
    const head = headFromLogits(logits, batch, length, V, this.topK);
    if (!options.logits) delete head.logits;
    return head;
  }
}

/** Build a logits row that puts probability `p` on `token` and spreads the rest evenly. */
export function peaked(vocab: number, token: number, p: number): Float32Array {
  const out = new Float32Array(vocab);
  const rest = (1 - p) / (vocab - 1);
  for (let v = 0; v < vocab; v++) out[v] = Math.log(v === token ? p : rest);
  return out;
}

/** Logits for a whole row from per-position (token, probability) pairs. */
export function rowLogits(vocab: number, spec: readonly (readonly [number, number])[]): Float32Array {
  const out = new Float32Array(spec.length * vocab);
  spec.forEach(([tok, p], i) => out.set(peaked(vocab, tok, p), i * vocab));
  return out;
}
