/**
 * Every decoding strategy paradec knows, by name. Adding a strategy adds one file and one line
 * here; the CLI (`--strategy`, `paradec strategies`), the API and the server all read this list.
 */
import { OptionError } from '../errors.js';
import type { AutoregressiveStrategyDefinition } from './autoregressive/types.js';
import type { DiffusionStrategyDefinition } from './diffusion/types.js';
import { confidence } from './diffusion/confidence.js';
import { entropy } from './diffusion/entropy.js';
import { leftToRight } from './diffusion/left-to-right.js';
import { margin } from './diffusion/margin.js';
import { random } from './diffusion/random.js';
import { threshold } from './diffusion/threshold.js';
import { factor } from './diffusion/factor.js';
import { prophet } from './diffusion/prophet.js';
import { credit } from './diffusion/credit.js';
import { localleap } from './diffusion/localleap.js';
import { eoserAss } from './diffusion/eoser-ass.js';
import { bacd } from './diffusion/bacd.js';
import { cad } from './diffusion/cad.js';
import { dparallel } from './diffusion/dparallel.js';
import { adablock } from './diffusion/adablock.js';
import { freedave } from './diffusion/freedave.js';
import { ete } from './diffusion/ete.js';
import { ccd } from './diffusion/ccd.js';
import { learn2pd } from './diffusion/learn2pd.js';
import { selfEdit } from './diffusion/self-edit.js';
import { oracle } from './diffusion/oracle.js';
import { greedy } from './autoregressive/greedy.js';
import { speculative } from './autoregressive/speculative.js';
import { multipath } from './autoregressive/multipath.js';
import { pearl } from './autoregressive/pearl.js';
import { lookup } from './autoregressive/lookup.js';
import { aded } from './autoregressive/aded.js';
import { layerskip } from './autoregressive/layerskip.js';
import { deer } from './autoregressive/deer.js';
import { cntp } from './autoregressive/cntp.js';
import { adadec } from './autoregressive/adadec.js';
import { superposed } from './autoregressive/superposed.js';
import { anchored } from './autoregressive/anchored.js';

export const DIFFUSION_STRATEGIES: readonly DiffusionStrategyDefinition[] = [
  confidence,
  margin,
  entropy,
  random,
  leftToRight,
  threshold,
  factor,
  prophet,
  credit,
  localleap,
  eoserAss,
  bacd,
  cad,
  dparallel,
  adablock,
  freedave,
  ete,
  ccd,
  learn2pd,
  selfEdit,
  oracle,
];

export const AUTOREGRESSIVE_STRATEGIES: readonly AutoregressiveStrategyDefinition[] = [
  greedy,
  speculative,
  multipath,
  pearl,
  lookup,
  aded,
  layerskip,
  deer,
  cntp,
  adadec,
  superposed,
  anchored,
];

export type AnyStrategyDefinition = DiffusionStrategyDefinition | AutoregressiveStrategyDefinition;

export function allStrategies(): AnyStrategyDefinition[] {
  return [...DIFFUSION_STRATEGIES, ...AUTOREGRESSIVE_STRATEGIES];
}

export function findDiffusionStrategy(name: string): DiffusionStrategyDefinition {
  const found = DIFFUSION_STRATEGIES.find((s) => s.name === name);
  if (found) return found;
  const ar = AUTOREGRESSIVE_STRATEGIES.find((s) => s.name === name);
  if (ar) throw new OptionError(`strategy '${name}' is for autoregressive models; this is a diffusion model`);
  throw new OptionError(`unknown strategy '${name}' (diffusion strategies: ${DIFFUSION_STRATEGIES.map((s) => s.name).join(', ')})`);
}

export function findAutoregressiveStrategy(name: string): AutoregressiveStrategyDefinition {
  const found = AUTOREGRESSIVE_STRATEGIES.find((s) => s.name === name);
  if (found) return found;
  const d = DIFFUSION_STRATEGIES.find((s) => s.name === name);
  if (d) throw new OptionError(`strategy '${name}' is for diffusion models; this is an autoregressive model`);
  throw new OptionError(
    `unknown strategy '${name}' (autoregressive strategies: ${AUTOREGRESSIVE_STRATEGIES.map((s) => s.name).join(', ')})`,
  );
}
