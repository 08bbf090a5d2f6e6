/**
 * How the bench decodes one setting's instances: through the public API (`generateText` with the
 * setting's strategy and options), one instance at a time, each seeded with
 * `seedFrom(seed, instance id)`.
 */
import { generateText, type GenerateOptions, type GenerationResult, type ParadecModel } from '../api.js';
import type { AutoregressiveStrategy } from '../decode/autoregressive/types.js';
import { findAutoregressiveStrategy } from '../decode/registry.js';
import type { TaskInstance } from '../tasks/suite.js';
import { seedFrom } from '../tasks/rng.js';
import { ForwardLimit, forwardLimit, type GuardedModel } from './forward-limit.js';
import type { Setting } from './settings.js';
import type { ResultRow } from './types.js';

/** One decoded instance: the measurement fields of a result row, plus its text. */
export type InstanceResult = Pick<ResultRow, 'nfe' | 'work' | 'tokens' | 'tokensPerForward' | 'ms' | 'drafted' | 'accepted' | 'draftNfe' | 'draftWork' | 'schedule' | 'stopped'> & { text: string };

/** Decodes the instances of one setting, in order; `dispose` when the setting is done. */
export interface SettingDecoder {
  decode(inst: TaskInstance): Promise<InstanceResult>;
  dispose(): Promise<void>;
}

/** The row fields of a finished generation; tokens count the end-of-text when it was produced. */
function measured(g: GenerationResult): InstanceResult {
  const r: InstanceResult = {
    text: g.text,
    nfe: g.nfe,
    work: g.work,
    tokens: g.usage.completionTokens + (g.finishReason === 'stop' ? 1 : 0),
    tokensPerForward: g.tokensPerForward,
    ms: g.ms,
  };
  if (g.drafted !== undefined) r.drafted = g.drafted;
  if (g.accepted !== undefined) r.accepted = g.accepted;
  if (g.draftNfe !== undefined) r.draftNfe = g.draftNfe;
  if (g.draftWork !== undefined) r.draftWork = g.draftWork;
  if (g.schedule !== undefined) r.schedule = g.schedule;
  return r;
}

/**
 * A diffusion setting, on the guarded model: an instance that reaches its forward-pass cap is
 * recorded as stopped, with the passes it used, instead of failing the setting.
 */
export function diffusionDecoder(guard: GuardedModel, setting: Setting, gen: GenerateOptions, seed: number): SettingDecoder {
  return {
    async decode(inst) {
      guard.arm(forwardLimit(gen.genLength!));
      const started = performance.now();
      try {
        return measured(await generateText(guard.model, inst.prompt, { ...gen, strategy: setting.strategy, strategyOptions: setting.given, temperature: 0, seed: seedFrom(seed, inst.id) }));
      } catch (e) {
        if (!(e instanceof ForwardLimit)) throw e;
        return { text: '', nfe: guard.used(), work: guard.usedWork(), tokens: 0, tokensPerForward: 0, ms: performance.now() - started, stopped: e.message };
      }
    },
    dispose: async () => {},
  };
}

/**
 * An autoregressive setting: one strategy object for all its instances (kept alive between
 * prompts, as a serving process keeps it, and disposed at the end), so a draft model is loaded
 * once, not per instance. Stateful strategies (e.g. speculative decoding's adaptive draft length)
 * therefore carry state from one instance to the next, in instance order, which is the same in
 * every run. The strategy is made at the first instance, which is decoded once more first as a
 * warm-up, not recorded: lazy draft-model loading stays out of the times.
 */
export function autoregressiveDecoder(model: ParadecModel, setting: Setting, gen: GenerateOptions, seed: number): SettingDecoder {
  let kept: AutoregressiveStrategy | null = null;
  const run = async (inst: TaskInstance, keptStrategy: AutoregressiveStrategy) =>
    measured(await generateText(model, inst.prompt, { ...gen, keptStrategy, temperature: 0, seed: seedFrom(seed, inst.id) }));
  return {
    async decode(inst) {
      if (!kept) {
        kept = findAutoregressiveStrategy(setting.strategy).create(setting.params);
        await run(inst, kept);
      }
      return run(inst, kept);
    },
    dispose: async () => {
      await kept?.dispose?.();
    },
  };
}
