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
import { paramSpecs, type ParamValuesOf } from '../params.js';
import { DATASTORE_FILE } from './aded-datastore.js';
import { TrigramTable, type TrigramBase } from './aded-trigrams.js';
import type { ArSession } from './session.js';
import { defineAutoregressiveStrategy, type AutoregressiveStrategy } from './types.js';
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

function createAded(params: ParamValuesOf<typeof ADED_PARAMS>): Omit<AutoregressiveStrategy, 'name'> {
  const datastore = params.datastore;
  let base: TrigramBase | null | undefined;
  const settings: AdedSettings = {
    iterations: params.iterations,
    depth: params.depth,
    topK: params.top_k,
    choices: params.choices,
    c1: 32,
    c2: 8,
    window: 16,
    increment: 0.04,
    cap: 3.0,
  };
  let table: TrigramTable | undefined;
  let current: ArSession | undefined;
  return {
    async step(session) {
      if (session !== current || !table) {
        current = session;
        if (base === undefined) base = datastore === 'none' ? null : await session.models.trigramDatastore('aded', datastore);
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

const ADED_PARAMS = paramSpecs({
  iterations: { type: 'int', default: 150, min: 1, max: 10000, description: 'MCTS iterations per step' },
  depth: { type: 'int', default: 3, min: 1, max: 32, description: 'draft tokens per path (the reference\'s path length 4 includes the root)' },
  top_k: { type: 'int', default: 24, min: 1, max: 1024, description: 'continuations considered per node' },
  choices: { type: 'int', default: 24, min: 1, max: 256, description: 'draft paths verified per step (rows of the batched forward)' },
  datastore: { type: 'string', default: 'auto', description: `corpus tri-gram datastore: auto (${DATASTORE_FILE} next to the target's weights, if any), none, or a file / model directory`, names: 'datastore' },
});

export const aded = defineAutoregressiveStrategy({
  name: 'aded',
  summary: 'an online-updated tri-gram table drafts a tree by Monte-Carlo tree search; the target verifies it in one forward (tree attention, else batched rows)',
  paper: 'Liu et al., Adaptive Draft-Verification for Efficient LLM Decoding (ADED), AAAI 2025 (arXiv:2407.12021)',
  params: ADED_PARAMS,
  create: createAded,
});
