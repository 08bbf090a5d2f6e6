/**
 * Model cards: the exact commands that rebuild a checkpoint, including every run its
 * initialisation came from (a chain of --init-from runs).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
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
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
