/**
 * Every registered strategy has a row in its doc's "Reference implementations and differences"
 * table (strategy | reference | exact, or each difference): a new strategy must say which code or
 * paper it follows and where it differs, and a removed one must leave the table.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeStrategies } from '../../src/decode/describe.js';
import { STRATEGY_DOCS, STRATEGY_FAMILIES } from '../../src/cli/strategy-docs.js';
import { PACKAGE_ROOT } from '../../src/model/locate.js';

const HEADING = '## Reference implementations and differences';
const HEADER = '| strategy | reference | exact, or each difference and why |';

/** The cells of a markdown table row (split at the `|` that are not escaped). */
function cells(row: string): string[] {
  return row
    .slice(1, -1)
    .split(/(?<!\\)\|/)
    .map((c) => c.trim());
}

/** The section under HEADING, up to the next `## ` heading; throws when the doc has none. */
function referenceSection(text: string, doc: string): string {
  const start = text.indexOf(`\n${HEADING}\n`);
  if (start < 0) throw new Error(`${doc} has no '${HEADING}' section`);
  const body = text.slice(start + HEADING.length + 2);
  const next = body.search(/^## /m);
  return next < 0 ? body : body.slice(0, next);
}

interface TableCheck {
  /** registered strategies with no complete row */
  missing: string[];
  /** rows naming a strategy the registry does not have */
  unknown: string[];
  /** strategies with more than one row */
  repeated: string[];
  /** rows that are not `name` | reference | difference, each cell filled */
  malformed: string[];
}

/**
 * Compare the rows of a doc's strategy table (the table under HEADER in the reference section;
 * the loop's rules have a table of their own) with the registered names.
 */
function checkReferenceTable(text: string, doc: string, registered: readonly string[]): TableCheck {
  const lines = referenceSection(text, doc).split('\n');
  const at = lines.indexOf(HEADER);
  if (at < 0 || lines[at + 1] !== '|---|---|---|') throw new Error(`${doc}: the reference section has no '${HEADER}' table`);
  const seen = new Map<string, number>();
  const malformed: string[] = [];
  for (let i = at + 2; i < lines.length && lines[i]!.startsWith('|'); i++) {
    const line = lines[i]!;
    const row = cells(line);
    const name = /^`([^`]+)`$/.exec(row[0] ?? '')?.[1];
    if (name === undefined || row.length !== 3 || row.some((c) => c === '')) {
      malformed.push(line.slice(0, 60));
      continue;
    }
    seen.set(name, (seen.get(name) ?? 0) + 1);
  }
  return {
    missing: registered.filter((n) => !seen.has(n)),
    unknown: [...seen.keys()].filter((n) => !registered.includes(n)),
    repeated: [...seen].filter(([, count]) => count > 1).map(([n]) => n),
    malformed,
  };
}

for (const family of STRATEGY_FAMILIES) {
  const doc = STRATEGY_DOCS[family];
  test(`${doc}: every ${family} strategy has one row in '${HEADING}'`, () => {
    const names = describeStrategies(family).map((s) => s.name);
    const check = checkReferenceTable(readFileSync(join(PACKAGE_ROOT, doc), 'utf8'), doc, names);
    assert.deepEqual(check.missing, [], `${doc}: add a row (strategy | reference: repository, file, function, or the paper's section | exact, or each difference and why) for ${check.missing.join(', ')}`);
    assert.deepEqual(check.unknown, [], `${doc}: rows for strategies that are not registered: ${check.unknown.join(', ')}`);
    assert.deepEqual(check.repeated, [], `${doc}: more than one row for ${check.repeated.join(', ')}`);
    assert.deepEqual(check.malformed, [], `${doc}: rows need a backticked strategy name and three filled cells (escape a '|' inside a cell as '\\|')`);
  });
}

test('the check names a strategy without a row, a row for an unknown one, and a row with an empty cell', () => {
  const doc = [
    '# Doc',
    '',
    HEADING,
    '',
    HEADER,
    '|---|---|---|',
    '| `alpha` | repo `a.py`, `f` | exact |',
    '| `gone` | repo `g.py` | exact |',
    '| `beta` | repo `b.py` |  |',
    '',
    '| rule | reference | exact, or each difference and why |',
    '|---|---|---|',
    '| `a loop rule` | repo | exact |',
    '',
    '## Next section',
    '',
    '| `gamma` | outside the section | ignored |',
  ].join('\n');
  const check = checkReferenceTable(doc, 'doc.md', ['alpha', 'beta', 'gamma']);
  assert.deepEqual(check.missing, ['beta', 'gamma']);
  assert.deepEqual(check.unknown, ['gone']);
  assert.deepEqual(check.repeated, []);
  assert.equal(check.malformed.length, 1);
  assert.throws(() => checkReferenceTable('# no section\n', 'doc.md', ['alpha']), /no '## Reference implementations and differences' section/);
});
