/**
 * ADED's tri-gram tables (Liu et al., AAAI 2025, arXiv:2407.12021): the corpus base loaded from a
 * datastore (aded-datastore.ts), shared read-only by every generation, and one generation's table
 * on top of it, which its online updates write to (see aded.ts).
 */

/** (a, b) → {c: weight}: a corpus base shared by every generation, read-only. */
export class TrigramBase {
  readonly rows = new Map<number, Map<number, number>>();
  private readonly sortedRows = new Map<number, { token: number; p: number }[]>();
  constructor(readonly vocab: number, entries: Iterable<{ a: number; b: number; c: number; p: number }>) {
    for (const e of entries) {
      const k = e.a * vocab + e.b;
      let row = this.rows.get(k);
      if (!row) this.rows.set(k, (row = new Map()));
      row.set(e.c, (row.get(e.c) ?? 0) + e.p);
    }
  }

  /** A row's continuations, heaviest first, as shares of the row (computed once). */
  sorted(key: number): { token: number; p: number }[] {
    let list = this.sortedRows.get(key);
    if (!list) {
      const row = this.rows.get(key);
      list = row ? shares(row) : [];
      this.sortedRows.set(key, list);
    }
    return list;
  }
}

/** Continuations heaviest first (ties: lower id first), each with its share of the row's weight. */
function shares(row: ReadonlyMap<number, number>): { token: number; p: number }[] {
  let total = 0;
  for (const w of row.values()) total += w;
  return [...row.entries()].sort((x, y) => y[1] - x[1] || x[0] - y[0]).map(([token, w]) => ({ token, p: w / total }));
}

/**
 * (a, b) → {c: weight}: one generation's table. Weights are the base's (if any) plus this
 * generation's additions, each entry capped where `add` says so; the base is never written, so a
 * generation starts from the corpus without copying it. `next` is memoised per bigram until that
 * row changes (a tree search asks for the same rows many times).
 */
export class TrigramTable {
  private readonly own = new Map<number, Map<number, number>>();
  private readonly memo = new Map<number, { k: number; list: { token: number; p: number }[] }>();
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

  /** The `k` heaviest continuations of (a, b), heaviest first, with their share of the row. */
  next(a: number, b: number, k: number): { token: number; p: number }[] {
    const key = this.key(a, b);
    const hit = this.memo.get(key);
    if (hit && hit.k === k) return hit.list;
    const own = this.own.get(key);
    let list: { token: number; p: number }[];
    if (!own) list = this.base ? this.base.sorted(key).slice(0, k) : [];
    else {
      const merged = new Map<number, number>(this.base?.rows.get(key) ?? []);
      for (const [c, w] of own) merged.set(c, w);
      list = shares(merged).slice(0, k);
    }
    this.memo.set(key, { k, list });
    return list;
  }

  weight(a: number, b: number, c: number): number {
    const k = this.key(a, b);
    return this.own.get(k)?.get(c) ?? this.base?.rows.get(k)?.get(c) ?? 0;
  }
}
