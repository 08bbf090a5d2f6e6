import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadTokenizer, writeWordTokenizer, FALLBACK_CHAT_TEMPLATE } from '../../src/model/tokenizer.js';
import { writeRandomCheckpoint } from '../../src/model/checkpoint.js';
import { CheckpointError, InputError, OptionError } from '../../src/errors.js';
import { tempDir, throwsWith, writeJson } from './helpers.js';

/** GPT-2's byte → printable character table, as byte-level BPE vocabularies use it. */
function bytesToUnicode(): string[] {
  const bs: number[] = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const table: string[] = new Array<string>(256);
  for (const b of bs) table[b] = String.fromCharCode(b);
  let n = 0;
  for (let b = 0; b < 256; b++) if (table[b] === undefined) table[b] = String.fromCharCode(256 + n++);
  return table;
}

const CHATML = "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/** A small Qwen-style byte-level BPE tokenizer with ChatML special tokens. */
function writeByteLevelTokenizer(dir: string, config: Record<string, unknown> = {}): void {
  const vocab: Record<string, number> = {};
  bytesToUnicode().forEach((ch, i) => (vocab[ch] = i));
  const merges = [['h', 'e'], ['l', 'l'], ['he', 'll'], ['Ġ', 'w']];
  for (const [a, b] of merges) vocab[a! + b!] = Object.keys(vocab).length;
  const specials = ['<|endoftext|>', '<|im_start|>', '<|im_end|>'];
  const base = Object.keys(vocab).length;
  writeJson(join(dir, 'tokenizer.json'), {
    version: '1.0',
    added_tokens: specials.map((content, i) => ({ id: base + i, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '', fuse_unk: false, byte_fallback: false, vocab, merges: merges.map((m) => m.join(' ')) },
  });
  writeJson(join(dir, 'tokenizer_config.json'), {
    eos_token: '<|im_end|>', pad_token: { content: '<|endoftext|>', lstrip: false, special: true }, bos_token: null,
    chat_template: CHATML, clean_up_tokenization_spaces: false, ...config,
  });
}

test('word-level tokenizer of a random checkpoint: round trip, specials, vocab size', () => {
  const dir = tempDir();
  writeRandomCheckpoint(dir, { architecture: 'llada', vocabSize: 300, hiddenSize: 16, numLayers: 1, numHeads: 2, intermediateSize: 32, seed: 1 });
  const tok = loadTokenizer(dir);
  assert.equal(tok.vocabSize, 300);
  assert.deepEqual(tok.pad, { token: '<|pad|>', id: 0 });
  assert.deepEqual(tok.bos, { token: '<|bos|>', id: 1 });
  assert.deepEqual(tok.eos, { token: '<|eos|>', id: 2 });
  assert.deepEqual(tok.unk, { token: '<|unk|>', id: 3 });
  assert.deepEqual(tok.mask, { token: '<|mask|>', id: 299 });
  const ids = tok.encode('the cat sat on the dog , yes !');
  assert.equal(ids.length, 9);
  assert.equal(ids[0], ids[4], 'same word, same id');
  assert.ok(ids.every((id) => id >= 4 && id < 299));
  assert.equal(tok.decode(ids), 'the cat sat on the dog , yes !');
  assert.equal(tok.idToToken(ids[1]!), 'cat');
  assert.equal(tok.tokenToId('cat'), ids[1]);
  assert.equal(tok.tokenToId('w298'), 298, 'filler words cover the whole vocabulary');
  assert.equal(tok.tokenToId('zebra'), null);
  assert.equal(tok.idToToken(5000), null);
  assert.deepEqual(tok.encode('the zebra'), [ids[0], 3], 'unknown word → unk');
  assert.deepEqual(tok.encode('cat<|mask|><|mask|>dog'), [ids[1], 299, 299, ids[5]], 'added tokens split the text');
  assert.equal(tok.decode([1, ids[1]!, 299, 2], { skipSpecialTokens: true }), 'cat');
  assert.equal(tok.decode([1, ids[1]!, 299, 2]), '<|bos|> cat <|mask|> <|eos|>');
  assert.equal(tok.decode([]), '');
  assert.ok(tok.specialTokenIds.has(299) && tok.specialTokenIds.has(0) && !tok.specialTokenIds.has(ids[1]!));
  throwsWith(() => tok.decode([300]), InputError, '300');
  throwsWith(() => tok.decode([1.5]), InputError, '1.5');
});

test('writeWordTokenizer takes given words and rejects bad ones', () => {
  const dir = tempDir();
  writeWordTokenizer(dir, { vocabSize: 8, words: ['alpha', 'beta'], maskTokenId: 6 });
  const tok = loadTokenizer(dir);
  assert.deepEqual([tok.tokenToId('alpha'), tok.tokenToId('beta'), tok.tokenToId('w7')], [4, 5, 7]);
  assert.equal(tok.idToToken(6), '<|mask|>');
  // without tokenizer_config.json: no roles, but the WordLevel model's own unk still applies
  rmSync(join(dir, 'tokenizer_config.json'));
  const bare = loadTokenizer(dir);
  assert.equal(bare.unk?.id, 3);
  assert.equal(bare.eos, null);
  assert.deepEqual(bare.encode('beta zebra'), [5, 3]);
  throwsWith(() => writeWordTokenizer(dir, { vocabSize: 8, words: ['a', 'a'] }), OptionError, '"a"', 'twice');
  throwsWith(() => writeWordTokenizer(dir, { vocabSize: 8, words: ['a b'] }), OptionError, '"a b"');
  throwsWith(() => writeWordTokenizer(dir, { vocabSize: 8, maskTokenId: 2 }), OptionError, 'maskTokenId');
  // the default word list has no duplicates
  writeWordTokenizer(tempDir(), { vocabSize: 400 });
});

test('byte-level BPE: exact round trip of any text, added tokens, skip special', () => {
  const dir = tempDir();
  writeByteLevelTokenizer(dir);
  const tok = loadTokenizer(dir);
  assert.equal(tok.vocabSize, 256 + 4 + 3);
  assert.deepEqual(tok.eos, { token: '<|im_end|>', id: 262 });
  assert.deepEqual(tok.pad, { token: '<|endoftext|>', id: 260 }, 'AddedToken-object form in tokenizer_config');
  assert.equal(tok.bos, null);
  const text = 'hello world — héllo wörld 你好 🙂\n\ttabs';
  const ids = tok.encode(text);
  assert.equal(tok.decode(ids), text);
  assert.deepEqual(tok.encode('hello').slice(0, 1), [tok.tokenToId('hell')], 'merges apply');
  const withSpecial = tok.encode('<|im_start|>user\nhello<|im_end|>');
  assert.equal(withSpecial[0], 261);
  assert.equal(withSpecial.at(-1), 262);
  assert.equal(tok.decode(withSpecial, { skipSpecialTokens: true }), 'user\nhello');
  assert.ok(tok.specialTokenIds.has(261), 'added tokens flagged special count as special without a role');
  assert.ok(!tok.specialTokenIds.has(withSpecial[1]!));
});

test('chat template: the checkpoint\'s own, with and without generation prompt', () => {
  const dir = tempDir();
  writeByteLevelTokenizer(dir);
  const tok = loadTokenizer(dir);
  assert.equal(tok.chatTemplate, CHATML);
  const msgs = [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'hi' }];
  assert.equal(tok.applyChatTemplate(msgs), '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n');
  const prompt = tok.applyChatTemplate(msgs, { addGenerationPrompt: true });
  assert.ok(prompt.endsWith('<|im_end|>\n<|im_start|>assistant\n'));
  assert.equal(tok.encode(prompt).filter((id) => id === 261).length, 3, 'template markers encode as single special ids');
});

test('chat template: fallback, list form, chat_template.jinja, extra variables', () => {
  const dir = tempDir();
  writeWordTokenizer(dir, { vocabSize: 200 });
  const tok = loadTokenizer(dir);
  assert.equal(tok.chatTemplate, null);
  assert.equal(tok.applyChatTemplate([{ role: 'user', content: 'hello' }, { role: 'assistant', content: 'yes' }], { addGenerationPrompt: true }), 'user: hello\nassistant: yes\nassistant:');
  assert.equal(tok.applyChatTemplate([{ role: 'user', content: 'hello' }]), 'user: hello\n');
  assert.ok(FALLBACK_CHAT_TEMPLATE.includes('add_generation_prompt'));

  const listDir = tempDir();
  writeByteLevelTokenizer(listDir, { chat_template: [{ name: 'tool_use', template: 'TOOLS' }, { name: 'default', template: '{{ bos_token }}D{{ eos_token }}{{ flag }}' }] });
  assert.equal(loadTokenizer(listDir).applyChatTemplate([], { extra: { flag: 'x' } }), 'D<|im_end|>x');

  writeFileSync(join(listDir, 'chat_template.jinja'), '{{ messages[0].content | upper }}');
  assert.equal(loadTokenizer(listDir).applyChatTemplate([{ role: 'user', content: 'abc' }]), 'ABC');
});

test('chat template errors: unparsable → CheckpointError, raise_exception → InputError', () => {
  const bad = tempDir();
  writeByteLevelTokenizer(bad, { chat_template: '{% for m in messages %}{{ m.content }' });
  const tok = loadTokenizer(bad); // loading must not fail on a template that is never used
  throwsWith(() => tok.applyChatTemplate([{ role: 'user', content: 'x' }]), CheckpointError, join(bad, 'tokenizer_config.json'));
  const strict = tempDir();
  writeByteLevelTokenizer(strict, { chat_template: "{% if messages[0]['role'] != 'user' %}{{ raise_exception('first message must be from the user') }}{% endif %}ok" });
  const t2 = loadTokenizer(strict);
  assert.equal(t2.applyChatTemplate([{ role: 'user', content: 'x' }]), 'ok');
  throwsWith(() => t2.applyChatTemplate([{ role: 'assistant', content: 'x' }]), InputError, 'first message must be from the user');
});

test('missing or malformed tokenizer files: CheckpointError naming the path', () => {
  const dir = tempDir();
  throwsWith(() => loadTokenizer(dir), CheckpointError, join(dir, 'tokenizer.json'), 'not found');
  writeFileSync(join(dir, 'tokenizer.json'), '{"model": ');
  throwsWith(() => loadTokenizer(dir), CheckpointError, join(dir, 'tokenizer.json'), 'JSON');
  writeJson(join(dir, 'tokenizer.json'), { version: '1.0' });
  throwsWith(() => loadTokenizer(dir), CheckpointError, join(dir, 'tokenizer.json'), "'model'");
  const cfgDir = tempDir();
  writeByteLevelTokenizer(cfgDir);
  writeFileSync(join(cfgDir, 'tokenizer_config.json'), '[1,2]');
  throwsWith(() => loadTokenizer(cfgDir), CheckpointError, join(cfgDir, 'tokenizer_config.json'));
});
