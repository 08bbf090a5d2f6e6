/** `paradec strategies`: every decoding strategy with its parameters and defaults. */
import { allStrategies } from '../decode/registry.js';
import { parseFlags } from './flags.js';

export async function commandStrategies(argv: string[]): Promise<void> {
  const { values } = parseFlags(argv, { json: { type: 'boolean' } } as const);
  const list = allStrategies().map((s) => ({ name: s.name, family: s.family, summary: s.summary, paper: s.paper, params: s.params }));
  if (values.json) {
    process.stdout.write(JSON.stringify(list, null, 2) + '\n');
    return;
  }
  for (const family of ['diffusion', 'autoregressive'] as const) {
    process.stdout.write(`${family} strategies:\n`);
    for (const s of list.filter((x) => x.family === family)) {
      process.stdout.write(`  ${s.name.padEnd(14)} ${s.summary}\n`);
      process.stdout.write(`  ${''.padEnd(14)} paper: ${s.paper}\n`);
      for (const [k, p] of Object.entries(s.params)) {
        process.stdout.write(`  ${''.padEnd(14)} --set ${k}=<${p.type}> (default ${p.default === null ? 'unset' : p.default}) ${p.description}\n`);
      }
    }
  }
}
