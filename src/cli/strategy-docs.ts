/**
 * The strategy tables of the docs, generated from the registry: `paradec strategies --markdown`
 * prints them, `npm run docs:strategies` writes them into `docs/strategies.md` (diffusion) and
 * `docs/autoregressive.md` (autoregressive) between marker comments, and a test fails when the
 * docs differ — so a strategy's summary, paper or defaults are written once, in its file.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeStrategies, type StrategyDescription } from '../decode/describe.js';
import type { ParamSpec } from '../decode/params.js';
import type { StrategyFamily } from '../decode/strategy.js';

export const STRATEGY_FAMILIES: readonly StrategyFamily[] = ['diffusion', 'autoregressive'];

/** Where each family's table lives, relative to the package root. */
export const STRATEGY_DOCS: Readonly<Record<StrategyFamily, string>> = {
  diffusion: 'docs/strategies.md',
  autoregressive: 'docs/autoregressive.md',
};

export const REGENERATE_COMMAND = 'npm run docs:strategies';

/** The comment lines around a generated table (the begin line also tells a reader not to edit). */
export function tableMarkers(family: StrategyFamily): { begin: string; end: string } {
  return {
    begin: `<!-- strategies:${family}:begin — generated from the registry by \`${REGENERATE_COMMAND}\`; edit the strategy files, not this table -->`,
    end: `<!-- strategies:${family}:end -->`,
  };
}

/** A table cell: markdown's cell separator escaped, so a `|` in a description stays text. */
function cell(text: string): string {
  return text.replaceAll('|', '\\|');
}

/** One parameter: `name=default` (or `name` (type, unset)), its choices, and its description. */
function paramEntry(key: string, spec: ParamSpec): string {
  const head = spec.default === null ? `\`${key}\` (${spec.type}, unset)` : `\`${key}=${String(spec.default)}\``;
  const choices = spec.choices ? ` (${spec.choices.join(' | ')})` : '';
  return `${head}${choices}: ${spec.description}`;
}

function row(s: StrategyDescription): string {
  const params = Object.entries(s.params).map(([key, spec]) => paramEntry(key, spec));
  return `| \`${s.name}\` | ${cell(s.summary)} | ${cell(s.paper)} | ${params.length ? cell(params.join('<br>')) : '–'} |`;
}

/** The markdown table of one family's strategies, in registry order. */
export function strategyTable(family: StrategyFamily): string {
  return [
    '| `--strategy` | what it does | paper | parameters (`--set key=value`, defaults) |',
    '|---|---|---|---|',
    ...describeStrategies(family).map(row),
  ].join('\n');
}

/** What `paradec strategies --markdown` prints: both tables under a heading each. */
export function strategiesMarkdown(): string {
  return STRATEGY_FAMILIES.map((family) => `## ${family} strategies\n\n${strategyTable(family)}\n`).join('\n');
}

/**
 * `text` with the region between the family's markers replaced by its generated table (the prose
 * around it kept). Throws when the markers are missing, so a removed marker is noticed.
 */
export function withStrategyTable(text: string, family: StrategyFamily): string {
  const { begin, end } = tableMarkers(family);
  const from = text.indexOf(begin);
  const to = text.indexOf(end);
  if (from < 0 || to < from) throw new Error(`no '${begin}' … '${end}' region to hold the ${family} strategy table`);
  return `${text.slice(0, from + begin.length)}\n${strategyTable(family)}\n${text.slice(to)}`;
}

/** Rewrite every doc's table under `root`; returns the docs that changed. */
export function writeStrategyDocs(root: string): string[] {
  const changed: string[] = [];
  for (const family of STRATEGY_FAMILIES) {
    const path = join(root, STRATEGY_DOCS[family]);
    const before = readFileSync(path, 'utf8');
    const after = withStrategyTable(before, family);
    if (after !== before) {
      writeFileSync(path, after);
      changed.push(STRATEGY_DOCS[family]);
    }
  }
  return changed;
}
