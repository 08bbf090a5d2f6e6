/** `paradec info`: what a checkpoint is, without compiling it. */
// from locate.js, not api.js (which re-exports it): api.js would pull in the compiler, the runtime
// and every decoding loop, ≈ 50 modules that info never runs
import { resolveModelDir } from '../model/locate.js';
import { countCheckpointParams, loadCheckpoint } from '../model/checkpoint.js';
import { loadTokenizer } from '../model/tokenizer.js';
import { parseFlags } from './flags.js';

export async function commandInfo(argv: string[]): Promise<void> {
  const { values } = parseFlags(argv, { model: { type: 'string' }, json: { type: 'boolean' } } as const);
  const dir = resolveModelDir(values.model);
  const ckpt = loadCheckpoint(dir, { checkFinite: false });
  const tok = loadTokenizer(dir);
  const c = ckpt.config;
  const params = countCheckpointParams(ckpt);
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
  if (values.json) {
    process.stdout.write(JSON.stringify(info, null, 2) + '\n');
    return;
  }
  for (const [k, v] of Object.entries(info)) process.stdout.write(`${k.padEnd(18)} ${Array.isArray(v) ? v.join(', ') : v}\n`);
}
