/**
 * ADED's tri-gram tables (Liu et al., AAAI 2025, arXiv:2407.12021): the corpus base loaded from a
 * datastore (aded-datastore.ts), shared read-only by every generation, and one generation's table
 * on top of it, which its online updates write to (see aded.ts).
 *
 * Weights are kept raw, as the reference's `Reader` keeps them (corpus probabilities, plus 0.04 per
 * online update): its search reads them as they are — a node's prior P, the rollout's sampling
 * weights and the greedy extension — never as shares of their row.
 */

/** A continuation of a bigram with its raw weight. */
export interface Continuation {
  token: number;
  w: number;
}

/** (a, b) → {c: weight}: a corpus base shared by every generation, read-only. */
export class TrigramBase {
  readonly rows = new Map<number, Map<number, number>>();
  private readonly sortedRows = new Map<number, Continuation[]>();
  constructor(readonly vocab: number, entries: Iterable<{ a: number; b: number; c: number; p: number }>) {
    for (const e of entries) {
      const k = e.a * vocab + e.b;
      let row = this.rows.get(k);
      if (!row) this.rows.set(k, (row = new Map()));
      row.set(e.c, (row.get(e.c) ?? 0) + e.p);
    }
  }

  /** A row's continuations in the tables' order (computed once). */
  sorted(key: number): Continuation[] {
    let list = this.sortedRows.get(key);
    if (!list) {
      const row = this.rows.get(key);
      list = row ? ordered(row) : [];
      this.sortedRows.set(key, list);
    }
    return list;
  }
}

/**
 * A row's continuations heaviest first, ties to the lower id. The reference walks a row in Rust
 * hash-map order (arbitrary, different in every process); paradec fixes this order so that a
 * search is reproducible.
 */
function ordered(row: ReadonlyMap<number, number>): Continuation[] {
  return [...row.entries()].sort((x, y) => y[1] - x[1] || x[0] - y[0]).map(([token, w]) => ({ token, w }));
}

/**
 * (a, b) → {c: weight}: one generation's table. Weights are the base's (if any) plus this
 * generation's additions, each entry capped where `add` says so; the base is never written, so a
 * generation starts from the corpus without copying it. `row` is memoised per bigram until that
 * row changes (a tree search asks for the same rows many times).
 */
export class TrigramTable {
  private readonly own = new Map<number, Map<number, number>>();
  private readonly memo = new Map<number, Continuation[]>();
  constructor(
    private readonly vocab: number,
    private readonly base?: TrigramBase,
  ) {}

  private key(a: number, b: number): number {
    return a * this.vocab + b;
  }

  add(a: number, b: number, c: number, amount: number, cap = Number.POSITIVE_INFINITY): void {
    const k = this.key(a, b);
    let row = this.own.get(k);
    if (!row) this.own.set(k, (row = new Map()));
    const was = row.get(c) ?? this.base?.rows.get(k)?.get(c) ?? 0;
    row.set(c, Math.min(cap, was + amount));
    this.memo.delete(k);
  }

  /** Every continuation of (a, b) with its raw weight, heaviest first (ties: lower id first). */
  row(a: number, b: number): readonly Continuation[] {
    const key = this.key(a, b);
    const hit = this.memo.get(key);
    if (hit) return hit;
    const own = this.own.get(key);
    let list: Continuation[];
    if (!own) list = this.base ? this.base.sorted(key) : [];
    else {
      const merged = new Map<number, number>(this.base?.rows.get(key) ?? []);
      for (const [c, w] of own) merged.set(c, w);
      list = ordered(merged);
    }
    this.memo.set(key, list);
    return list;
  }

  weight(a: number, b: number, c: number): number {
    const k = this.key(a, b);
    return this.own.get(k)?.get(c) ?? this.base?.rows.get(k)?.get(c) ?? 0;
  }
}
