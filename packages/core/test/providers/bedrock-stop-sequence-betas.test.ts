/**
 * Claude on Bedrock: which of several stop sequences stopped the answer (Converse returns it only in
 * `additionalModelResponseFields` when the request names `/stop_sequence`), and which beta flags
 * InvokeModel gets (the client's only where Bedrock documents them; the operator's always).
 */
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { cassette, fixtureJson } from '../../../../test/helpers/fixtures.js';
import { EVENTSTREAM, bedrockGateway, eventFrame } from './bedrock-setup.js';

const SONNET = 'us.anthropic.claude-sonnet-4-5-20250929-v1:0';
const NOVA = 'us.amazon.nova-micro-v1:0';
const path = (model: string, op: string) => `/model/${encodeURIComponent(model)}/${op}`;
type Choice = { stop_sequence?: string | null };

describe('bedrock Converse stop sequences', () => {
  const g = bedrockGateway();
  const ask = (model: string, stop: string[], extra: Record<string, unknown> = {}) =>
    g.client.chat.completions.create({ model, max_tokens: 50, stop, messages: [{ role: 'user', content: 'Go.' }], ...extra } as OpenAI.ChatCompletionCreateParamsNonStreaming);

  it('asks Claude which of several sequences it stopped at, beside the field paths the client asked for', async () => {
    g.upstream.route('*', { json: fixtureJson('bedrock/converse.text.json') });
    await ask(SONNET, ['A:', 'B:']);
    await ask(SONNET, ['A:', 'B:'], { additionalModelResponseFieldPaths: ['/other'] });
    await ask(SONNET, ['A:']);
    await ask(NOVA, ['A:', 'B:']);
    expect(g.upstream.requests.map((r) => r.json.additionalModelResponseFieldPaths)).toEqual([['/stop_sequence'], ['/other', '/stop_sequence'], undefined, undefined]);
  });

  it('names the sequence from additionalModelResponseFields, or none when Converse did not say', async () => {
    const stopped = { ...fixtureJson('bedrock/converse.text.json'), stopReason: 'stop_sequence' };
    g.upstream.enqueue(path(SONNET, 'converse'), { json: { ...stopped, additionalModelResponseFields: { stop_sequence: 'B:' } } }, { json: stopped });
    const named = await ask(SONNET, ['A:', 'B:']);
    const unnamed = await ask(SONNET, ['A:', 'B:']);
    expect(named.choices[0]!.finish_reason).toBe('stop');
    expect((named.choices[0] as Choice).stop_sequence).toBe('B:');
    expect((unnamed.choices[0] as Choice).stop_sequence).toBeNull();
  });

  it('names it in a stream from messageStop', async () => {
    g.upstream.enqueue(path(SONNET, 'converse-stream'), {
      headers: EVENTSTREAM,
      chunks: [
        eventFrame('messageStart', { role: 'assistant' }),
        eventFrame('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'Thought' } }),
        eventFrame('contentBlockStop', { contentBlockIndex: 0 }),
        eventFrame('messageStop', { stopReason: 'stop_sequence', additionalModelResponseFields: { stop_sequence: 'A:' } }),
        eventFrame('metadata', { usage: { inputTokens: 3, outputTokens: 1, totalTokens: 4 }, metrics: { latencyMs: 1 } }),
      ],
    });
    const stream = await g.client.chat.completions.create({ model: SONNET, max_tokens: 50, stop: ['A:', 'B:'], stream: true, messages: [{ role: 'user', content: 'Go.' }] });
    const finishing: Choice[] = [];
    for await (const c of stream) for (const ch of c.choices) if (ch.finish_reason) finishing.push(ch as Choice);
    expect(finishing.map((ch) => ch.stop_sequence)).toEqual(['A:']);
  });
});

describe('bedrock InvokeModel beta flags', () => {
  const answer = cassette('bedrock/invoke.anthropic-messages.cassette.yaml')[0]!.response.parsed_body;
  const own = bedrockGateway({ target: { bedrock_api: 'invoke', anthropic_beta: 'operator-only-2099-01-01' } });
  const overridden = bedrockGateway({ target: { bedrock_api: 'invoke', override_params: { anthropic_beta: ['operator-override-2099-01-01'] } } });
  const beta = (g: typeof own, header: string, body: Record<string, unknown> = {}) => {
    g.upstream.route('*', { json: answer });
    return g.client.chat.completions.create({ model: SONNET, messages: [{ role: 'user', content: 'hi' }], ...body } as OpenAI.ChatCompletionCreateParamsNonStreaming, { headers: { 'anthropic-beta': header } });
  };

  it("filter the client's flags, header and body, and keep the target's own as configured", async () => {
    await beta(own, 'oauth-2025-04-20, interleaved-thinking-2025-05-14', { anthropic_beta: ['claude-code-20250219', 'context-1m-2025-08-07'] });
    expect(own.upstream.requests[0]!.json.anthropic_beta).toEqual(['operator-only-2099-01-01', 'context-1m-2025-08-07', 'interleaved-thinking-2025-05-14']);
  });

  it("keep an override_params anthropic_beta, which replaced the client's body flags", async () => {
    await beta(overridden, 'oauth-2025-04-20,context-1m-2025-08-07', { anthropic_beta: ['token-efficient-tools-2025-02-19'] });
    expect(overridden.upstream.requests[0]!.json.anthropic_beta).toEqual(['operator-override-2099-01-01', 'context-1m-2025-08-07']);
  });
});
