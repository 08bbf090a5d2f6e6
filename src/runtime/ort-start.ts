/**
 * ONNX Runtime's one-time start in a process, paid with a 94-byte session.
 *
 * The first `InferenceSession.create` of a process maps the native library, creates ORT's
 * environment (op schema registry, logging) and sets up what only a process's first session does:
 * measured on the 2-core machine, 20–30 ms for the library and its JavaScript, 40–50 ms for the
 * environment, 13–15 ms for that first session, against 1–2 ms for the next session of any
 * thread. All of it is process-wide: the library is mapped once, and onnxruntime-node keeps one
 * environment for every thread (created by the first, under a lock), so whichever thread pays it
 * pays it for the others. session.ts uses that to pay it on the thread that has nothing better
 * to do (see OrtSession.open).
 *
 * Both the session worker and the main thread import this module, so it imports nothing at
 * run time.
 */
import type * as Ort from 'onnxruntime-node';

/** onnxruntime-node's module object (its CommonJS exports). */
export type OrtRuntime = typeof Ort.default;

/** y = Identity(x) for a float tensor [1]: the smallest model ORT loads (opset 13). */
const WARM_UP_MODEL = 'CAoSB3BhcmFkZWMaBTAuMS4wOkYKHAoBeBIBeRoKbl9pZGVudGl0eSIISWRlbnRpdHkSBHdhcm1aDwoBeBIKCggIARIECgIIAWIPCgF5EgoKCAgBEgQKAggBQgIQDQ==';

/**
 * Start ORT in this process, if no thread has yet: create and release the tiny session. Never
 * throws: whatever is wrong with ORT, the real model's load reports it with its name.
 */
export async function startOrt(ort: OrtRuntime): Promise<void> {
  try {
    const warm = await ort.InferenceSession.create(Buffer.from(WARM_UP_MODEL, 'base64'), {
      executionProviders: ['cpu'], graphOptimizationLevel: 'disabled', intraOpNumThreads: 1, interOpNumThreads: 1, logSeverityLevel: 3,
    });
    await warm.release();
  } catch {
    // see above
  }
}
