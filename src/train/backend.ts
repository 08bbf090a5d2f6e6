/**
 * TensorFlow.js setup for training: the full `@tensorflow/tfjs` package (so that gradients are
 * registered) on the wasm backend, with the .wasm files found in node_modules.
 */
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export { tf };

let ready: Promise<void> | null = null;

/** Select the wasm backend once per process. Safe to call repeatedly. */
export function initBackend(): Promise<void> {
  if (!ready) {
    ready = (async () => {
      const require = createRequire(import.meta.url);
      const pkg = require.resolve('@tensorflow/tfjs-backend-wasm/package.json');
      setWasmPaths(join(dirname(pkg), 'dist') + '/');
      // tfjs prints a banner about the Node backend; keep stderr for our progress bar.
      tf.env().set('IS_NODE', true);
      const ok = await tf.setBackend('wasm');
      if (!ok) throw new Error('could not initialise the TensorFlow.js wasm backend');
      await tf.ready();
    })();
  }
  return ready;
}
