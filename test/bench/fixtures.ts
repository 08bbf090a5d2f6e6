/** Hand-made result rows for the bench's aggregation tests. */
import { groupOf } from '../../src/bench/stats.js';
import type { ResultRow } from '../../src/bench/types.js';
import type { TaskName } from '../../src/tasks/suite.js';

export function row(p: Partial<ResultRow> & { setting: string; id: string; score: number; nfe: number }): ResultRow {
  const task = (p.task ?? p.id.replace(/-\d+-\d+$/, '')) as TaskName;
  const strategy = p.strategy ?? p.setting.split(/[ /]/)[1] ?? 'x';
  return {
    kind: 'setting',
    model: 'm',
    family: 'diffusion',
    strategy,
    label: p.setting.slice(p.setting.indexOf('/') + 1),
    params: {},
    gen: {},
    task,
    group: groupOf(task),
    prompt: '',
    output: '',
    tokens: 0,
    tokensPerForward: 0,
    ms: 0,
    work: 0,
    oracleNfe: null,
    familyOracleNfe: null,
    nfeOverOracle: null,
    baselineWork: null,
    workOverBaseline: null,
    ...p,
  };
}

/**
 * Model `m`, three instances (copy-0-0 and copy-0-1 zero-entropy, shuffle-0-0 dependent):
 *   A = threshold tau=0.9, B = threshold tau=0.5, C = confidence k=1, O = the oracle strategy.
 * Work: a canvas of 30 positions per forward pass, B's passes carry 5 canvases each (a batched
 * candidate forward); O's one-token-per-step reference run is C's (referenceWork = C's work).
 * score/nfe/tokens/ms per instance:
 *            copy-0-0         copy-0-1         shuffle-0-0
 *   A        1 / 10 / 20 / 100  1 / 8 / 16 / 80    0 / 12 / 12 / 120
 *   B        1 / 4 / 20 / 40    0 / 3 / 16 / 30    1 / 6 / 12 / 60
 *   C        1 / 20 / 20 / 200  1 / 16 / 16 / 160  0 / 12 / 12 / 120
 *   O        1 / 5 / 20 / 50    1 / 2 / 16 / 20    0 / 9 / 12 / 90
 */
export function fixtureRows(): ResultRow[] {
  const ids = ['copy-0-0', 'copy-0-1', 'shuffle-0-0'];
  const tokens = [20, 16, 12];
  const table: [string, string, Record<string, number>, [number, number, number][]][] = [
    ['m/threshold tau=0.9', 'threshold', { tau: 0.9 }, [[1, 10, 100], [1, 8, 80], [0, 12, 120]]],
    ['m/threshold tau=0.5', 'threshold', { tau: 0.5 }, [[1, 4, 40], [0, 3, 30], [1, 6, 60]]],
    ['m/confidence k=1', 'confidence', { k: 1 }, [[1, 20, 200], [1, 16, 160], [0, 12, 120]]],
  ];
  const rows: ResultRow[] = [];
  for (const [setting, strategy, params, cells] of table) {
    const canvases = setting === 'm/threshold tau=0.5' ? 5 : 1;
    cells.forEach(([score, nfe, ms], i) => rows.push(row({ setting, strategy, params, id: ids[i]!, score, nfe, work: 30 * canvases * nfe, ms, tokens: tokens[i]!, tokensPerForward: tokens[i]! / nfe })));
  }
  const oracle: [number, number, number][] = [[1, 5, 50], [1, 2, 20], [0, 9, 90]];
  const reference = [20, 16, 12];
  oracle.forEach(([score, nfe, ms], i) =>
    rows.push(row({ kind: 'oracle-strategy', setting: 'm/oracle', strategy: 'oracle', label: 'oracle', id: ids[i]!, score, nfe, work: 30 * nfe, referenceWork: 30 * reference[i]!, ms, tokens: tokens[i]!, nll: 2 + i, nllTokens: tokens[i]! })),
  );
  return rows;
}
