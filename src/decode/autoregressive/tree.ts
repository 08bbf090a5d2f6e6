/**
 * Tree verification of several draft paths in one target forward (tree attention). The paths are
 * merged into a trie whose shared prefixes are computed once; the pending tokens (the last
 * committed token, or the whole prompt at first) form a chain in front of it. Every node attends
 * to the cached past and its ancestors, at position past + depth, so each node's outputs are those
 * of a plain forward over its own path. After verification, the kept path's keys/values are
 * compacted into a linear cache (equal to a fresh prefill of the accepted prefix).
 *
 * On a model without tree support (`supportsTree`), the paths are verified as the rows of one
 * batched forward instead (`ArSession.scoreRows`), with the same views and verdicts.
 */
import { supportsTree, type DecodeHeadOutput, type KvCache, type TreeCausalModel } from '../../runtime/types.js';
import type { ArSession } from './session.js';
import { targetView, type TargetView } from './verify.js';

/** A packed token tree: the pending chain, then trie nodes of the paths. */
export interface PackedTree {
  tokens: number[];
  /** parent node of each node (-1: the first pending token) */
  parent: number[];
  /** depth of each node (0: the first pending token) */
  depth: number[];
  /** per path: its nodes, root first (path position i ↦ node pathNodes[r][i]) */
  pathNodes: number[][];
  /** number of pending tokens (nodes 0..pending−1) */
  pending: number;
}

export function packTree(pending: readonly number[], paths: readonly (readonly number[])[]): PackedTree {
  const tokens = [...pending];
  const parent = pending.map((_, i) => i - 1);
  const depth = pending.map((_, i) => i);
  const children = new Map<string, number>();
  const pathNodes = paths.map((path) => {
    let at = pending.length - 1;
    return path.map((t) => {
      const key = `${at}:${t}`;
      let node = children.get(key);
      if (node === undefined) {
        node = tokens.length;
        tokens.push(t);
        parent.push(at);
        depth.push(depth[at]! + 1);
        children.set(key, node);
      }
      at = node;
      return node;
    });
  });
  return { tokens, parent, depth, pathNodes, pending: pending.length };
}

/** [n, n] ancestor-or-self mask of a packed tree. */
export function treeMask(tree: PackedTree): Uint8Array {
  const n = tree.tokens.length;
  const mask = new Uint8Array(n * n);
  for (let i = 0; i < n; i++) for (let j = i; j >= 0; j = tree.parent[j]!) mask[i * n + j] = 1;
  return mask;
}

/** Paths scored in one target forward, one target view per path. */
export interface ScoredPaths {
  views: TargetView[];
  /** commit `tokens` (kept drafts of path `row`, then the correction / bonus token) */
  commit(tokens: readonly number[], row: number): void;
}

/** The view of a path in a tree head: path position i is the prediction after i kept drafts. */
function nodeView(session: ArSession, head: DecodeHeadOutput, tree: PackedTree, row: number): TargetView {
  const at = (i: number): number => (i === 0 ? tree.pending - 1 : tree.pathNodes[row]![i - 1]!);
  const base = targetView(session, head, 0);
  return { p: (i) => base.p(at(i)), pick: (i) => base.pick(at(i)) };
}

async function scoreTree(session: ArSession, model: TreeCausalModel, paths: readonly (readonly number[])[]): Promise<ScoredPaths> {
  const past = session.cache.length;
  const tree = packTree(session.tokens.slice(past), paths);
  const { head, cache } = await model.forwardTree(
    Int32Array.from(tree.tokens),
    Int32Array.from(tree.depth, (d) => past + d),
    treeMask(tree),
    session.cache,
    { logits: !session.greedy },
  );
  session.nfe += 1;
  return {
    views: paths.map((_, r) => nodeView(session, head, tree, r)),
    commit(tokens, row) {
      const kept = tree.pathNodes[row]!.slice(0, tokens.length - 1);
      const nodes = [...Array.from({ length: tree.pending }, (_, i) => i), ...kept];
      const compact: KvCache = model.compactTree(cache, past, nodes);
      session.commit(tokens, compact);
      // the whole tree's cache is done with (the compaction is queued before the release)
      if (compact !== cache) model.releaseCache?.(cache);
    },
  };
}

/**
 * Score draft paths in one target forward: a tree forward when the model has one, else batched
 * rows. Either way path r's view at position i is the target's prediction after the pending
 * tokens and paths[r][0..i).
 */
export async function scorePaths(session: ArSession, paths: readonly (readonly number[])[]): Promise<ScoredPaths> {
  if (supportsTree(session.model)) return scoreTree(session, session.model, paths);
  const scored = await session.scoreRows(paths);
  return {
    views: paths.map((_, r) => targetView(session, scored.head, r * scored.width + scored.first)),
    commit: (tokens, row) => session.commitRow(tokens, scored, row),
  };
}
