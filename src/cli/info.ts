/** `paradec info`: what a checkpoint is, without compiling it, and the memory each dtype needs. */
// from locate.js, not api.js (which re-exports it): api.js would pull in the compiler, the runtime
// and every decoding loop, ≈ 50 modules that info never runs
import { resolveModelDir } from '../model/locate.js';
import { countCheckpointParams, loadCheckpoint } from '../model/checkpoint.js';
import { loadTokenizer } from '../model/tokenizer.js';
import { chooseDtype, ESTIMATE_TOKENS, estimateAll, formatBytes, storedBytesPerParam, systemMemory } from '../runtime/memory.js';
import { parseFlags } from './flags.js';

export async function commandInfo(argv: string[]): Promise<void> {
  const { values } = parseFlags(argv, { model: { type: 'string' }, json: { type: 'boolean' } } as const);
  const dir = resolveModelDir(values.model);
  const ckpt = loadCheckpoint(dir, { checkFinite: false });
  const tok = loadTokenizer(dir);
  const c = ckpt.config;
  const params = countCheckpointParams(ckpt);
  const estimates = estimateAll(c, { storedBytesPerParam: storedBytesPerParam(ckpt.table.values()) });
  const memory = systemMemory();
  let defaultDtype: string;
  try {
    defaultDtype = chooseDtype(dir.split('/').filter(Boolean).pop() ?? dir, estimates, memory).dtype;
  } catch {
    defaultDtype = 'none fits';
  }
  const info = {
    dir,
    architecture: c.architecture,
    family: c.causal ? 'autoregressive' : 'diffusion',
    parameters: params,
    vocab_size: c.vocabSize,
    hidden_size: c.hiddenSize,
    layers: c.numLayers,
    heads: c.numHeads,
    kv_heads: c.numKvHeads,
    head_dim: c.headDim,
    intermediate_size: c.intermediateSize,
    max_positions: c.maxPositions,
    mask_token_id: c.maskTokenId,
    eos_token_ids: c.eosTokenIds,
    tokenizer_vocab: tok.vocabSize,
    chat_template: tok.chatTemplate !== null,
    dtypes: [...new Set([...ckpt.table.values()].map((t) => t.dtype))],
  };
  // estimated bytes to load and run one row of ESTIMATE_TOKENS tokens (runtime/memory.ts)
  const needs = Object.fromEntries(estimates.map((e) => [e.dtype, Math.round(e.total)]));
  if (values.json) {
    const mem = { needs, tokens: ESTIMATE_TOKENS, available: memory.available, total: memory.total, default_dtype: defaultDtype };
    process.stdout.write(JSON.stringify({ ...info, memory: mem }, null, 2) + '\n');
    return;
  }
  for (const [k, v] of Object.entries(info)) process.stdout.write(`${k.padEnd(18)} ${Array.isArray(v) ? v.join(', ') : v}\n`);
  const perDtype = estimates.map((e) => `${e.dtype} ${formatBytes(e.total)}`).join(', ');
  process.stdout.write(`${'memory'.padEnd(18)} ${perDtype} (estimated to load and run ${ESTIMATE_TOKENS} tokens, a first load's compiling included)\n`);
  process.stdout.write(`${'this machine'.padEnd(18)} ${formatBytes(memory.available).slice(1)} free of ${formatBytes(memory.total).slice(1)}; default dtype ${defaultDtype}\n`);
}
