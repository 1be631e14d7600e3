/**
 * The gateway config for the examples: the built-in `mock` provider (no network, no key) unless
 * OPENAI_API_KEY is set, then OpenAI with the mock as fallback, so the app keeps answering when
 * OpenAI fails. Any model name works: the mock target answers as `mock-1`.
 */
const mock = { provider: 'mock', override_params: { model: 'mock-1' }, mock_delay_ms: 30 };

export function gatewayConfig(env = process.env) {
  if (!env.OPENAI_API_KEY) return { targets: [mock] };
  return { strategy: { mode: 'fallback' }, targets: [{ provider: 'openai' }, mock] };
}

/** The start-up lines: where the app is, what the gateway calls, and a request to paste. */
export function banner(framework, url, env = process.env) {
  const upstream = env.OPENAI_API_KEY
    ? 'OpenAI (OPENAI_API_KEY), falling back to the built-in mock provider'
    : 'the built-in mock provider (set OPENAI_API_KEY to call OpenAI, with the mock as fallback)';
  const body = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hello!' }] });
  return [
    `llmux ${framework} example listening on ${url}`,
    `  OpenAI-compatible gateway: ${url}/llm/v1  →  ${upstream}`,
    `  playground: ${url}/llm/playground`,
    `  try: curl ${url}/llm/v1/chat/completions -H 'content-type: application/json' -d '${body}'`,
  ].join('\n');
}
