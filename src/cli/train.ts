/** `paradec train`: the TensorFlow.js trainer (src/train), same flags as src/train/options.ts. */
// the options only: the trainer (TensorFlow.js and its WASM backend) is imported once the
// arguments parse, so `paradec train --help` and a bad flag answer without loading it
import { parseTrainArgs, TRAIN_USAGE } from '../train/options.js';

export async function commandTrain(argv: string[]): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(TRAIN_USAGE + '\n');
    return;
  }
  const options = parseTrainArgs(argv);
  const { runTraining } = await import('../train/trainer.js');
  await runTraining(options);
}
