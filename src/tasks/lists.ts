/**
 * Lists of the waiting-line tasks: how they are written, how predictions are parsed leniently,
 * and ParallelBench's list metrics (`dataset/parallel_bench/metrics.py`), as restated in
 * TASKS.md. Scores are 0 | 1 per instance.
 */

/** Python's `'["' + '", "'.join(items) + '"]'`. */
export function formatList(items: readonly string[]): string {
  return `["${items.join('", "')}"]`;
}

const STRIP_SPACES_QUOTES = /^[ "]+|[ "]+$/g;

/**
 * The spec's lenient list parser: the text after the last `[` up to the next `]` (the whole text
 * where either is missing), split on `,`, spaces and `"` stripped from both ends of each item,
 * empty items dropped. (ParallelBench's code keeps an item such as `""` as an empty string; the
 * spec drops it, and the spec wins.)
 */
export function parseListLenient(text: string): string[] {
  let s = text;
  const open = s.lastIndexOf('[');
  if (open >= 0) s = s.slice(open + 1);
  const close = s.indexOf(']');
  if (close >= 0) s = s.slice(0, close);
  return s
    .split(',')
    .map((item) => item.replace(STRIP_SPACES_QUOTES, ''))
    .filter((item) => item.length > 0);
}

/**
 * Whether an item survives `formatList` → `parseListLenient` unchanged (and keeps a prompt on one
 * line). Prompts whose items fail this could not be scored consistently, so parsing rejects them.
 */
export function isValidListItem(item: string): boolean {
  return item.length > 0 && !/[",[\]\n\r]/.test(item) && !item.startsWith(' ') && !item.endsWith(' ');
}

/**
 * The inverse of `formatList` for prompt text: the items if `text` is exactly a formatted,
 * non-empty list of valid items, else null.
 */
export function parseListExact(text: string): string[] | null {
  if (!text.startsWith('["') || !text.endsWith('"]') || text.length < 4) return null;
  const items = text.slice(2, -2).split('", "');
  return items.every(isValidListItem) ? items : null;
}

/** Codepoint order, as Python's `sorted` on str (JS `<` compares UTF-16 units instead). */
export function compareCodepoints(a: string, b: string): number {
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const ca = ia.next();
    const cb = ib.next();
    if (ca.done === true) return cb.done === true ? 0 : -1;
    if (cb.done === true) return 1;
    const d = (ca.value.codePointAt(0) as number) - (cb.value.codePointAt(0) as number);
    if (d !== 0) return d;
  }
}

export function sortedByCodepoint(items: readonly string[]): string[] {
  return [...items].sort(compareCodepoints);
}

export function listsEqual(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** list match: the parsed prediction equals the expected list. */
export function scoreListMatch(expected: readonly string[], prediction: string): 0 | 1 {
  return listsEqual(parseListLenient(prediction), expected) ? 1 : 0;
}

/** shuffle: same multiset as the input, different order. */
export function scoreShuffle(input: readonly string[], prediction: string): 0 | 1 {
  const pred = parseListLenient(prediction);
  return listsEqual(sortedByCodepoint(pred), sortedByCodepoint(input)) && !listsEqual(pred, input) ? 1 : 0;
}

/** random insert: the prediction contains `word`; removing its first occurrence leaves the input. */
export function scoreRandomInsert(input: readonly string[], word: string, prediction: string): 0 | 1 {
  const pred = parseListLenient(prediction);
  const at = pred.indexOf(word);
  if (at < 0) return 0;
  pred.splice(at, 1);
  return listsEqual(pred, input) ? 1 : 0;
}

/**
 * random remove, as ParallelBench computes it: one item shorter, exactly one input value missing
 * from the prediction, and the input minus (the first occurrence of) that value equals it.
 */
export function scoreRandomRemove(input: readonly string[], prediction: string): 0 | 1 {
  const pred = parseListLenient(prediction);
  if (pred.length !== input.length - 1) return 0;
  const predSet = new Set(pred);
  const missing = [...new Set(input)].filter((x) => !predSet.has(x));
  if (missing.length !== 1) return 0;
  const rest = [...input];
  rest.splice(rest.indexOf(missing[0] as string), 1);
  return listsEqual(pred, rest) ? 1 : 0;
}

/**
 * random replace: same length as the input; with j the first index of `word` in the prediction,
 * the input with item j replaced by `word` equals the prediction.
 */
export function scoreRandomReplace(input: readonly string[], word: string, prediction: string): 0 | 1 {
  const pred = parseListLenient(prediction);
  if (pred.length !== input.length) return 0;
  const j = pred.indexOf(word);
  if (j < 0) return 0;
  const expected = [...input];
  expected[j] = word;
  return listsEqual(pred, expected) ? 1 : 0;
}
