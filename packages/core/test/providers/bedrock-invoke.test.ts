import { describe, expect, it } from 'vitest';
import { cassette, fixtureText, splitSse, type CassetteInteraction } from '../../../../test/helpers/fixtures.js';
import { EVENTSTREAM, bedrockGateway, eventFrame, exceptionFrame, expectValidSigV4 } from './bedrock-setup.js';

const g = bedrockGateway({ target: { bedrock_api: 'invoke' } });
const [recorded] = cassette('bedrock/invoke.anthropic-messages.cassette.yaml') as [CassetteInteraction];
const answer = (recorded.response as { parsed_body?: any }).parsed_body;
const asked = (recorded.request as { parsed_body?: any }).parsed_body;
const OPUS = 'us.anthropic.claude-opus-4-8';

/**
 * InvokeModelWithResponseStream wraps each Anthropic event as `{"bytes": base64}` in a `chunk` frame
 * (AWS API reference). No such stream was recorded, so recorded Anthropic SSE events are framed that way.
 */
function invokeFrames(sse: string): Uint8Array[] {
  return splitSse(sse)
    .map((ev) => /^data: (.*)$/m.exec(ev)?.[1])
    .filter((d): d is string => !!d)
    .map((data) => eventFrame('chunk', { bytes: Buffer.from(data).toString('base64') }));
}

describe('bedrock InvokeModel with the Anthropic Messages body (bedrock_api: "invoke")', () => {
  it('sends the native Claude body the recording shows and reads the recorded answer', async () => {
    const path = new URL(recorded.request.uri).pathname;
    expect(path).toBe('/model/us.anthropic.claude-opus-4-8/invoke');
    g.upstream.enqueue(path, { json: answer });
    const c = await g.client.chat.completions.create({
      model: OPUS,
      messages: [
        { role: 'system', content: asked.system },
        ...asked.messages.slice(0, 3).map((m: any) => ({ role: m.role, content: m.content[0].text })),
      ],
    });
    expect(c.choices[0]!.message.content).toBe(answer.content[0].text);
    expect(c.choices[0]!.finish_reason).toBe('stop');
    expect(c.usage).toMatchObject({ prompt_tokens: 68, completion_tokens: 508, total_tokens: 576 });
    const sent = g.upstream.requests[0]!;
    expect(sent.path).toBe(path);
    expectValidSigV4(sent);
    expect(sent.json.anthropic_version).toBe(asked.anthropic_version);
    expect(sent.json.max_tokens).toBe(asked.max_tokens);
    expect(sent.json).not.toHaveProperty('model');
    expect(sent.json).not.toHaveProperty('stream');
    expect(JSON.stringify(sent.json.system)).toContain(asked.system);
    expect(sent.json.messages).toEqual(asked.messages.slice(0, 3));
  });

  it('streams through invoke-with-response-stream, unwrapping each chunk for the Anthropic translator', async () => {
    const sse = fixtureText('anthropic/messages.parallel-tool-use.stream.sse');
    g.upstream.enqueue(`/model/${OPUS}/invoke-with-response-stream`, { headers: EVENTSTREAM, chunks: invokeFrames(sse) });
    const stream = await g.client.chat.completions.create({ model: OPUS, messages: [{ role: 'user', content: 'x' }], stream: true, stream_options: { include_usage: true } });
    const tools = new Map<number, { name?: string; args: string }>();
    let usage;
    for await (const c of stream) {
      if (c.usage) usage = c.usage;
      for (const t of c.choices[0]?.delta.tool_calls ?? []) {
        const acc = tools.get(t.index) ?? { args: '' };
        if (t.function?.name) acc.name = t.function.name;
        acc.args += t.function?.arguments ?? '';
        tools.set(t.index, acc);
      }
    }
    expect(tools.size).toBeGreaterThan(1);
    for (const t of tools.values()) expect(() => JSON.parse(t.args)).not.toThrow();
    expect(usage).toBeTruthy();
    const sent = g.upstream.requests[0]!;
    expect(sent.headers.accept).toBe('application/vnd.amazon.eventstream');
    expect(sent.json).not.toHaveProperty('stream');
    expectValidSigV4(sent);
  });

  it('surfaces an exception frame in the invoke stream with its status', async () => {
    g.upstream.enqueue(`/model/${OPUS}/invoke-with-response-stream`, { headers: EVENTSTREAM, chunks: [exceptionFrame('throttlingException', 'Too many tokens')] });
    const err = await g.client.chat.completions.create({ model: OPUS, messages: [{ role: 'user', content: 'x' }], stream: true }).catch((e) => e);
    expect(err.status).toBe(429);
    expect(err.error.message).toBe('Too many tokens');
  });

  it('refuses a non-Claude model in invoke mode with a 400 naming the model', async () => {
    const err = await g.client.chat.completions.create({ model: 'us.amazon.nova-micro-v1:0', messages: [{ role: 'user', content: 'x' }] }).catch((e) => e);
    expect(err.status).toBe(400);
    expect(err.error.param).toBe('model');
    expect(g.upstream.requests).toHaveLength(0);
  });
});
