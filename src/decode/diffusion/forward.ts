/**
 * The loop's forward pass over a batch of canvases: right-padded rows, classifier-free guidance
 * (LLaDA's `cfg_scale`: each canvas forwarded again with its prompt masked, logits mixed as
 * u + (s + 1)(c − u)) and, when the run has one, the KV cache.
 */
import type { BidirectionalModel, DecodeHeadOutput } from '../../runtime/types.js';
import { headFromLogits } from '../head.js';
import type { CacheRow, DiffusionKvCache } from './cache.js';

export interface CanvasForwardOptions {
  /** classifier-free guidance scale (0 = off) */
  readonly cfgScale: number;
  /** return full logits (sampling, guidance, or a strategy that reads them) */
  readonly needLogits: boolean;
  /** rows in the run: a guided row's unconditional twin has cache id `rowCount + id` */
  readonly rowCount: number;
  readonly signal?: AbortSignal;
}

export interface CanvasForwardResult {
  /** the decode head of each canvas, guidance applied */
  head: DecodeHeadOutput;
  /** per canvas: whether its forward computed the whole canvas (always without a KV cache) */
  full: boolean[];
  /**
   * per canvas: the positions the model computed for it (its work) — the canvas's own length
   * without a KV cache (not the batch's padding), the window with one, and with guidance the
   * unconditional twin's positions too
   */
  computed: number[];
}

export class CanvasForward {
  constructor(
    private readonly model: BidirectionalModel,
    private readonly kvCache: DiffusionKvCache | undefined,
    private readonly options: CanvasForwardOptions,
  ) {}

  /**
   * One forward over several canvases (right-padded). `cacheRows` (with a KV cache): each
   * canvas's row and the block it needs predictions for; `ephemeral`: candidate canvases that
   * leave the cache as is.
   */
  async run(canvases: Int32Array[], promptLengths: number[], cacheRows?: CacheRow[], ephemeral = false): Promise<CanvasForwardResult> {
    const { cfgScale, needLogits, signal } = this.options;
    const mask = this.model.maskTokenId;
    if (signal?.aborted) throw signal.reason ?? new Error('aborted');
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
    let computed = canvases.map((c) => (cfgScale > 0 ? 2 : 1) * c.length);
    if (this.kvCache && cacheRows) {
      // CFG's unconditional rows have caches of their own
      const cacheRowsIn = cfgScale > 0 ? [...cacheRows, ...cacheRows.map((r) => ({ ...r, id: this.options.rowCount + r.id }))] : cacheRows;
      const result = await this.kvCache.forward(tokens, rowsIn, len, { logits: needLogits, attentionMask: attention, rows: cacheRowsIn, ephemeral });
      head = result.head;
      full = canvases.map((_, i) => result.full[i]! && (cfgScale === 0 || result.full[n + i]!));
      computed = canvases.map((_, i) => result.computed[i]! + (cfgScale > 0 ? result.computed[n + i]! : 0));
    } else head = await this.model.forward(tokens, rowsIn, len, { logits: needLogits, attentionMask: attention });
    if (cfgScale === 0) return { head, full, computed };
    const V = head.vocabSize;
    const logits = head.logits!;
    const guided = new Float32Array(n * len * V);
    for (let i = 0; i < n * len * V; i++) {
      const c = logits[i]!;
      const u = logits[n * len * V + i]!;
      guided[i] = u + (cfgScale + 1) * (c - u);
    }
    return { head: headFromLogits(guided, n, len, V, head.k), full, computed };
  }
}
