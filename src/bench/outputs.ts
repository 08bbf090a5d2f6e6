/**
 * A bench run on disk: results.jsonl (one row per instance and setting), summary.json, report.md
 * and the SVG plots it links.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderPlots, renderReport } from './report.js';
import type { BenchResult } from './types.js';

/** Write results.jsonl, summary.json, report.md and the plots into `dir`; returns the file names. */
export function writeBenchOutputs(dir: string, result: BenchResult): string[] {
  mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  const write = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    files.push(name);
  };
  write('results.jsonl', result.rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  write('summary.json', JSON.stringify(result.summary, null, 2) + '\n');
  const plots = renderPlots(result.summary);
  write('report.md', renderReport(result.summary, Object.keys(plots)));
  for (const [name, svg] of Object.entries(plots)) write(name, svg);
  return files;
}
