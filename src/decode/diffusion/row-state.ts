/**
 * One row's state in the denoising loop (loop.ts): its canvas, the semi-autoregressive block it is
 * in, where the base schedule stands in that block, and its forward-pass counts. The loop drives
 * it; a strategy sees it through `view()`.
 */
import { maskedIn } from './helpers.js';
import { dreamQuota, lladaEvenSplit } from './schedule.js';
import { settledPrefix } from './settled.js';
import type { RowView } from './types.js';

/** What one row of a batch ends with. */
export interface DiffusionRowResult {
  /** the generation region, genLength tokens (end-of-text tokens included) */
  generated: number[];
  /** forward passes (NFE) this row took part in */
  nfe: number;
  /**
   * positions the model computed for this row, summed over its forwards: the canvas (prompt +
   * generation region) per full forward, the window per KV-cached windowed forward, twice with
   * classifier-free guidance, and every candidate canvas of a batched candidate forward
   * (FreeDave's drafts, ETE's probes, self-edit's reviews)
   */
  work: number;
  /** of those, how many computed the whole canvas (all of them without a KV cache) */
  fullForwards: number;
  /** step at which each generation position was (last) committed */
  committedAt: number[];
  /** which schedule set how many tokens each step committed */
  schedule: ScheduleReport;
}

/**
 * Which schedule ran a row. A step's count came from the base schedule when the strategy read the
 * schedule's quota for that step (`RowView.quota`, e.g. `confidence` with `k` unset) and
 * committed exactly that many; otherwise the strategy chose it (its own `k`, a threshold, …).
 */
export interface ScheduleReport {
  /**
   * 'steps': the base schedule (`steps`, `block_length`) set every step's count; 'strategy': the
   * strategy set its own count at every step, so `steps` neither set nor bounded the forward
   * passes; 'mixed': some steps each way
   */
  kind: 'steps' | 'strategy' | 'mixed';
  /** the base schedule's steps (the `steps` option; gen_length when unset) */
  steps: number;
  /** decision steps whose count came from the base schedule */
  baseSteps: number;
  /** decision steps whose count the strategy chose */
  strategySteps: number;
  /**
   * decision steps that committed exactly one token: where a threshold rule (commit every token
   * ≥ τ, at least the most confident one) fell back to one token per forward, and every step of
   * a one-token-per-step schedule
   */
  oneTokenSteps: number;
  /** steps where the strategy committed nothing and the loop's progress guarantee committed the most confident token */
  guaranteeSteps: number;
  /** the end-of-text fill (DiffusionOptions.eosFill): whether it was on, and the tokens it committed */
  eosFill: boolean;
  eosFilled: number;
}

/** What every row of a run shares: the canvas layout, the base schedule and the step bound. */

export interface RowPlan {
  readonly genLength: number;
  readonly blockLength: number;
  readonly stepsPerBlock: number;
  readonly schedule: 'llada' | 'dream';
  readonly maskTokenId: number;
  readonly eosTokenIds: readonly number[];
  /** the tokenizer's newline ids (empty when the caller gave none) */
  readonly newlineTokenIds: readonly number[];
  /** the end-of-text fill is on (recorded in the schedule report) */
  readonly eosFill: boolean;
  /**
   * Hard bound on a row's forward passes (every step counts, whatever it does). A self-correcting
   * strategy (remasks, reviews) or one that keeps committing nothing could otherwise decode
   * forever; past the bound, remasks are ignored, reviews are skipped and the progress guarantee
   * commits a token every step, so the row finishes.
   */
  readonly maxStepsPerRow: number;
}

export class RowState {
  /** prompt + generation canvas */
  readonly canvas: Int32Array;
  readonly promptLength: number;
  /** step at which each position was committed; -1 for masked and prompt positions */
  readonly committedAt: Int32Array;
  blockIndex = 0;
  blockStart = 0;
  blockEnd = 0;
  /** no step has been taken in the current block yet (the strategy may still move its end) */
  blockFresh = true;
  stepInBlock = 0;
  /** forward passes this row has taken part in */
  nfe = 0;
  /** of those, how many computed the whole canvas */
  fullForwards = 0;
  /** positions the model computed for this row (DiffusionRowResult.work) */
  work = 0;
  /** the schedule report's counts (DiffusionRowResult.schedule) */
  readonly stepCounts = { base: 0, strategy: 0, oneToken: 0, guarantee: 0, eosFilled: 0 };
  done = false;
  /** the LLaDA even split of the block's masks over its steps */
  private blockSchedule: number[] = [];

  constructor(
    readonly index: number,
    prompt: readonly number[],
    private readonly plan: RowPlan,
  ) {
    const total = prompt.length + plan.genLength;
    this.canvas = new Int32Array(total).fill(plan.maskTokenId);
    this.canvas.set(prompt);
    this.promptLength = prompt.length;
    this.committedAt = new Int32Array(total).fill(-1);
    this.startBlock(0, prompt.length);
  }

  get maskTokenId(): number {
    return this.plan.maskTokenId;
  }

  /** Masked positions in [from, to), ascending. */
  maskedIn(from: number, to: number): number[] {
    return maskedIn(this.canvas, this.plan.maskTokenId, from, to);
  }

  /** Whether the generation region has no mask left. */
  isFull(): boolean {
    return this.canvas.indexOf(this.plan.maskTokenId, this.promptLength) < 0;
  }

  /** Whether `pos` is a masked position of the generation region (one a step may commit). */
  isMaskedAt(pos: number): boolean {
    return pos >= this.promptLength && pos < this.canvas.length && this.canvas[pos] === this.plan.maskTokenId;
  }

  /** Whether `pos` is a committed position of the generation region (one a strategy may remask). */
  isCommittedAt(pos: number): boolean {
    return pos >= this.promptLength && pos < this.canvas.length && this.canvas[pos] !== this.plan.maskTokenId;
  }

  /** Whether this row has taken its `maxStepsPerRow` forward passes. */
  atStepBound(): boolean {
    return this.nfe >= this.plan.maxStepsPerRow;
  }

  /** Whether the current step is the block's last one in the base schedule (or past it). */
  atLastScheduledStep(): boolean {
    return this.stepInBlock >= this.plan.stepsPerBlock - 1;
  }

  /** How many tokens the base schedule (LLaDA even split / Dream timesteps) commits this step. */
  quota(): number {
    const { schedule, stepsPerBlock } = this.plan;
    const remaining = this.maskedIn(this.blockStart, this.blockEnd).length;
    if (this.stepInBlock >= stepsPerBlock) return remaining;
    if (schedule === 'dream') return Math.min(remaining, dreamQuota(remaining, this.stepInBlock, stepsPerBlock));
    return Math.min(remaining, this.blockSchedule[this.stepInBlock]!);
  }

  /**
   * The strategy's view of this row now. `quota` is computed when first read, and `onQuotaRead`
   * hears of every read: that is how the loop learns whether a step's count came from the base
   * schedule (the schedule report), without the strategies declaring anything.
   */
  view(onQuotaRead?: () => void): RowView {
    let quota: number | undefined;
    const quotaNow = () => (quota ??= this.quota());
    return {
      row: this.index,
      canvas: this.canvas,
      promptLength: this.promptLength,
      genLength: this.plan.genLength,
      maskTokenId: this.plan.maskTokenId,
      eosTokenIds: this.plan.eosTokenIds,
      newlineTokenIds: this.plan.newlineTokenIds,
      blockStart: this.blockStart,
      blockEnd: this.blockEnd,
      blockIndex: this.blockIndex,
      stepInBlock: this.stepInBlock,
      step: this.nfe,
      totalSteps: this.totalSteps(),
      get quota() {
        onQuotaRead?.();
        return quotaNow();
      },
      committedAt: this.committedAt,
      candidates: this.maskedIn(this.blockStart, this.blockEnd),
      masked: this.maskedIn(this.promptLength, this.canvas.length),
    };
  }

  startBlock(blockIndex: number, blockStart: number): void {
    this.blockIndex = blockIndex;
    this.blockStart = blockStart;
    this.blockEnd = Math.min(blockStart + this.plan.blockLength, this.canvas.length);
    this.stepInBlock = 0;
    this.blockFresh = true;
    this.splitBlockSchedule();
  }

  /** Move the current block's end (AdaBlock), kept inside the canvas and at least one position long. */
  setBlockEnd(end: number): void {
    this.blockEnd = Math.max(this.blockStart + 1, Math.min(this.canvas.length, Math.floor(end)));
    this.splitBlockSchedule();
  }

  /**
   * Move past full blocks. Returns false when the whole generation region is full. Masks left
   * behind the current block (remasked by a self-correcting strategy) are revisited from the start.
   */
  advance(): boolean {
    if (this.isFull()) return false;
    while (this.maskedIn(this.blockStart, this.blockEnd).length === 0) {
      if (this.blockEnd >= this.canvas.length) this.startBlock(0, this.promptLength);
      else this.startBlock(this.blockIndex + 1, this.blockEnd);
    }
    return true;
  }

  /** Commit `token` at `pos` in this step (the row's current forward count). */
  commit(pos: number, token: number): void {
    this.canvas[pos] = token;
    this.committedAt[pos] = this.nfe;
  }

  remask(pos: number): void {
    this.canvas[pos] = this.plan.maskTokenId;
    this.committedAt[pos] = -1;
  }

  /**
   * Once the text is final (an end-of-text with no mask before it), fill the masks after it with
   * that end-of-text, committed in this step; returns what was filled.
   */
  fillAfterEos(): { position: number; token: number }[] {
    const filled: { position: number; token: number }[] = [];
    const settled = settledPrefix(this.canvas, this.promptLength, this.plan.maskTokenId, this.plan.eosTokenIds);
    if (!settled.endsWithEos) return filled;
    const eos = this.canvas[settled.end]!;
    for (let pos = settled.end + 1; pos < this.canvas.length; pos++) {
      if (this.canvas[pos] === this.plan.maskTokenId) {
        this.commit(pos, eos);
        filled.push({ position: pos, token: eos });
      }
    }
    return filled;
  }

  result(): DiffusionRowResult {
    const c = this.stepCounts;
    return {
      generated: Array.from(this.canvas.subarray(this.promptLength)),
      nfe: this.nfe,
      work: this.work,
      fullForwards: this.fullForwards,
      committedAt: Array.from(this.committedAt.subarray(this.promptLength)),
      schedule: {
        kind: c.strategy === 0 ? 'steps' : c.base === 0 ? 'strategy' : 'mixed',
        steps: this.totalSteps(),
        baseSteps: c.base,
        strategySteps: c.strategy,
        oneTokenSteps: c.oneToken,
        guaranteeSteps: c.guarantee,
        eosFill: this.plan.eosFill,
        eosFilled: c.eosFilled,
      },
    };
  }

  /** Denoising steps of the whole base schedule (steps per block × blocks). */
  private totalSteps(): number {
    return Math.round((this.plan.stepsPerBlock * this.plan.genLength) / this.plan.blockLength);
  }

  private splitBlockSchedule(): void {
    this.blockSchedule = lladaEvenSplit(this.maskedIn(this.blockStart, this.blockEnd).length, this.plan.stepsPerBlock);
  }
}
