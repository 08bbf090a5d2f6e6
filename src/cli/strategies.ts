/** `paradec strategies`: every decoding strategy with its parameters and defaults. */
import { describeStrategies } from '../decode/describe.js';
import { InputError } from '../errors.js';
import { parseFlags } from './flags.js';
import { STRATEGY_FAMILIES, strategiesMarkdown } from './strategy-docs.js';

export async function commandStrategies(argv: string[]): Promise<void> {
  const { values } = parseFlags(argv, { json: { type: 'boolean' }, markdown: { type: 'boolean' } } as const);
  if (values.json && values.markdown) throw new InputError('give --json or --markdown, not both');
  if (values.json) {
    process.stdout.write(JSON.stringify(describeStrategies(), null, 2) + '\n');
    return;
  }
  if (values.markdown) {
    process.stdout.write(strategiesMarkdown());
    return;
  }
  for (const family of STRATEGY_FAMILIES) {
    process.stdout.write(`${family} strategies:\n`);
    for (const s of describeStrategies(family)) {
      process.stdout.write(`  ${s.name.padEnd(14)} ${s.summary}\n`);
      process.stdout.write(`  ${''.padEnd(14)} paper: ${s.paper}\n`);
      for (const [k, p] of Object.entries(s.params)) {
        process.stdout.write(`  ${''.padEnd(14)} --set ${k}=<${p.type}> (default ${p.default === null ? 'unset' : p.default}) ${p.description}\n`);
      }
    }
  }
}
