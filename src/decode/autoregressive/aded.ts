/**
 * ADED: Adaptive Draft-Verification for Efficient LLM Decoding (Liu et al., AAAI 2025,
 * arXiv:2407.12021; reference: liuxukun2000/Adaptix `DraftRetriever/src/{lib.rs,mcts_sub.rs}`).
 *
 * The draft "model" is a tri-gram table (t−2, t−1) → {t: weight} that adapts during decoding:
 * after every step each tri-gram in the last 16 context tokens gains 0.04 (capped at 3.0). Drafts
 * come from a Monte-Carlo tree search from the last bigram: 150 iterations, paths of up to 3 draft
 * tokens (path length 4 with the root), the 24 heaviest continuations per node, PUCT selection
 * Q/N + (c1 + ln((N_p + c2 + 1)/c2)) · P · √N_p / (1 + N) with c1 = 32, c2 = 8 (the reference
 * code's constants; P is the node's share of its siblings' tri-gram weight, the leaf value the
 * path's tri-gram probability). The most visited distinct paths (≤ 24) form the draft tree,
 * verified in one target forward (tree attention on paradec-compiled models, else as batched
 * rows; see tree.ts) with exact match (lossless: identical to greedy at
 * temperature 0 and to the target's distribution when sampling; the paper's nucleus "typical"
 * acceptance for sampling is lossy and not used).
 *
 * The table starts from a corpus datastore (aded-datastore.ts: per-bigram probabilities, the 12
 * most probable continuations kept), as in the paper: `datastore=auto` (the default) uses
 * `aded-datastore.safetensors` next to the target's weights when there is one (the built-in
 * tiny-ar ships one, built by `paradec datastore` from task-suite text), `datastore=FILE` a given
 * one. Before each search the tri-grams inside the last 16 context tokens gain 0.04 (cap 3.0),
 * the reference's online update. Differences from the reference: the table is fresh for every
 * generation (the reference keeps one reader for a whole run, so its updates carry over from
 * prompt to prompt; per-request tables keep a request's output cost independent of what ran
 * before), and without any datastore (`datastore=none`, or a model that has none) the table
 * starts from the prompt's own tri-grams at weight 1 so that drafting can begin at once.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { OptionError } from '../../errors.js';
import type { ParamValues } from '../params.js';
import { DATASTORE_FILE, readDatastore } from './aded-datastore.js';
import { targetCheckpointDir } from './models.js';
import type { ArSession } from './session.js';
import type { AutoregressiveStrategy, AutoregressiveStrategyDefinition } from './types.js';
import { verifyPathsExact } from './multipath.js';
import { scorePaths } from './tree.js';

export interface AdedSettings {
  iterations: number;
  depth: number;
  topK: number;
  choices: number;
  c1: number;
  c2: number;
  window: number;
  increment: number;
  cap: number;
}

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

interface Node {
  token: number;
  p: number;
  /** probability of the path root → this node under the table */
  pathP: number;
  n: number;
  w: number;
  children: Node[] | null;
}

/** MCTS over the tri-gram table from the context's last bigram; returns distinct draft paths. */
export function mctsDrafts(table: TrigramTable, context: readonly number[], s: AdedSettings): number[][] {
  if (context.length < 2) return [];
  const root: Node = { token: context[context.length - 1]!, p: 1, pathP: 1, n: 0, w: 0, children: null };
  const before = context[context.length - 2]!;
  const expand = (node: Node, prev: number): void => {
    node.children = table.next(prev, node.token, s.topK).map(({ token, p }) => ({ token, p, pathP: node.pathP * p, n: 0, w: 0, children: null }));
  };
  for (let it = 0; it < s.iterations; it++) {
    const path: Node[] = [root];
    let node = root;
    while (node.children && node.children.length > 0 && path.length - 1 < s.depth) {
      const np = node.n;
      const explore = (s.c1 + Math.log((np + s.c2 + 1) / s.c2)) * Math.sqrt(np);
      let best: Node | undefined;
      let bestScore = -Infinity;
      for (const child of node.children) {
        const q = child.n > 0 ? child.w / child.n : 0;
        const u = (explore * child.p) / (1 + child.n);
        const score = q + u;
        if (score > bestScore) {
          bestScore = score;
          best = child;
        }
      }
      node = best!;
      path.push(node);
    }
    if (!node.children && path.length - 1 < s.depth) expand(node, path.length >= 2 ? path[path.length - 2]!.token : before);
    const value = node.pathP;
    for (const n of path) {
      n.n += 1;
      n.w += value;
    }
  }
  // distinct maximal visited paths, most visited leaves first
  const out: { path: number[]; n: number }[] = [];
  const walk = (node: Node, path: number[]): void => {
    const visited = (node.children ?? []).filter((c) => c.n > 0);
    if (visited.length === 0) {
      if (path.length > 0) out.push({ path, n: node.n });
      return;
    }
    for (const c of visited) walk(c, [...path, c.token]);
  };
  walk(root, []);
  out.sort((a, b) => b.n - a.n || b.path.length - a.path.length);
  return out.slice(0, s.choices).map((o) => o.path);
}

/** The datastore file `datastore` names for this target: null for none. */
export function resolveDatastore(datastore: string, session: ArSession): string | null {
  if (datastore === 'none') return null;
  if (datastore === 'auto') {
    const dir = targetCheckpointDir(session.model);
    const file = dir ? join(dir, DATASTORE_FILE) : null;
    return file && existsSync(file) ? file : null;
  }
  const file = existsSync(datastore) && statSync(datastore).isDirectory() ? join(datastore, DATASTORE_FILE) : datastore;
  if (!existsSync(file)) throw new OptionError(`aded: datastore ${file} not found (build one with \`paradec datastore --model DIR\`, or use datastore=none)`);
  return file;
}

/**
 * Loaded datastores, shared by every ADED instance of the process (a server creates one per
 * request): reading and indexing tiny-ar's takes ~30–100 ms. Keyed by file, modification time and
 * vocabulary; the few most recent are kept.
 */
const BASES = new Map<string, TrigramBase>();
const MAX_BASES = 4;

function loadBase(file: string, vocab: number): TrigramBase {
  const key = `${file}\u0000${statSync(file).mtimeMs}\u0000${vocab}`;
  let base = BASES.get(key);
  if (!base) {
    base = new TrigramBase(vocab, readDatastore(file, vocab));
    BASES.set(key, base);
    while (BASES.size > MAX_BASES) BASES.delete(BASES.keys().next().value!);
  }
  return base;
}

export function createAded(params: ParamValues): AutoregressiveStrategy {
  const datastore = params['datastore'] as string;
  let base: TrigramBase | null | undefined;
  const settings: AdedSettings = {
    iterations: params['iterations'] as number,
    depth: params['depth'] as number,
    topK: params['top_k'] as number,
    choices: params['choices'] as number,
    c1: 32,
    c2: 8,
    window: 16,
    increment: 0.04,
    cap: 3.0,
  };
  let table: TrigramTable | undefined;
  let current: ArSession | undefined;
  return {
    name: 'aded',
    async step(session) {
      if (session !== current || !table) {
        current = session;
        if (base === undefined) {
          const file = resolveDatastore(datastore, session);
          base = file ? loadBase(file, session.model.vocabSize) : null;
        }
        table = new TrigramTable(session.model.vocabSize, base ?? undefined);
        if (!base) {
          const t = session.tokens;
          for (let i = 2; i < t.length; i++) table.add(t[i - 2]!, t[i - 1]!, t[i]!, 1);
        }
      }
      // online update (reference `search`): every tri-gram inside the last `window` tokens
      const t = session.tokens;
      for (let i = Math.max(0, t.length - settings.window); i + 2 < t.length; i++) table.add(t[i]!, t[i + 1]!, t[i + 2]!, settings.increment, settings.cap);
      const room = session.draftRoom();
      const eos = session.model.eosTokenIds;
      let paths = room > 0 ? mctsDrafts(table, session.tokens, { ...settings, depth: Math.min(settings.depth, room) }) : [];
      paths = paths.map((p) => {
        const at = p.findIndex((x) => eos.includes(x));
        return at >= 0 ? p.slice(0, at + 1) : p;
      });
      const rows = paths.length > 0 ? paths : [[]];
      const scored = await scorePaths(session, rows);
      if (paths.length > 0) session.stats.verifies += 1;
      const verdict = verifyPathsExact(rows, scored.views);
      scored.commit(verdict.tokens, verdict.row);
      return { tokens: verdict.tokens, drafted: rows[verdict.row]!.length, accepted: verdict.accepted };
    },
  };
}

export const aded: AutoregressiveStrategyDefinition = {
  name: 'aded',
  family: 'autoregressive',
  summary: 'an online-updated tri-gram table drafts a tree by Monte-Carlo tree search; the target verifies it in one forward (tree attention, else batched rows)',
  paper: 'Liu et al., Adaptive Draft-Verification for Efficient LLM Decoding (ADED), AAAI 2025 (arXiv:2407.12021)',
  params: {
    iterations: { type: 'int', default: 150, min: 1, max: 10000, description: 'MCTS iterations per step' },
    depth: { type: 'int', default: 3, min: 1, max: 32, description: 'draft tokens per path (the reference\'s path length 4 includes the root)' },
    top_k: { type: 'int', default: 24, min: 1, max: 1024, description: 'continuations considered per node' },
    choices: { type: 'int', default: 24, min: 1, max: 256, description: 'draft paths verified per step (rows of the batched forward)' },
    datastore: { type: 'string', default: 'auto', description: `corpus tri-gram datastore: auto (${DATASTORE_FILE} next to the target's weights, if any), none, or a file / model directory` },
  },
  create: (params) => createAded(params),
};
