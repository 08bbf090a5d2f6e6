/**
 * The strategy tables of the docs are generated from the registry: this fails when a strategy's
 * name, summary, paper or parameters changed without the docs (or the docs were edited by hand).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeStrategies } from '../../src/decode/describe.js';
import { REGENERATE_COMMAND, STRATEGY_DOCS, STRATEGY_FAMILIES, strategyTable, tableMarkers, withStrategyTable } from '../../src/cli/strategy-docs.js';
import { PACKAGE_ROOT } from '../../src/model/locate.js';

/** The cells of a markdown table row (split at the `|` that are not escaped). */
function cells(row: string): string[] {
  return row
    .slice(1, -1)
    .split(/(?<!\\)\|/)
    .map((c) => c.trim());
}

for (const family of STRATEGY_FAMILIES) {
  const doc = STRATEGY_DOCS[family];

  test(`${doc}: its ${family} strategy table is what \`paradec strategies --markdown\` prints`, () => {
    const text = readFileSync(join(PACKAGE_ROOT, doc), 'utf8');
    assert.ok(
      text === withStrategyTable(text, family),
      `${doc} differs from the registry's ${family} strategies: run \`${REGENERATE_COMMAND}\` (it rewrites the table between the <!-- strategies:${family}:begin … end --> markers) and commit the result`,
    );
  });

  test(`the ${family} table: one row per strategy in registry order, four cells each, every parameter with its default`, () => {
    const [header, rule, ...rows] = strategyTable(family).split('\n');
    assert.equal(cells(header!).length, 4);
    assert.equal(rule, '|---|---|---|---|');
    const described = describeStrategies(family);
    assert.equal(rows.length, described.length);
    described.forEach((s, i) => {
      const [name, summary, paper, params] = cells(rows[i]!);
      assert.equal(cells(rows[i]!).length, 4, `${s.name}: a '|' in a cell must be escaped`);
      assert.equal(name, `\`${s.name}\``);
      assert.equal(summary, s.summary.replaceAll('|', '\\|'));
      assert.equal(paper, s.paper.replaceAll('|', '\\|'));
      const entries = Object.keys(s.params).length ? params!.split('<br>') : [];
      assert.equal(entries.length, Object.keys(s.params).length, s.name);
      Object.entries(s.params).forEach(([key, spec], j) => {
        const head = spec.default === null ? `\`${key}\` (${spec.type}, unset)` : `\`${key}=${String(spec.default)}\``;
        assert.ok(entries[j]!.startsWith(head), `${s.name}: '${entries[j]}' should start with ${head}`);
      });
    });
  });
}

test('a choice list is escaped inside its cell (self-edit: base=threshold, one of threshold | confidence)', () => {
  const row = strategyTable('diffusion')
    .split('\n')
    .find((r) => r.startsWith('| `self-edit` |'));
  assert.ok(row?.includes('`base=threshold` (threshold \\| confidence): drafting rule'), row);
});

test('regenerating replaces only the marked region and keeps the prose; missing markers are an error', () => {
  const { begin, end } = tableMarkers('diffusion');
  const stale = `# Title\n\nprose before\n\n${begin}\n| old | table |\n${end}\n\nprose after\n`;
  const fresh = withStrategyTable(stale, 'diffusion');
  assert.equal(fresh, `# Title\n\nprose before\n\n${begin}\n${strategyTable('diffusion')}\n${end}\n\nprose after\n`);
  assert.equal(withStrategyTable(fresh, 'diffusion'), fresh, 'regenerating is idempotent');
  assert.throws(() => withStrategyTable('# no markers\n', 'diffusion'), /strategies:diffusion:begin/);
  assert.throws(() => withStrategyTable(`${end}\n${begin}\n`, 'diffusion'), /strategies:diffusion:begin/);
});
