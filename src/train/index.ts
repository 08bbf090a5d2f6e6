/** Training API (tfjs, wasm): see trainer.ts. */
export { runTraining, makeBatch, type TrainResult, type RunHooks } from './trainer.js';
export { parseTrainArgs, validate, DEFAULT_OPTIONS, TRAIN_USAGE, type TrainOptions } from './options.js';
export { exportCheckpoint, loadInitWeights, toCanonical, fromCanonical } from './export.js';
export { evaluate, generate, type EvalResult } from './evaluate.js';
export { initParams, countParams, type ModelShape } from './model.js';
