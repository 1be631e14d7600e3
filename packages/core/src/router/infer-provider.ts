/**
 * Routing without a config: a plain OpenAI client reaches any provider by model name —
 * `anthropic/claude-…` (explicit prefix) or a well-known family (`claude-…`, `gemini-…`).
 */
const FAMILIES: Array<[RegExp, string]> = [
  [/^claude-/, 'anthropic'],
  [/^(gemini-|gemma-|text-embedding-00|gemini-embedding)/, 'google'],
  [/^(gpt-|o\d|chatgpt-|text-embedding-|davinci|babbage|omni-moderation)/, 'openai'],
  [/^(mistral-|mixtral-|codestral|magistral|ministral|pixtral|open-mistral)/, 'mistral'],
  [/^(command|embed-|c4ai-)/, 'cohere'],
  [/^deepseek-/, 'deepseek'],
  [/^grok-/, 'xai'],
  [/^(anthropic|amazon|meta|cohere|mistral|ai21|us|eu|apac|global)\.[a-z]/, 'bedrock'],
  [/^mock/, 'mock'],
];

export function inferProvider(model: string, known: (id: string) => boolean): { provider: string; model: string } | undefined {
  const slash = model.indexOf('/');
  if (slash > 0) {
    const prefix = model.slice(0, slash);
    if (known(prefix)) return { provider: prefix, model: model.slice(slash + 1) };
  }
  for (const [pattern, provider] of FAMILIES) if (pattern.test(model)) return { provider, model };
  return undefined;
}
