/**
 * The CLI's load progress: nothing for small models (the built-in ones print nothing new), a
 * report for a model whose weight files pass BIG_MODEL_BYTES (a sparse file stands in for one),
 * with a line when ONNX Runtime starts and ends its silent load.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, rmSync, ftruncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIG_MODEL_BYTES, loadProgress, weightFileBytes } from '../../src/cli/load-progress.js';

const root = mkdtempSync(join(tmpdir(), 'paradec-load-progress-'));
after(() => rmSync(root, { recursive: true, force: true }));

test('small and unknown models get no report; a big one does, naming sizes in MB', () => {
  assert.equal(loadProgress([undefined]), undefined, 'the default model');
  assert.equal(loadProgress(['tiny-ar', 'tiny-dlm']), undefined);
  assert.equal(loadProgress(['/nonexistent/model']), undefined, 'the load itself names a missing model');
  const dir = mkdtempSync(join(root, 'big-'));
  for (const [name, bytes] of [['model-00001-of-00002.safetensors', BIG_MODEL_BYTES / 2], ['model-00002-of-00002.safetensors', BIG_MODEL_BYTES / 2 + 1]] as const) {
    const fd = openSync(join(dir, name), 'w');
    ftruncateSync(fd, bytes); // sparse: no disk used
    closeSync(fd);
  }
  assert.equal(weightFileBytes(dir), BIG_MODEL_BYTES + 1);
  const lines: string[] = [];
  const report = loadProgress(['tiny-dlm', dir], (l) => lines.push(l));
  assert.ok(report, 'one big model among several is enough');
  report('scan', 100e6, 400e6);
  report('scan', 400e6, 400e6);
  report('weights', 400e6, 400e6);
  report('session', 0, 400e6);
  report('session', 400e6, 400e6);
  assert.equal(lines.length, 2);
  assert.match(lines[0]!, /^loading 400 MB of weights into ONNX Runtime/);
  assert.match(lines[1]!, /^ONNX Runtime loaded the weights in \d+\.\d s/);
});
