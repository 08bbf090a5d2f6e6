/**
 * Model cards: the exact commands that rebuild a checkpoint, including every run its
 * initialisation came from (a chain of --init-from runs).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_OPTIONS, runTraining, type TrainOptions } from '../../src/train/index.js';
import { writeCard } from '../../src/train/card.js';

const TINY: Partial<TrainOptions> = {
  batch: 4, dModel: 32, layers: 2, heads: 2, ffn: 64, lr: 3e-3, warmup: 1, evalEvery: 1000, saveEvery: 1000,
  evalPerTask: 1, logEvery: 1000, tasks: ['copy', 'sort'], tokenizer: 'models/tokenizer', steps: 1,
};

test('a card lists the commands of every run down its --init-from chain', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'paradec-card-'));
  try {
    const a = join(dir, 'a');
    const b = join(dir, 'b');
    const c = join(dir, 'c');
    await runTraining({ ...DEFAULT_OPTIONS, ...TINY, objective: 'causal', out: a, seed: 1 } as TrainOptions, { quiet: true });
    await runTraining({ ...DEFAULT_OPTIONS, ...TINY, objective: 'diffusion', out: b, seed: 2, initFrom: a } as TrainOptions, { quiet: true });
    await runTraining({ ...DEFAULT_OPTIONS, ...TINY, objective: 'diffusion', out: c, seed: 3, initFrom: b, exportTo: join(c, 'export') } as TrainOptions, { quiet: true });
    const card = writeCard(['--model', join(c, 'export'), '--run', c, '--name', 'chain']);
    const own = card.indexOf(`--out ${c} --init-from ${b}`);
    const first = card.indexOf(`The initialisation \`${b}\``);
    const second = card.indexOf(`The initialisation \`${a}\``);
    assert.ok(own >= 0, 'the run\'s own command');
    assert.ok(first > own && card.indexOf(`--out ${b} --init-from ${a}`) > first, 'the run it was initialised from');
    assert.ok(second > first && card.indexOf(`--objective causal --out ${a}`) > second, 'and the run that one was initialised from');
    // initialised from an exported checkpoint: the run that exported it, then on down the chain
    const d = join(dir, 'd');
    await runTraining({ ...DEFAULT_OPTIONS, ...TINY, objective: 'diffusion', out: d, seed: 4, initFrom: join(c, 'export'), exportTo: join(d, 'export') } as TrainOptions, { quiet: true });
    const fromExport = writeCard(['--model', join(d, 'export'), '--run', d, '--name', 'from-export']);
    const viaExport = fromExport.indexOf(`The initialisation \`${join(c, 'export')}\` is the checkpoint that run \`${c}\` exported at step 1`);
    assert.ok(viaExport >= 0, 'names the run that exported the initialisation');
    assert.ok(fromExport.indexOf(`--out ${c} --init-from ${b}`) > viaExport, 'lists that run\'s command');
    assert.ok(fromExport.indexOf(`--objective causal --out ${a}`) > viaExport, 'and continues down its chain');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a card shows several evaluation sets side by side with their pooled score, and certainty forcing in the command', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'paradec-card-'));
  try {
    const run = join(dir, 'run');
    await runTraining({ ...DEFAULT_OPTIONS, ...TINY, objective: 'diffusion', out: run, seed: 4, certaintyWeight: 2, exportTo: join(run, 'export') } as TrainOptions, { quiet: true });
    const files = [[11, 80, 90], [12, 70, 96]].map(([seed, copy, sort]) => {
      const f = join(dir, `eval-${seed}.json`);
      writeFileSync(f, JSON.stringify({ model: 'm', objective: 'diffusion', perTask: 50, seed, measuredAt: 'now', suite: (copy! + sort!) / 2, tasks: { copy, sort } }));
      return f;
    });
    const card = writeCard(['--model', join(run, 'export'), '--run', run, '--name', 'pooled', '--eval', files[0]!, '--eval', files[1]!]);
    assert.match(card, /\| task \| seed 11 \| seed 12 \| pooled \|/);
    assert.match(card, /\| copy \(zero-entropy\) \| 80\.0 \| 70\.0 \| 75\.0 \|/);
    assert.match(card, /\| \*\*suite\*\* \| \*\*85\.0\*\* \| \*\*83\.0\*\* \| \*\*84\.0\*\* \|/);
    assert.match(card, /--certainty-weight 2 --certainty-temperature 0\.5/);
    // one set: a single score column
    const single = writeCard(['--model', join(run, 'export'), '--run', run, '--name', 'one', '--eval', files[0]!]);
    assert.match(single, /\| task \| score \|/);
    assert.match(single, /\| sort \(zero-entropy\) \| 90\.0 \|/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
