/**
 * How a task prompt is turned into the text a built-in model sees. The spec lets callers pass a
 * prompt with or without one trailing newline and requires the same result, so every entry point
 * (CLI, API, server, trainer, the tokenizer's chat template) must go through the same
 * normalization: this module is that single place.
 */

/** The prompt as written in the spec's table: one optional trailing `\n` removed. */
export function normalizePrompt(prompt: string): string {
  return prompt.endsWith('\n') ? prompt.slice(0, -1) : prompt;
}

/** The exact model input for a prompt: the prompt followed by exactly one `\n`. */
export function promptText(prompt: string): string {
  return `${normalizePrompt(prompt)}\n`;
}
