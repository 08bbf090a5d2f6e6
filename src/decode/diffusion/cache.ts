/**
 * KV caching for diffusion decoding: the policy between the denoising loop and the model.
 *
 * The loop asks "forward these canvases; for row r I need predictions for [focusStart,
 * focusEnd)". The cache decides, per row, whether this forward is a full refresh (the model's
 * ordinary bidirectional graph over the whole canvas, which also hands back every position's
 * keys/values) or a windowed pass (only a window of positions computed, attending to cached
 * keys/values of the rest), and returns a decode head for every canvas position: the computed
 * positions fresh, the others keep their prediction from the last forward that computed them.
 *
 * Modes (docs/caching.md has the sources and the differences from the reference code):
 *
 *   prefix    Fast-dLLM prefix cache: refresh at each new block; other steps compute the block
 *             and everything after it, against the cached prompt and finished blocks.
 *   dual      Fast-dLLM DualCache: refresh at each new block; other steps compute the block only,
 *             against cached prefix and (stale) suffix keys/values.
 *   delayed   dKV-Cache (decode variant): a token's keys/values are cached from the step after it
 *             is decoded; masked positions are computed every step; refresh every 8 steps.
 *   window    Window-Diffusion: computes the block's masks, the first `active` masks and the
 *             tokens decoded since the last refresh; the next `window` masks are cached keys;
 *             masks further right are pruned (not attended to); refresh every 32 steps.
 *   vicinity  dInfer vicinity refresh: refresh at each new block; other steps compute the block
 *             and `margin` positions either side of it.
 *
 * In every mode a position whose token differs from the one its cached keys/values were computed
 * with (a remasked token, a token committed outside the block) is recomputed, and every computed
 * position's keys/values are written back into the cache. `refresh: N` adds a full refresh every
 * N forwards of a row; `refresh: 1` makes every forward a full one, which gives exactly the
 * uncached decoding (the same graph on the same inputs).
 *
 * Batches: every row has its own windows, refresh schedule and slot in one batched cache; rows
 * are right-padded, windows are padded to the longest with masked-out slots. Rows that refresh
 * and rows that use windows in the same step run as two forwards (each row still takes part in
 * exactly one). Dream-style models (logits shifted by one position) get the position before each
 * window position computed too, since that is where its prediction comes from.
 */
import { OptionError } from '../../errors.js';
import { emptyHead } from '../../runtime/head-rows.js';
import type { BidirectionalKv, CachingBidirectionalModel, DecodeHeadOutput } from '../../runtime/types.js';

export type CacheMode = 'none' | 'prefix' | 'dual' | 'delayed' | 'window' | 'vicinity';
export const CACHE_MODES: readonly CacheMode[] = ['none', 'prefix', 'dual', 'delayed', 'window', 'vicinity'];

export interface DiffusionCacheOptions {
  mode: CacheMode;
  /**
   * full refresh every N forwards of a row (1: every forward, the uncached result). Default:
   * prefix/dual/vicinity only at block starts, delayed 8, window 32.
   */
  refresh?: number | undefined;
  /** window: masked positions computed each step beyond the block's (default 16) */
  active?: number | undefined;
  /** window: further masked positions attended through the cache; masks beyond are pruned (default 32) */
  window?: number | undefined;
  /** vicinity: positions recomputed on either side of the block (default 16) */
  margin?: number | undefined;
}

export interface ResolvedCacheOptions {
  mode: CacheMode;
  /** null: no periodic refresh (only the mode's own triggers) */
  refresh: number | null;
  active: number;
  window: number;
  margin: number;
}

const DEFAULT_REFRESH: Record<CacheMode, number | null> = { none: 1, prefix: null, dual: null, delayed: 8, window: 32, vicinity: null };

export function resolveCacheOptions(options: DiffusionCacheOptions | undefined): ResolvedCacheOptions {
  const mode = options?.mode ?? 'none';
  if (!CACHE_MODES.includes(mode)) throw new OptionError(`cache must be one of ${CACHE_MODES.join(', ')} (got '${String(mode)}')`);
  const int = (name: string, v: number | undefined, min: number, dflt: number): number => {
    if (v === undefined) return dflt;
    if (!Number.isInteger(v) || v < min) throw new OptionError(`cache ${name} must be an integer ≥ ${min} (got ${v})`);
    return v;
  };
  const refresh = options?.refresh === undefined ? DEFAULT_REFRESH[mode] : int('refresh', options.refresh, 1, 1);
  return { mode, refresh, active: int('active', options?.active, 0, 16), window: int('window', options?.window, 0, 32), margin: int('margin', options?.margin, 0, 16) };
}

/** What the loop tells the cache about one row of a forward. */
export interface CacheRow {
  /** stable id of the row across forwards (a conditional row and its CFG twin differ) */
  id: number;
  /** the positions whose predictions the loop needs now (the current block) */
  focusStart: number;
  focusEnd: number;
  /** the loop needs fresh predictions everywhere (a self-correcting strategy's review): refresh */
  wholeCanvas?: boolean;
}

export interface CachedForwardOptions {
  logits?: boolean;
  attentionMask?: Uint8Array;
  rows: readonly CacheRow[];
  /**
   * extra candidate canvases of rows (FreeDave drafts, ETE probes): computed against the named
   * rows' caches, which are left as they are
   */
  ephemeral?: boolean;
}

export interface CachedForwardResult {
  head: DecodeHeadOutput;
  /** per row: whether this forward computed the whole canvas */
  full: boolean[];
  /**
   * per row: the positions the model computed for it — its real canvas length for a full refresh,
   * its window (without the padding to the batch's longest window) for a windowed pass
   */
  computed: number[];
}

export interface CacheStats {
  /** rows × forwards that were full refreshes / windowed */
  fullRows: number;
  windowRows: number;
  /** positions computed in windowed rows, and the canvas positions of those rows */
  windowPositions: number;
  canvasPositions: number;
}

interface RowState {
  length: number;
  /** the token each cached key/value was computed with */
  cachedTokens: Int32Array;
  /** the canvas at the last full refresh */
  refreshTokens: Int32Array;
  /** windowed forwards since the last full refresh */
  sinceRefresh: number;
  /** focusStart at the last full refresh */
  blockStart: number;
  /** last predictions per position */
  ids: Int32Array;
  probs: Float32Array;
  entropy: Float32Array;
  logits: Float32Array | null;
}

interface Plan {
  b: number;
  row: CacheRow;
  real: number;
  canvas: Int32Array;
  state: RowState | undefined;
  full: boolean;
  /** window rows: ascending positions to compute, and positions left out of attention */
  window?: number[];
  pruned?: Uint8Array;
}

export class DiffusionKvCache {
  readonly options: ResolvedCacheOptions;
  readonly stats: CacheStats = { fullRows: 0, windowRows: 0, windowPositions: 0, canvasPositions: 0 };
  private readonly states = new Map<number, RowState>();
  private kv: BidirectionalKv | null = null;
  /** row ids in the order of the cache's rows */
  private slots: number[] = [];
  private cacheLength = 0;

  constructor(readonly model: CachingBidirectionalModel, options: DiffusionCacheOptions) {
    this.options = resolveCacheOptions(options);
    if (this.options.mode === 'none') throw new OptionError("DiffusionKvCache needs a cache mode other than 'none'");
  }

  /** Free the cache's keys/values. */
  dispose(): void {
    if (this.kv) this.model.releaseKv([this.kv]);
    this.kv = null;
    this.slots = [];
    this.states.clear();
  }

  private needsRefresh(state: RowState | undefined, row: CacheRow, real: number, logits: boolean): boolean {
    if (!state || state.length !== real || !this.slots.includes(row.id) || real > this.cacheLength || row.wholeCanvas) return true;
    if (logits && !state.logits) return true;
    const { mode, refresh } = this.options;
    if (refresh !== null && state.sinceRefresh + 1 >= refresh) return true;
    if ((mode === 'prefix' || mode === 'dual' || mode === 'vicinity') && row.focusStart !== state.blockStart) return true;
    return false;
  }

  /** The positions a windowed forward computes for a row, and the masks it prunes. */
  private windowOf(state: RowState, canvas: Int32Array, row: CacheRow): { window: number[]; pruned: Uint8Array } {
    const real = canvas.length;
    const mask = this.model.maskTokenId;
    const { mode } = this.options;
    const take = new Uint8Array(real);
    const pruned = new Uint8Array(real);
    const focusStart = Math.max(0, Math.min(real, row.focusStart));
    const focusEnd = Math.max(focusStart, Math.min(real, row.focusEnd));
    for (let p = 0; p < real; p++) if (canvas[p] !== state.cachedTokens[p]) take[p] = 1;
    for (let p = focusStart; p < focusEnd; p++) if (canvas[p] === mask) take[p] = 1;
    if (mode === 'prefix') for (let p = focusStart; p < real; p++) take[p] = 1;
    else if (mode === 'dual') for (let p = focusStart; p < focusEnd; p++) take[p] = 1;
    else if (mode === 'vicinity') {
      const from = Math.max(0, focusStart - this.options.margin);
      const to = Math.min(real, focusEnd + this.options.margin);
      for (let p = from; p < to; p++) take[p] = 1;
    } else if (mode === 'delayed') {
      for (let p = 0; p < real; p++) if (canvas[p] === mask) take[p] = 1;
    } else if (mode === 'window') {
      for (let p = 0; p < real; p++) if (canvas[p] !== state.refreshTokens[p]) take[p] = 1;
      let seen = 0;
      for (let p = 0; p < real; p++) {
        if (canvas[p] !== mask || take[p]) continue;
        if (seen < this.options.active) take[p] = 1;
        else if (seen >= this.options.active + this.options.window) pruned[p] = 1;
        seen += 1;
      }
    }
    if (this.model.shiftsLogits) {
      // position p's prediction comes from position p - 1's hidden state
      for (let p = 1; p < real; p++) if (take[p] && !take[p - 1]) take[p - 1] = 2;
    }
    const window: number[] = [];
    for (let p = 0; p < real; p++) if (take[p]) window.push(p);
    if (window.length === 0) window.push(focusStart < real ? focusStart : real - 1);
    return { window, pruned };
  }

  async forward(tokens: Int32Array, batch: number, length: number, options: CachedForwardOptions): Promise<CachedForwardResult> {
    const { rows, attentionMask } = options;
    const logits = options.logits === true;
    const ephemeral = options.ephemeral === true;
    if (rows.length !== batch) throw new OptionError(`cache: ${rows.length} row descriptions for a batch of ${batch}`);
    const plans: Plan[] = rows.map((row, b) => {
      let real = length;
      if (attentionMask) {
        real = 0;
        for (let i = 0; i < length; i++) real += attentionMask[b * length + i] ? 1 : 0;
      }
      const canvas = tokens.subarray(b * length, b * length + real);
      const state = this.states.get(row.id);
      const full = this.needsRefresh(state, row, real, logits);
      const plan: Plan = { b, row, real, canvas, state, full };
      if (!full) Object.assign(plan, this.windowOf(state!, canvas, row));
      return plan;
    });
    const fulls = plans.filter((p) => p.full);
    const windows = plans.filter((p) => !p.full);
    const V = this.model.vocabSize;

    // ---- full refreshes ----
    let fullHead: DecodeHeadOutput | undefined;
    let fullKv: BidirectionalKv | undefined;
    if (fulls.length) {
      let t = tokens;
      let m = attentionMask;
      if (fulls.length !== batch) {
        t = new Int32Array(fulls.length * length);
        m = new Uint8Array(fulls.length * length);
        fulls.forEach((p, i) => {
          t.set(tokens.subarray(p.b * length, (p.b + 1) * length), i * length);
          if (attentionMask) m!.set(attentionMask.subarray(p.b * length, (p.b + 1) * length), i * length);
          else m!.fill(1, i * length, (i + 1) * length);
        });
      }
      const fwdOptions = { logits, ...(m ? { attentionMask: m } : {}) };
      if (ephemeral) fullHead = await this.model.forward(t, fulls.length, length, fwdOptions);
      else ({ head: fullHead, kv: fullKv } = await this.model.forwardWithKv(t, fulls.length, length, fwdOptions));
    }

    // ---- windowed rows ----
    let winHead: DecodeHeadOutput | undefined;
    let fresh: BidirectionalKv | undefined;
    let w = 0;
    if (windows.length) {
      w = Math.max(...windows.map((p) => p.window!.length));
      const n = windows.length;
      const P = this.cacheLength;
      const wt = new Int32Array(n * w);
      const wp = new Int32Array(n * w);
      const keyMask = new Uint8Array(n * (P + w));
      windows.forEach((p, i) => {
        const win = p.window!;
        wt.fill(this.model.maskTokenId, i * w, (i + 1) * w);
        win.forEach((pos, j) => {
          wt[i * w + j] = p.canvas[pos]!;
          wp[i * w + j] = pos;
        });
        const inWindow = new Uint8Array(p.real);
        for (const pos of win) inWindow[pos] = 1;
        const base = i * (P + w);
        for (let pos = 0; pos < Math.min(P, p.real); pos++) if (!inWindow[pos] && !p.pruned![pos]) keyMask[base + pos] = 1;
        keyMask.fill(1, base + P, base + P + win.length);
        this.stats.windowPositions += ephemeral ? 0 : win.length;
      });
      const ids = windows.map((p) => p.row.id);
      const direct = ids.length === this.slots.length && ids.every((id, i) => this.slots[i] === id);
      const past = direct
        ? this.kv!
        : this.model.composeKv(this.kv, { batch: n, length: P, rowMap: Int32Array.from(ids.map((id) => this.slots.indexOf(id))), consume: false, writes: [] });
      try {
        ({ head: winHead, fresh } = await this.model.forwardWindow({ batch: n, window: w, tokens: wt, positions: wp, cache: past, keyMask }, { logits }));
      } finally {
        if (!direct) this.model.releaseKv([past]);
      }
    }

    // ---- predictions for every canvas position ----
    const k = (fullHead ?? winHead)!.k;
    const out = emptyHead(batch, length, k, V, logits);
    const newStates = new Map<number, RowState>();
    fulls.forEach((p, i) => {
      const src = i * length;
      const dst = p.b * length;
      out.topkIds.set(fullHead!.topkIds.subarray(src * k, (src + length) * k), dst * k);
      out.topkProbs.set(fullHead!.topkProbs.subarray(src * k, (src + length) * k), dst * k);
      out.entropy.set(fullHead!.entropy.subarray(src, src + length), dst);
      if (logits) out.logits!.set(fullHead!.logits!.subarray(src * V, (src + length) * V), dst * V);
      if (ephemeral) return;
      const L = p.real;
      const canvas = Int32Array.from(p.canvas);
      newStates.set(p.row.id, {
        length: L,
        cachedTokens: canvas,
        refreshTokens: Int32Array.from(canvas),
        sinceRefresh: 0,
        blockStart: p.row.focusStart,
        ids: out.topkIds.slice(dst * k, (dst + L) * k),
        probs: out.topkProbs.slice(dst * k, (dst + L) * k),
        entropy: out.entropy.slice(dst, dst + L),
        logits: logits ? out.logits!.slice(dst * V, (dst + L) * V) : null,
      });
    });
    windows.forEach((p, i) => {
      const old = p.state!;
      // ephemeral rows start from a copy of their row's predictions; real rows update them
      const st: RowState = ephemeral
        ? { ...old, ids: old.ids.slice(), probs: old.probs.slice(), entropy: old.entropy.slice(), logits: old.logits?.slice() ?? null }
        : old;
      const put = (slot: number, pos: number): void => {
        const s = i * w + slot;
        st.ids.set(winHead!.topkIds.subarray(s * k, (s + 1) * k), pos * k);
        st.probs.set(winHead!.topkProbs.subarray(s * k, (s + 1) * k), pos * k);
        st.entropy[pos] = winHead!.entropy[s]!;
        if (logits && st.logits) st.logits.set(winHead!.logits!.subarray(s * V, (s + 1) * V), pos * V);
      };
      p.window!.forEach((pos, j) => {
        if (!this.model.shiftsLogits) put(j, pos);
        else {
          if (pos + 1 < p.real) put(j, pos + 1);
          if (pos === 0) put(j, 0);
        }
      });
      const dst = p.b * length;
      const L = p.real;
      out.topkIds.set(st.ids.subarray(0, L * k), dst * k);
      out.topkProbs.set(st.probs.subarray(0, L * k), dst * k);
      out.entropy.set(st.entropy.subarray(0, L), dst);
      if (logits) out.logits!.set(st.logits!.subarray(0, L * V), dst * V);
      if (ephemeral) return;
      for (const pos of p.window!) st.cachedTokens[pos] = p.canvas[pos]!;
      st.sinceRefresh += 1;
      newStates.set(p.row.id, st);
    });

    if (ephemeral) {
      if (fresh) this.model.releaseKv([fresh]);
    } else {
      this.stats.fullRows += fulls.length;
      this.stats.windowRows += windows.length;
      for (const p of windows) this.stats.canvasPositions += p.real;
      this.update(plans, length, fullKv, fresh, w);
      this.states.clear();
      for (const [id, st] of newStates) this.states.set(id, st);
    }
    const full = new Array<boolean>(batch).fill(false);
    for (const p of fulls) full[p.b] = true;
    const computed = plans.map((p) => (p.full ? p.real : p.window!.length));
    return { head: out, full, computed };
  }

  /** The cache after a (non-ephemeral) forward: this call's rows, in order, with what it computed. */
  private update(plans: Plan[], length: number, fullKv: BidirectionalKv | undefined, fresh: BidirectionalKv | undefined, w: number): void {
    const n = plans.length;
    const newLength = Math.max(this.cacheLength, length);
    if (fullKv && !fresh && newLength === length) {
      // every row refreshed: the refresh's keys/values are the cache, no copy
      if (this.kv) this.model.releaseKv([this.kv]);
      this.kv = fullKv;
      this.slots = plans.map((p) => p.row.id);
      this.cacheLength = length;
      return;
    }
    const rowMap = Int32Array.from(plans.map((p) => this.slots.indexOf(p.row.id)));
    const writes: { kv: BidirectionalKv; targetRows: Int32Array; positions: Int32Array }[] = [];
    const fulls = plans.filter((p) => p.full);
    const windows = plans.filter((p) => !p.full);
    if (fullKv) {
      const positions = new Int32Array(fulls.length * length).fill(-1);
      fulls.forEach((p, i) => {
        for (let pos = 0; pos < p.real; pos++) positions[i * length + pos] = pos;
      });
      writes.push({ kv: fullKv, targetRows: Int32Array.from(fulls.map((p) => plans.indexOf(p))), positions });
    }
    if (fresh) {
      const positions = new Int32Array(windows.length * w).fill(-1);
      windows.forEach((p, i) => p.window!.forEach((pos, j) => (positions[i * w + j] = pos)));
      writes.push({ kv: fresh, targetRows: Int32Array.from(windows.map((p) => plans.indexOf(p))), positions });
    }
    const release = writes.map((x) => x.kv);
    this.kv = this.model.composeKv(this.kv, { batch: n, length: newLength, rowMap, consume: this.kv !== null, writes, release });
    this.slots = plans.map((p) => p.row.id);
    this.cacheLength = newLength;
  }
}
