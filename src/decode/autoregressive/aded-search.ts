/**
 * ADED's draft search (Liu et al., AAAI 2025, arXiv:2407.12021), rule for rule as the reference
 * code runs it: liuxukun2000/Adaptix `DraftRetriever/src/mcts_sub.rs` (`MCTS::run`,
 * `extract_sentences`) and `DraftRetriever/src/lib.rs` (`Reader::search`, `cut_to_choices`,
 * `generate_draft_buffers`).
 *
 * A node is a bigram (prev, token); the root is the context's last bigram. Each of `iterations`
 * rounds:
 * 1. Selection: from the root, while the node has continuations in the table and has been expanded
 *    and the path is shorter than the sentence length (depth + 1 with the root), go to the child
 *    with the highest PUCT score Q/N + (c1 + ln((N_p + c2 + 1)/c2)) · P · √N_p / (1 + N), c1 = 32,
 *    c2 = 8, where P is the child's raw tri-gram weight (not a share of its row) and an unvisited
 *    child scores +∞ (ties: the first child).
 * 2. Expansion: a node with continuations, not yet expanded, gets every continuation as a child at
 *    once (not only the heaviest ones), and the round moves on to its last child.
 * 3. Rollout: the path is extended up to the sentence length by sampling each next token in
 *    proportion to its tri-gram weight (the session's random source).
 * 4. Value: 1 + Σ over the rollout's consecutive states (a, b), (b, c) of weight(a, b → b). This
 *    is what the reference computes (`get(&state[i]).get(&state[i + 1].0)`: the next state's first
 *    token, which is the current bigram's own second token), so the value is 1 plus the weights of
 *    immediate-repeat tri-grams along the path, and 1 on a path without one; the search is steered
 *    by P and the visit counts. paradec keeps the reference's value as written.
 * 5. Backpropagation from the round's last tree node to the root: visits + 1, score + value.
 *
 * Drafts: every tree node (visited or not, root included) is a sentence — its root-to-node tokens —
 * ranked by visits, most first (ties: depth-first order); the `top_k` (24) first are kept, and each
 * one of two tokens or more gets one greedy extension: the heaviest continuation of its last
 * bigram. Dropping the root token, the sentences of one token or more are the draft paths (so a
 * path holds up to depth + 1 tokens), duplicates removed. Then `cut_to_choices`: while the sum
 * over the paths of each path's count of distinct tokens exceeds `choices`, the path with the most
 * distinct tokens is dropped. The kept paths form the draft tree; the reference keeps at most 64
 * tree nodes, the shallowest (`generate_draft_buffers`), which cuts a path at its first dropped node.
 *
 * Where the reference is arbitrary, paradec fixes a rule so that a search is reproducible: a
 * row's continuations are walked heaviest first, ties to the lower id (the reference: Rust
 * hash-map order, so "the last child" an expansion moves to is here the lightest, and the
 * greedy extension's ties go to the lower id); among paths of equal distinct-token counts
 * `cut_to_choices` drops the less visited first (the reference: hash-set order).
 */
import type { RandomSource } from '../diffusion/types.js';
import type { Continuation, TrigramTable } from './aded-trigrams.js';

export interface AdedSearchSettings {
  /** MCTS rounds per search (the reference: 150) */
  iterations: number;
  /** draft tokens from the tree: the reference's sentence length 4 minus the root */
  depth: number;
  /** most visited tree nodes turned into sentences (the reference's `top_k`, 24) */
  topK: number;
  /** cap on Σ distinct tokens per path over the kept paths (the reference's `choices`) */
  choices: number;
  c1: number;
  c2: number;
}

/** Tree nodes the reference's draft buffers hold at most (`generate_draft_buffers`). */
export const MAX_TREE_NODES = 64;

interface Node {
  /** the bigram (prev, token) this node stands for */
  prev: number;
  token: number;
  parent: Node | null;
  children: Node[];
  visits: number;
  score: number;
  /** the bigram's continuations in the table (the reference's `untried_words`, never emptied) */
  continuations: readonly Continuation[];
  /** raw tri-gram weight of (parent's bigram → token); 0 for the root */
  p: number;
}

function node(table: TrigramTable, prev: number, token: number, parent: Node | null, p: number): Node {
  return { prev, token, parent, children: [], visits: 0, score: 0, continuations: table.row(prev, token), p };
}

/**
 * The reference's `select_child`: the highest `putc_score` above 0, ties to the first child. The
 * score is Q/N + (c1 + ln((N_p + c2 + 1)/c2)) · P · √N_p / (1 + N), +∞ for an unvisited child.
 */
function selectChild(n: Node, s: AdedSearchSettings): Node {
  const explore = (s.c1 + Math.log((n.visits + s.c2 + 1) / s.c2)) * Math.sqrt(n.visits);
  let best = n.children[0]!;
  let bestScore = 0;
  for (const child of n.children) {
    const score = child.visits === 0 ? Number.POSITIVE_INFINITY : child.score / child.visits + (explore * child.p) / (1 + child.visits);
    if (score > bestScore) {
      bestScore = score;
      best = child;
    }
  }
  return best;
}

/** A token drawn in proportion to the row's weights (the reference's rollout step). */
function drawWeighted(row: readonly Continuation[], rng: RandomSource): number {
  let total = 0;
  for (const c of row) total += c.w;
  const u = rng.float();
  let cumulative = 0;
  for (const c of row) {
    cumulative += c.w / total;
    if (u <= cumulative) return c.token;
  }
  return row[row.length - 1]!.token;
}

interface Bigram {
  prev: number;
  token: number;
}

/** One MCTS round: selection, expansion, rollout, value, backpropagation. */
function round(root: Node, table: TrigramTable, s: AdedSearchSettings, rng: RandomSource): void {
  const sentenceLength = s.depth + 1;
  let at = root;
  const state: Bigram[] = [root];
  let end = false;
  while (at.continuations.length > 0 && at.children.length > 0 && !end) {
    at = selectChild(at, s);
    state.push(at);
    if (state.length === sentenceLength) end = true;
  }
  if (at.continuations.length > 0 && !end) {
    for (const c of at.continuations) at.children.push(node(table, at.token, c.token, at, table.weight(at.prev, at.token, c.token)));
    at = at.children[at.children.length - 1]!;
    state.push(at);
  }
  while (state.length < sentenceLength) {
    const last = state[state.length - 1]!;
    const row = table.row(last.prev, last.token);
    if (row.length === 0) break;
    state.push({ prev: last.token, token: drawWeighted(row, rng) });
  }
  let value = 1;
  for (let i = 0; i + 1 < state.length; i++) value += table.weight(state[i]!.prev, state[i]!.token, state[i + 1]!.prev);
  for (let n: Node | null = at; n; n = n.parent) {
    n.visits += 1;
    n.score += value;
  }
}

/**
 * The search's ranked sentences as draft paths (root token dropped, greedy extension appended),
 * before `cut_to_choices`: the reference's `MCTS::run` plus `search`'s filter and de-duplication.
 */
export function searchPaths(table: TrigramTable, context: readonly number[], s: AdedSearchSettings, rng: RandomSource): number[][] {
  if (context.length < 2) return [];
  const root = node(table, context[context.length - 2]!, context[context.length - 1]!, null, 0);
  for (let i = 0; i < s.iterations; i++) round(root, table, s, rng);
  // every node in depth-first order (the reference's `extract_sentences`), then by visits
  const nodes: Node[] = [];
  const extract = (n: Node, depth: number): void => {
    nodes.push(n);
    if (depth + 1 > s.depth + 1 || n.children.length === 0) return;
    for (const child of n.children) extract(child, depth + 1);
  };
  extract(root, 0);
  nodes.sort((a, b) => b.visits - a.visits); // stable: ties keep depth-first order
  const tokensOf = (n: Node): number[] => {
    const tokens: number[] = [];
    for (let at: Node | null = n; at; at = at.parent) tokens.push(at.token);
    return tokens.reverse();
  };
  const paths: number[][] = [];
  const seen = new Set<string>();
  for (const n of nodes.slice(0, s.topK)) {
    const tokens = tokensOf(n);
    if (tokens.length < 2) continue; // the root alone: no draft token
    const best = table.row(tokens[tokens.length - 2]!, tokens[tokens.length - 1]!)[0];
    const path = best ? [...tokens.slice(1), best.token] : tokens.slice(1);
    const key = path.join(',');
    if (seen.has(key)) continue;
    seen.add(key);
    paths.push(path);
  }
  return paths;
}

/**
 * The reference's `cut_to_choices`: while Σ (distinct tokens of each path) > `choices`, drop the
 * path with the most distinct tokens (ties: the later, less visited one). Kept paths keep their order.
 */
export function cutToChoices(paths: readonly (readonly number[])[], choices: number): number[][] {
  const counts = paths.map((p) => new Set(p).size);
  let total = counts.reduce((a, b) => a + b, 0);
  const order = paths.map((_, i) => i).sort((a, b) => counts[b]! - counts[a]! || b - a);
  const dropped = new Set<number>();
  for (const i of order) {
    if (total <= choices) break;
    total -= counts[i]!;
    dropped.add(i);
  }
  return paths.filter((_, i) => !dropped.has(i)).map((p) => [...p]);
}

/**
 * The reference's tree-buffer cap: at most `maxNodes` trie nodes, the shallowest first (ties:
 * first seen); a path ends before its first node that is not kept.
 */
export function capTreeNodes(paths: readonly (readonly number[])[], maxNodes = MAX_TREE_NODES): number[][] {
  const nodes = new Map<string, { depth: number; order: number }>();
  for (const p of paths) for (let d = 0; d < p.length; d++) {
    const key = p.slice(0, d + 1).join(',');
    if (!nodes.has(key)) nodes.set(key, { depth: d, order: nodes.size });
  }
  if (nodes.size <= maxNodes) return paths.map((p) => [...p]);
  const kept = new Set([...nodes.entries()].sort((a, b) => a[1].depth - b[1].depth || a[1].order - b[1].order).slice(0, maxNodes).map(([k]) => k));
  const out: number[][] = [];
  const seen = new Set<string>();
  for (const p of paths) {
    let n = 0;
    while (n < p.length && kept.has(p.slice(0, n + 1).join(','))) n++;
    const key = p.slice(0, n).join(',');
    if (n > 0 && !seen.has(key)) {
      seen.add(key);
      out.push(p.slice(0, n));
    }
  }
  return out;
}

/** The draft tree of one step: search, `cut_to_choices`, the tree-node cap. */
export function adedDrafts(table: TrigramTable, context: readonly number[], s: AdedSearchSettings, rng: RandomSource): number[][] {
  return capTreeNodes(cutToChoices(searchPaths(table, context, s, rng), s.choices));
}
