import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng, seedFrom } from '../../src/tasks/rng.js';
import { OptionError } from '../../src/errors.js';

const draw = (rng: Rng, k: number): number[] => Array.from({ length: k }, () => rng.uint32());

test('same seed, same stream; different seeds, different streams', () => {
  assert.deepEqual(draw(new Rng(42), 20), draw(new Rng(42), 20));
  assert.notDeepEqual(draw(new Rng(42), 20), draw(new Rng(43), 20));
  // High bits of a large seed matter.
  assert.notDeepEqual(draw(new Rng(1), 5), draw(new Rng(1 + 2 ** 32), 5));
  assert.notDeepEqual(draw(new Rng(-1), 5), draw(new Rng(2 ** 32 - 1), 5));
});

test('pinned values, so that the streams never change silently', () => {
  // Everything seeded in paradec (suites, batches, remasking) depends on these.
  assert.deepEqual(draw(new Rng(0), 3), [3806618752, 3986749538, 374129292]);
  assert.equal(seedFrom(42, 'copy'), 427844956);
});

test('int(lo, hi) covers both ends and stays in range', () => {
  const rng = new Rng(1);
  const seen = new Map<number, number>();
  for (let i = 0; i < 6000; i++) {
    const x = rng.int(3, 6);
    assert.ok(Number.isInteger(x) && x >= 3 && x <= 6);
    seen.set(x, (seen.get(x) ?? 0) + 1);
  }
  assert.deepEqual([...seen.keys()].sort(), [3, 4, 5, 6]);
  for (const count of seen.values()) assert.ok(count > 1300 && count < 1700, `count ${count}`);
  assert.equal(rng.int(7, 7), 7);
  assert.ok(rng.int(-5, -1) < 0);
  const wide = rng.int(0, 2 ** 32 - 1);
  assert.ok(wide >= 0 && wide < 2 ** 32);
});

test('float is in [0, 1) and roughly uniform', () => {
  const rng = new Rng(2);
  let sum = 0;
  for (let i = 0; i < 10000; i++) {
    const x = rng.float();
    assert.ok(x >= 0 && x < 1);
    sum += x;
  }
  assert.ok(Math.abs(sum / 10000 - 0.5) < 0.02);
});

test('choice, shuffle and sample', () => {
  const rng = new Rng(3);
  const items = ['a', 'b', 'c', 'd', 'e'];
  assert.ok(items.includes(rng.choice(items)));
  const arr = [...items];
  assert.equal(rng.shuffle(arr), arr, 'shuffles in place');
  assert.deepEqual([...arr].sort(), items);
  const big = Array.from({ length: 20000 }, (_, i) => i);
  for (let t = 0; t < 50; t++) {
    const s = rng.sample(big, 6);
    assert.equal(s.length, 6);
    assert.equal(new Set(s).size, 6, 'without replacement');
  }
  assert.deepEqual(rng.sample(items, 5).sort(), items, 'sampling everything is a permutation');
  assert.deepEqual(rng.sample(items, 0), []);
  // every element can be drawn first
  const firsts = new Set<string>();
  for (let t = 0; t < 200; t++) firsts.add(rng.sample(items, 2)[0] as string);
  assert.equal(firsts.size, 5);
});

test('state/fromState resume exactly; fork gives an independent stream', () => {
  const rng = new Rng(9);
  draw(rng, 7);
  const resumed = Rng.fromState(rng.state());
  assert.deepEqual(draw(resumed, 10), draw(rng, 10));
  const a = new Rng(9);
  const child = a.fork();
  assert.notDeepEqual(draw(child, 5), draw(a, 5));
});

test('seedFrom mixes parts in order and by type', () => {
  assert.equal(seedFrom(1, 'copy'), seedFrom(1, 'copy'));
  assert.notEqual(seedFrom(1, 'copy'), seedFrom(1, 'sort'));
  assert.notEqual(seedFrom(1, 2), seedFrom(2, 1));
  assert.notEqual(seedFrom(1), seedFrom('1'));
  assert.notEqual(seedFrom('ab', 'c'), seedFrom('a', 'bc'));
  assert.ok(Number.isInteger(seedFrom('x')) && seedFrom('x') >= 0 && seedFrom('x') < 2 ** 32);
});

test('bad arguments throw OptionError', () => {
  const rng = new Rng(0);
  assert.throws(() => new Rng(1.5), OptionError);
  assert.throws(() => rng.int(5, 4), OptionError);
  assert.throws(() => rng.int(0, 2 ** 32), OptionError);
  assert.throws(() => rng.choice([]), OptionError);
  assert.throws(() => rng.sample([1, 2], 3), OptionError);
  assert.throws(() => Rng.fromState([1, 2, 3] as unknown as [number, number, number, number]), OptionError);
});
