/**
 * `paradec train-filter`: train Learn2PD's confidence filter for a diffusion model on labels
 * collected from the model's own decoding runs over freshly seeded task-suite prompts.
 */
import { join } from 'node:path';
import { InputError } from '../errors.js';
import { encodePrompt, loadModel } from '../api.js';
import { trainLearn2pdFilter } from '../decode/diffusion/learn2pd-train.js';
import { generateSuite } from '../tasks/suite.js';
import type { BidirectionalModel } from '../runtime/types.js';
import { parseFlags, positiveIntFlag } from './flags.js';
import { progressBar } from './progress.js';

export async function commandTrainFilter(argv: string[]): Promise<void> {
  const { values } = parseFlags(argv, {
    model: { type: 'string' },
    out: { type: 'string' },
    n: { type: 'string' },
    seed: { type: 'string' },
    epochs: { type: 'string' },
    hidden: { type: 'string' },
    'gen-length': { type: 'string' },
    'block-length': { type: 'string' },
    trajectory: { type: 'string' },
  } as const);
  const trajectory = values.trajectory ?? 'oracle';
  if (trajectory !== 'oracle' && trajectory !== 'baseline') throw new InputError(`--trajectory must be oracle or baseline (got '${trajectory}')`);
  const model = await loadModel(values.model);
  try {
    if (model.runtime.kind !== 'bidirectional') throw new InputError(`${model.dir} is not a diffusion model; Learn2PD filters diffusion decoding`);
    const instances = generateSuite({ seed: positiveIntFlag('seed', values.seed, 4242), n: positiveIntFlag('n', values.n, 20) });
    const prompts = instances.map((i) => encodePrompt(model, i.prompt));
    const out = values.out ?? join(model.dir, 'learn2pd-filter.json');
    const bar = progressBar('collect', prompts.length);
    const genLength = positiveIntFlag('gen-length', values['gen-length'], 32);
    const result = await trainLearn2pdFilter({
      model: model.runtime as BidirectionalModel,
      prompts,
      out,
      eosTokenIds: model.eosTokenIds,
      genLength,
      blockLength: values['block-length'] ? positiveIntFlag('block-length', values['block-length'], genLength) : undefined,
      trajectory,
      epochs: positiveIntFlag('epochs', values.epochs, 200),
      hidden: positiveIntFlag('hidden', values.hidden, 32),
      seed: positiveIntFlag('seed', values.seed, 4242),
      onCollect: (done) => bar.update(done),
    });
    bar.stop();
    process.stderr.write(`trained on ${result.samples} samples (final loss ${result.loss.toFixed(4)}); wrote ${out}\n`);
  } finally {
    await model.dispose();
  }
}
