/** `paradec train`: the TensorFlow.js trainer (src/train), same flags as src/train/options.ts. */
import { parseTrainArgs, runTraining, TRAIN_USAGE } from '../train/index.js';

export async function commandTrain(argv: string[]): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(TRAIN_USAGE + '\n');
    return;
  }
  await runTraining(parseTrainArgs(argv));
}
