/**
 * Command-line entry: `node --import tsx src/train/cli.ts --objective diffusion|causal --out DIR ...`
 * (see options.ts for every flag).
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseTrainArgs, TRAIN_USAGE } from './options.js';
import { runTraining } from './trainer.js';

export { runTraining } from './trainer.js';
export { parseTrainArgs, TRAIN_USAGE, DEFAULT_OPTIONS, type TrainOptions } from './options.js';

async function main(argv: string[]): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(TRAIN_USAGE + '\n');
    return;
  }
  const options = parseTrainArgs(argv);
  await runTraining(options);
}

const isMain = process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    process.stderr.write(`train: ${(e as Error).message}\n`);
    process.exit(1);
  });
}
