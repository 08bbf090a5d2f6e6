/**
 * The bench's arithmetic, on result rows alone (no model): percentiles, per-task and per-group
 * aggregates, the per-instance oracles, NFE as a multiple of the oracle's, work as a multiple of
 * the one-token-per-step baseline's, ETE's rounds bound, and the Pareto frontiers. Everything here is deterministic given the rows and their order.
 */
import { bitsToRoundsLowerBound } from '../decode/diffusion/ete.js';
import { isZeroEntropy, scoreSuite, TASK_NAMES, type TaskName } from '../tasks/suite.js';
import type { FrontierSet, GroupMetrics, ResultRow, SettingSummary, TaskGroup } from './types.js';

/** The τ at which the oracle rows' bits-to-rounds bound is reported (Fast-dLLM's default threshold). */
export const BOUND_TAU = 0.9;

export function groupOf(task: TaskName): TaskGroup {
  return isZeroEntropy(task) ? 'zero-entropy' : 'dependent';
}

/**
 * The q-quantile (0 ≤ q ≤ 1) by linear interpolation between closest ranks (numpy's default,
 * Hyndman–Fan type 7): position q·(n−1) in the sorted values. NaN for no values.
 */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const pos = q * (s.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
}

function sum(xs: readonly number[]): number {
  let s = 0;
  for (const x of xs) s += x;
  return s;
}

/**
 * Aggregate metrics of some rows (one setting): see GroupMetrics. The score counts every row;
 * forward passes, tokens and times only the rows that finished (not `stopped` at the cap, whose
 * counts are the cap's, not the decoder's).
 */
export function groupMetrics(rows: readonly ResultRow[]): GroupMetrics {
  const finished = rows.filter((r) => r.stopped === undefined);
  const n = finished.length;
  const nfe = sum(finished.map((r) => r.nfe));
  const work = sum(finished.map((r) => r.work));
  const draftWork = sum(finished.map((r) => r.draftWork ?? 0));
  const tokens = sum(finished.map((r) => r.tokens));
  const ms = finished.map((r) => r.ms);
  const totalMs = sum(ms);
  const scored = scoreSuite(rows.map((r) => ({ task: r.task, score: r.score })));
  return {
    instances: rows.length,
    tasks: Object.keys(scored.perTask).length,
    score: scored.suite,
    solved: rows.filter((r) => r.score >= 1).length,
    meanNfe: n ? nfe / n : NaN,
    meanWork: n ? work / n : NaN,
    meanDraftWork: n ? draftWork / n : NaN,
    workOverBaseline: ratioOfSums(finished.map((r) => [r.work, r.baselineWork])),
    tokensPerForward: nfe > 0 ? tokens / nfe : 0,
    tokensPerSecond: totalMs > 0 ? tokens / (totalMs / 1000) : 0,
    meanTokens: n ? tokens / n : NaN,
    meanMs: n ? totalMs / n : NaN,
    p50Ms: quantile(ms, 0.5),
    p95Ms: quantile(ms, 0.95),
    nfeOverOracle: ratioOfSums(finished.map((r) => [r.nfe, r.oracleNfe ?? null])),
  };
}

function key(...parts: string[]): string {
  return parts.join('\u0000');
}

/**
 * The per-instance oracles. Fills each row's `oracleNfe` (fewest forward passes of any solving run
 * of its model: every setting and the oracle strategy), `familyOracleNfe` (fewest of a solving
 * setting of its strategy) and `nfeOverOracle`, and returns the pseudo-rows:
 * - one `family-oracle` row per instance for every strategy with at least two settings: the
 *   solving setting with the fewest forward passes, or, when no setting solved the instance, the
 *   setting with the fewest forward passes (ParallelBench's oracle: the fewest steps that still
 *   give the best achievable score);
 * - one `model-oracle` row per instance and model, the same over all its runs.
 * Ties go to the earlier row. Rows are mutated in place.
 */
export function applyOracles(rows: ResultRow[]): ResultRow[] {
  const real = rows.filter((r) => r.kind === 'setting' || r.kind === 'oracle-strategy');
  const minSolved = (group: Map<string, ResultRow[]>, k: string): number | null => {
    const solved = (group.get(k) ?? []).filter((r) => r.score >= 1);
    return solved.length ? Math.min(...solved.map((r) => r.nfe)) : null;
  };
  const byModel = new Map<string, ResultRow[]>();
  const byFamily = new Map<string, ResultRow[]>();
  const settingsOf = new Map<string, Set<string>>();
  for (const r of real) {
    const mk = key(r.model, r.id);
    byModel.set(mk, [...(byModel.get(mk) ?? []), r]);
    if (r.kind === 'setting') {
      const fk = key(r.model, r.strategy, r.id);
      byFamily.set(fk, [...(byFamily.get(fk) ?? []), r]);
      const sk = key(r.model, r.strategy);
      settingsOf.set(sk, (settingsOf.get(sk) ?? new Set()).add(r.setting));
    }
  }
  for (const r of real) {
    r.oracleNfe = minSolved(byModel, key(r.model, r.id));
    r.familyOracleNfe = r.kind === 'setting' ? minSolved(byFamily, key(r.model, r.strategy, r.id)) : null;
    r.nfeOverOracle = r.oracleNfe ? r.nfe / r.oracleNfe : null;
  }
  const pick = (candidates: readonly ResultRow[]): ResultRow => {
    const solved = candidates.filter((r) => r.score >= 1);
    const pool = solved.length ? solved : candidates;
    let best = pool[0]!;
    for (const r of pool) if (r.nfe < best.nfe) best = r;
    return best;
  };
  const pseudo: ResultRow[] = [];
  // family oracles, in the order the strategies first appear
  for (const [fk, candidates] of byFamily) {
    const first = candidates[0]!;
    if ((settingsOf.get(key(first.model, first.strategy))?.size ?? 0) < 2) continue;
    const best = pick(candidates);
    const oracleNfe = minSolved(byModel, key(first.model, first.id));
    pseudo.push({
      ...best,
      kind: 'family-oracle',
      setting: `${first.model}/${first.strategy} (best setting per instance)`,
      label: `${first.strategy} (best setting per instance)`,
      params: {},
      gen: {},
      from: best.setting,
      oracleNfe,
      familyOracleNfe: minSolved(byFamily, fk),
      nfeOverOracle: oracleNfe ? best.nfe / oracleNfe : null,
      nll: undefined,
      nllTokens: undefined,
      roundsBound: undefined,
    });
  }
  for (const [mk, candidates] of byModel) {
    const first = candidates[0]!;
    const best = pick(candidates);
    const oracleNfe = minSolved(byModel, mk);
    pseudo.push({
      ...best,
      kind: 'model-oracle',
      strategy: 'best of all',
      setting: `${first.model}/best of all (per instance)`,
      label: 'best of all (per instance)',
      params: {},
      gen: {},
      from: best.setting,
      oracleNfe,
      familyOracleNfe: null,
      nfeOverOracle: oracleNfe ? best.nfe / oracleNfe : null,
      nll: undefined,
      nllTokens: undefined,
      roundsBound: undefined,
    });
  }
  return pseudo;
}

/**
 * ETE's bits-to-rounds bound per row: for a diffusion setting with a numeric `tau`, the bound at
 * f = 1 − tau from the instance's one-token-per-step likelihood (the oracle row of the same model
 * and instance carries `nll` and `nllTokens`). Oracle rows get theirs at τ = BOUND_TAU.
 */
export function applyRoundsBound(rows: ResultRow[]): void {
  const nll = new Map<string, { nll: number; n: number }>();
  for (const r of rows) {
    if (r.kind === 'oracle-strategy' && r.nll !== undefined && r.nllTokens !== undefined) nll.set(key(r.model, r.id), { nll: r.nll, n: r.nllTokens });
  }
  for (const r of rows) {
    const lik = nll.get(key(r.model, r.id));
    if (!lik || r.family !== 'diffusion') continue;
    if (r.kind === 'oracle-strategy') {
      r.roundsBound = bitsToRoundsLowerBound(lik.nll, lik.n, 1 - BOUND_TAU);
    } else if (r.kind === 'setting' && typeof r.params['tau'] === 'number') {
      r.nll = lik.nll;
      r.nllTokens = lik.n;
      r.roundsBound = bitsToRoundsLowerBound(lik.nll, lik.n, 1 - r.params['tau']);
    }
  }
}

/**
 * The one-token-per-step baseline's work on each instance, on every row of the same model
 * (`baselineWork`, `workOverBaseline`): for a diffusion model the oracle row's reference run
 * (`confidence` k = 1 at the run's base generation options, `referenceWork`), for an
 * autoregressive model its `greedy` setting (the first, when a sweep made several). Without the
 * oracle run (`--no-oracle`) or a greedy setting, a model's rows have none. Rows are mutated in place.
 */
export function applyBaseline(rows: ResultRow[]): void {
  const baseline = new Map<string, number>();
  for (const r of rows) {
    const k = key(r.model, r.id);
    if (baseline.has(k)) continue;
    if (r.kind === 'oracle-strategy' && r.referenceWork !== undefined) baseline.set(k, r.referenceWork);
    else if (r.kind === 'setting' && r.family === 'autoregressive' && r.strategy === 'greedy' && r.stopped === undefined) baseline.set(k, r.work);
  }
  for (const r of rows) {
    const b = baseline.get(key(r.model, r.id)) ?? null;
    r.baselineWork = b;
    r.workOverBaseline = b ? r.work / b : null;
  }
}

function ratioOfSums(pairs: readonly [number, number | null][]): number | null {
  const kept = pairs.filter((p): p is [number, number] => p[1] !== null && p[1] > 0);
  if (kept.length === 0) return null;
  return sum(kept.map((p) => p[0])) / sum(kept.map((p) => p[1]));
}

/** One summary per setting (in the order settings first appear in `rows`). */
export function summarizeSettings(rows: readonly ResultRow[]): SettingSummary[] {
  const bySetting = new Map<string, ResultRow[]>();
  for (const r of rows) bySetting.set(r.setting, [...(bySetting.get(r.setting) ?? []), r]);
  const out: SettingSummary[] = [];
  for (const [setting, rs] of bySetting) {
    const first = rs[0]!;
    const perTask: SettingSummary['perTask'] = {};
    for (const task of TASK_NAMES) {
      const t = rs.filter((r) => r.task === task);
      if (t.length) perTask[task] = groupMetrics(t);
    }
    const zero = rs.filter((r) => r.group === 'zero-entropy');
    const dep = rs.filter((r) => r.group === 'dependent');
    const bounded = rs.filter((r) => r.roundsBound !== undefined && r.nll !== undefined && r.stopped === undefined);
    const scheduled = rs.filter((r) => r.schedule !== undefined && r.stopped === undefined).map((r) => r.schedule!);
    const tau = first.kind === 'oracle-strategy' ? BOUND_TAU : typeof first.params['tau'] === 'number' ? first.params['tau'] : null;
    out.push({
      kind: first.kind,
      model: first.model,
      family: first.family,
      strategy: first.strategy,
      setting,
      label: first.label,
      params: first.params,
      gen: first.gen,
      overall: groupMetrics(rs),
      zeroEntropy: zero.length ? groupMetrics(zero) : null,
      dependent: dep.length ? groupMetrics(dep) : null,
      perTask,
      stopped: rs.filter((r) => r.stopped !== undefined).length,
      nfeOverOracle: ratioOfSums(rs.filter((r) => r.stopped === undefined).map((r) => [r.nfe, r.oracleNfe])),
      nfeOverFamilyOracle: first.kind === 'setting' ? ratioOfSums(rs.filter((r) => r.stopped === undefined).map((r) => [r.nfe, r.familyOracleNfe])) : null,
      roundsBound:
        tau !== null && bounded.length
          ? {
              tau,
              meanBound: sum(bounded.map((r) => r.roundsBound!)) / bounded.length,
              meanNfe: sum(bounded.map((r) => r.nfe)) / bounded.length,
              meanNll: sum(bounded.map((r) => r.nll!)) / bounded.length,
              instances: bounded.length,
            }
          : null,
      schedule: scheduled.length
        ? {
            steps: scheduled.filter((s) => s.kind === 'steps').length,
            strategy: scheduled.filter((s) => s.kind === 'strategy').length,
            mixed: scheduled.filter((s) => s.kind === 'mixed').length,
            decisionSteps: sum(scheduled.map((s) => s.baseSteps + s.strategySteps)),
            oneTokenSteps: sum(scheduled.map((s) => s.oneTokenSteps)),
            eosFill: scheduled[0]!.eosFill,
          }
        : null,
    });
  }
  return out;
}

/**
 * The Pareto frontier: items no other item beats on both coordinates. y is always "higher is
 * better"; x is higher-better or lower-better. An item is dominated by one at least as good on both
 * and strictly better on one; of identical points only the first is kept. Items with a non-finite
 * coordinate are left out. Returned sorted by x ascending (ties: y descending).
 */
export function paretoFrontier<T>(items: readonly T[], x: (t: T) => number, y: (t: T) => number, xBetter: 'higher' | 'lower'): T[] {
  const pts = items.map((item, i) => ({ item, i, x: x(item), y: y(item) })).filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
  const better = (a: number, b: number) => (xBetter === 'higher' ? a > b : a < b);
  const atLeast = (a: number, b: number) => a === b || better(a, b);
  const kept = pts.filter((p) =>
    !pts.some((q) => {
      if (q === p) return false;
      if (!atLeast(q.x, p.x) || q.y < p.y) return false;
      if (better(q.x, p.x) || q.y > p.y) return true;
      return q.i < p.i; // identical point: the first one stays
    }),
  );
  kept.sort((a, b) => a.x - b.x || b.y - a.y);
  return kept.map((p) => p.item);
}

/**
 * Frontiers over the real decoders (kind `setting`), per task group: of score vs tokens per
 * forward and vs wall time all models together, of score vs work per model.
 */
export function frontiers(settings: readonly SettingSummary[]): { overall: FrontierSet; zeroEntropy: FrontierSet; dependent: FrontierSet } {
  const real = settings.filter((s) => s.kind === 'setting');
  const of = (pick: (s: SettingSummary) => SettingSummary['overall'] | null): FrontierSet => {
    const with_ = real.filter((s) => pick(s)?.score != null);
    return {
      tokensPerForward: paretoFrontier(with_, (s) => pick(s)!.tokensPerForward, (s) => pick(s)!.score!, 'higher').map((s) => s.setting),
      wallTime: paretoFrontier(with_, (s) => pick(s)!.meanMs, (s) => pick(s)!.score!, 'lower').map((s) => s.setting),
      work: [...new Set(with_.map((s) => s.model))].flatMap((model) =>
        paretoFrontier(with_.filter((s) => s.model === model), (s) => pick(s)!.meanWork, (s) => pick(s)!.score!, 'lower').map((s) => s.setting),
      ),
    };
  };
  return { overall: of((s) => s.overall), zeroEntropy: of((s) => s.zeroEntropy), dependent: of((s) => s.dependent) };
}
