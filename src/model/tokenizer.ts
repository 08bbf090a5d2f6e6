/**
 * Text ↔ token ids, special tokens and chat templates for a checkpoint directory.
 *
 * Wraps @huggingface/tokenizers (tokenizer.json) and @huggingface/jinja (chat_template) behind a
 * small class so the rest of paradec never touches either library's loose types, and so every
 * failure surfaces as a typed error naming the file at fault.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import type { Template } from '@huggingface/jinja';
import { CheckpointError, InputError, OptionError } from '../errors.js';

export interface ChatMessage {
  role: string;
  content: string;
}

export interface EncodeOptions {
  /** Let the tokenizer's post-processor add BOS/EOS etc. (default true, as in HF). */
  addSpecialTokens?: boolean;
}

export interface DecodeOptions {
  /** Drop special tokens (added tokens flagged special, and the bos/eos/pad/unk/mask tokens). Default false. */
  skipSpecialTokens?: boolean;
}

export interface ChatTemplateOptions {
  /** Append the assistant-turn opener (default false, as in HF). */
  addGenerationPrompt?: boolean;
  /** Extra template variables (e.g. `enable_thinking` for Qwen3, `tools`). */
  extra?: Record<string, unknown>;
}

export type SpecialTokenRole = 'bos' | 'eos' | 'pad' | 'unk' | 'mask';

export interface SpecialToken {
  token: string;
  id: number;
}

/**
 * Used when the checkpoint ships no chat template: one `role: content` line per message, then
 * `assistant:` when a generation prompt is asked for. No special tokens are inserted, so the
 * result means the same thing to any tokenizer.
 */
export const FALLBACK_CHAT_TEMPLATE =
  "{% for message in messages %}{{ message['role'] + ': ' + message['content'] + '\\n' }}{% endfor %}" +
  "{% if add_generation_prompt %}{{ 'assistant:' }}{% endif %}";

type JsonObject = Record<string, unknown>;

function readJson(file: string): JsonObject {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new CheckpointError(`${file}: ${e instanceof SyntaxError ? 'not valid JSON' : `cannot read (${(e as Error).message})`}`, { cause: e });
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new CheckpointError(`${file}: expected a JSON object`);
  return json as JsonObject;
}

/** tokenizer_config.json writes special tokens as strings or as AddedToken objects. */
function tokenString(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (typeof v === 'object' && v !== null && typeof (v as { content?: unknown }).content === 'string') {
    return (v as { content: string }).content;
  }
  return null;
}

/** Pick the default template from `chat_template` (a string, a list of {name, template}, or a map). */
function pickTemplate(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) {
    const named = v.find((t) => (t as { name?: unknown })?.name === 'default') ?? v[0];
    const tpl = (named as { template?: unknown } | undefined)?.template;
    return typeof tpl === 'string' ? tpl : null;
  }
  if (typeof v === 'object' && v !== null) {
    const tpl = (v as Record<string, unknown>)['default'];
    return typeof tpl === 'string' ? tpl : null;
  }
  return null;
}

export class TextTokenizer {
  /** Number of ids the tokenizer can produce (largest id + 1, added tokens included). */
  readonly vocabSize: number;
  readonly bos: SpecialToken | null;
  readonly eos: SpecialToken | null;
  readonly pad: SpecialToken | null;
  readonly unk: SpecialToken | null;
  readonly mask: SpecialToken | null;
  /** Ids of every special token (added tokens flagged special, plus the roles above). */
  readonly specialTokenIds: ReadonlySet<number>;
  /** The checkpoint's own chat template, or null when the fallback is used. */
  readonly chatTemplate: string | null;
  /** Where the chat template came from, for error messages. */
  private readonly templateSource: string;
  private compiled: Template | null = null;
  private readonly tok: Tokenizer;

  constructor(tokenizerJson: JsonObject, tokenizerConfig: JsonObject, readonly dir: string, chatTemplateOverride: string | null = null) {
    const tokFile = join(dir, 'tokenizer.json');
    if (typeof tokenizerJson['model'] !== 'object' || tokenizerJson['model'] === null) {
      throw new CheckpointError(`${tokFile}: missing 'model' section`);
    }
    // tokenizers.js wants plain strings for the special tokens and an added_tokens list.
    const config: JsonObject = { ...tokenizerConfig };
    for (const role of ['bos', 'eos', 'pad', 'unk', 'mask', 'sep', 'cls'] as const) {
      const key = `${role}_token`;
      const s = tokenString(config[key]);
      if (s === null) delete config[key];
      else config[key] = s;
    }
    const model = tokenizerJson['model'] as JsonObject;
    // WordLevel models fall into tokenizers.js' legacy path, which takes unk from the config.
    if (config['unk_token'] === undefined && typeof model['unk_token'] === 'string') config['unk_token'] = model['unk_token'];
    const json: JsonObject = { ...tokenizerJson, added_tokens: tokenizerJson['added_tokens'] ?? [] };
    for (const key of ['normalizer', 'pre_tokenizer', 'post_processor', 'decoder']) json[key] ??= null;
    try {
      this.tok = new Tokenizer(json, config);
    } catch (e) {
      throw new CheckpointError(`${tokFile}: cannot build the tokenizer (${(e as Error).message})`, { cause: e });
    }
    const vocab = this.tok.get_vocab(true);
    let maxId = -1;
    for (const id of vocab.values()) if (id > maxId) maxId = id;
    if (maxId < 0) throw new CheckpointError(`${tokFile}: empty vocabulary`);
    this.vocabSize = maxId + 1;

    const special = new Set<number>();
    for (const [id, t] of this.tok.get_added_tokens_decoder()) if (t.special) special.add(id);
    const lookup = (role: SpecialTokenRole): SpecialToken | null => {
      const token = tokenString(config[`${role}_token`]);
      if (token === null) return null;
      // A token named in tokenizer_config.json but absent from the vocabulary is treated as absent.
      const id = this.tok.token_to_id(token);
      if (id === undefined) return null;
      special.add(id);
      return { token, id };
    };
    this.bos = lookup('bos');
    this.eos = lookup('eos');
    this.pad = lookup('pad');
    this.unk = lookup('unk');
    this.mask = lookup('mask');
    this.specialTokenIds = special;
    this.chatTemplate = chatTemplateOverride ?? pickTemplate(tokenizerConfig['chat_template']);
    this.templateSource = chatTemplateOverride !== null ? join(dir, 'chat_template.jinja') : join(dir, 'tokenizer_config.json');
  }

  encode(text: string, options: EncodeOptions = {}): number[] {
    return this.tok.encode(text, { add_special_tokens: options.addSpecialTokens ?? true }).ids;
  }

  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
        throw new InputError(`decode: token id ${id} is outside the tokenizer's vocabulary (0..${this.vocabSize - 1})`);
      }
    }
    const kept = options.skipSpecialTokens ? ids.filter((id) => !this.specialTokenIds.has(id)) : [...ids];
    if (kept.length === 0) return '';
    return this.tok.decode(kept, { skip_special_tokens: options.skipSpecialTokens ?? false });
  }

  idToToken(id: number): string | null {
    return this.tok.id_to_token(id) ?? null;
  }

  tokenToId(token: string): number | null {
    return this.tok.token_to_id(token) ?? null;
  }

  /** Render the chat template (the checkpoint's, else FALLBACK_CHAT_TEMPLATE) to a prompt string. */
  applyChatTemplate(messages: readonly ChatMessage[], options: ChatTemplateOptions = {}): string {
    if (!this.compiled) {
      const source = this.chatTemplate ?? FALLBACK_CHAT_TEMPLATE;
      // @huggingface/jinja is required at the first chat prompt, not imported at the top: a
      // plain-text prompt never renders a template, and the import cost every tokenizer load
      // 10–15 ms of CPU (measured). Its CommonJS build keeps this method synchronous.
      const jinja = createRequire(import.meta.url)('@huggingface/jinja') as typeof import('@huggingface/jinja');
      try {
        this.compiled = new jinja.Template(source);
      } catch (e) {
        throw new CheckpointError(`${this.templateSource}: chat_template does not parse (${(e as Error).message})`, { cause: e });
      }
    }
    for (const [i, m] of messages.entries()) {
      if (typeof m?.role !== 'string' || typeof m?.content !== 'string') {
        throw new InputError(`chat message ${i} must have string 'role' and 'content'`);
      }
    }
    try {
      return this.compiled.render({
        ...options.extra,
        messages: messages.map((m) => ({ role: m.role, content: m.content })),
        add_generation_prompt: options.addGenerationPrompt ?? false,
        bos_token: this.bos?.token ?? '',
        eos_token: this.eos?.token ?? '',
        pad_token: this.pad?.token ?? '',
        unk_token: this.unk?.token ?? '',
        mask_token: this.mask?.token ?? '',
      });
    } catch (e) {
      // Templates reject bad conversations (e.g. roles that do not alternate) via raise_exception.
      throw new InputError(`chat template (${this.templateSource}) rejected the messages: ${(e as Error).message}`, { cause: e });
    }
  }
}

/**
 * Load `tokenizer.json` (required) and `tokenizer_config.json` (optional) from a checkpoint
 * directory. A `chat_template.jinja` file, where newer transformers versions keep the template,
 * takes precedence over tokenizer_config's `chat_template`.
 */
export function loadTokenizer(dir: string): TextTokenizer {
  const tokFile = join(dir, 'tokenizer.json');
  if (!existsSync(tokFile)) throw new CheckpointError(`${tokFile}: file not found`);
  const tokenizerJson = readJson(tokFile);
  const cfgFile = join(dir, 'tokenizer_config.json');
  const config = existsSync(cfgFile) ? readJson(cfgFile) : {};
  const jinjaFile = join(dir, 'chat_template.jinja');
  const override = existsSync(jinjaFile) ? readFileSync(jinjaFile, 'utf8') : null;
  return new TextTokenizer(tokenizerJson, config, dir, override);
}

/** Special tokens of the word-level tokenizers paradec writes; ids 0..3 in this order. */
export const WORD_TOKENIZER_SPECIALS = { pad: '<|pad|>', bos: '<|bos|>', eos: '<|eos|>', unk: '<|unk|>' } as const;
export const WORD_TOKENIZER_MASK = '<|mask|>';

/** Ordinary tokens of the default vocabulary, in id order after the specials. */
const DEFAULT_WORDS: readonly string[] = (
  'the a an of to and in is it that was for on are with as he she they we you i be at by this had not but from or have ' +
  'one all were her his there been if more when will would who so no what up out about than into them can only other ' +
  'time new some could these two may first then do any like my now over such our man me even most made after also did ' +
  'many before must through back years where much your way well down should because each just those people how too ' +
  'user assistant system hello world yes cat dog sat ran red blue green big small ' +
  '0 1 2 3 4 5 6 7 8 9 . , ? ! : ; \' " ( ) - +'
).split(' ');

export interface WordTokenizerOptions {
  vocabSize: number;
  /**
   * Ordinary tokens, filling the ids after the specials in order (default: a built-in list of
   * common English words, digits and punctuation, then `w<id>`). Each must be one piece under the
   * Whitespace pre-tokenizer (a run of word characters, or a run of punctuation).
   */
  words?: readonly string[];
  /** Id of the mask token `<|mask|>` (diffusion models), or null for none. */
  maskTokenId?: number | null;
  /** Written to tokenizer_config.json's `chat_template`; omitted → the fallback template applies. */
  chatTemplate?: string | null;
}

/**
 * Write a word-level tokenizer.json (+ tokenizer_config.json): every id in [0, vocabSize) is a
 * token, ids 0..3 are pad/bos/eos/unk, the mask token sits at `maskTokenId`. Loadable by paradec
 * and by Python `tokenizers` alike, so test checkpoints are complete HF directories.
 */
export function writeWordTokenizer(dir: string, options: WordTokenizerOptions): void {
  const V = options.vocabSize;
  const mask = options.maskTokenId ?? null;
  if (!Number.isInteger(V) || V < 5) throw new OptionError(`writeWordTokenizer: vocabSize must be an integer >= 5, got ${V}`);
  if (mask !== null && (!Number.isInteger(mask) || mask < 4 || mask >= V)) {
    throw new OptionError(`writeWordTokenizer: maskTokenId ${mask} must lie in [4, ${V}) (ids 0..3 are pad/bos/eos/unk)`);
  }
  const specials = [WORD_TOKENIZER_SPECIALS.pad, WORD_TOKENIZER_SPECIALS.bos, WORD_TOKENIZER_SPECIALS.eos, WORD_TOKENIZER_SPECIALS.unk];
  const words = options.words ?? DEFAULT_WORDS;
  const vocab: Record<string, number> = {};
  const tokens: string[] = new Array<string>(V);
  specials.forEach((s, i) => (tokens[i] = s));
  if (mask !== null) tokens[mask] = WORD_TOKENIZER_MASK;
  let next = 0;
  for (let id = 0; id < V; id++) {
    if (tokens[id] !== undefined) continue;
    tokens[id] = next < words.length ? words[next++]! : `w${id}`;
  }
  for (const [id, t] of tokens.entries()) {
    if (t.length === 0 || /\s/.test(t)) throw new OptionError(`writeWordTokenizer: word ${JSON.stringify(t)} (id ${id}) is empty or contains whitespace`);
    if (vocab[t] !== undefined) throw new OptionError(`writeWordTokenizer: word ${JSON.stringify(t)} appears twice (ids ${vocab[t]} and ${id})`);
    vocab[t] = id;
  }
  const addedIds = [0, 1, 2, 3, ...(mask !== null ? [mask] : [])];
  const tokenizerJson = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedIds.map((id) => ({
      id, content: tokens[id], single_word: false, lstrip: false, rstrip: false, normalized: false, special: true,
    })),
    normalizer: null,
    pre_tokenizer: { type: 'Whitespace' },
    post_processor: null,
    decoder: null,
    model: { type: 'WordLevel', vocab, unk_token: WORD_TOKENIZER_SPECIALS.unk },
  };
  const tokenizerConfig: JsonObject = {
    tokenizer_class: 'PreTrainedTokenizerFast',
    bos_token: WORD_TOKENIZER_SPECIALS.bos,
    eos_token: WORD_TOKENIZER_SPECIALS.eos,
    pad_token: WORD_TOKENIZER_SPECIALS.pad,
    unk_token: WORD_TOKENIZER_SPECIALS.unk,
    clean_up_tokenization_spaces: false,
  };
  if (mask !== null) tokenizerConfig['mask_token'] = WORD_TOKENIZER_MASK;
  if (options.chatTemplate) tokenizerConfig['chat_template'] = options.chatTemplate;
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tokenizerJson, null, 1));
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(tokenizerConfig, null, 2));
}
