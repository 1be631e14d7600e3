import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { cassette, fixtureJson, type CassetteInteraction } from '../../../../test/helpers/fixtures.js';
import { AWS, bedrockGateway, expectValidSigV4 } from './bedrock-setup.js';

const g = bedrockGateway();
const SONNET = 'us.anthropic.claude-sonnet-4-5-20250929-v1:0';
const SONNET_PATH = '/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse';
const PNG = 'iVBORw0KGgo=';
/** pydantic-ai cassettes keep JSON answers under `response.parsed_body`. */
const parsed = (i: CassetteInteraction): any => (i.response as { parsed_body?: unknown }).parsed_body;

describe('bedrock Converse, non-stream, replaying the recorded bodies', () => {
  it('signs the call with SigV4 for the target region and the encoded model id', async () => {
    g.upstream.enqueue(SONNET_PATH, { json: fixtureJson('bedrock/converse.text.json') });
    await g.client.chat.completions.create({ model: SONNET, messages: [{ role: 'user', content: 'Hi' }] });
    const sent = g.upstream.requests[0]!;
    expect(sent.method).toBe('POST');
    expect(sent.path).toBe(SONNET_PATH);
    const { signedHeaders, scope } = expectValidSigV4(sent);
    expect(scope).toMatch(new RegExp(`^\\d{8}/${AWS.region}/bedrock/aws4_request$`));
    expect(signedHeaders).toEqual(expect.arrayContaining(['host', 'content-type', 'x-amz-date', 'x-amz-content-sha256', 'x-amz-security-token']));
    expect(sent.headers['x-amz-security-token']).toBe(AWS.sessionToken);
    expect(sent.headers.host).toBe(new URL(g.upstream.url).host);
    expect(sent.headers['content-type']).toBe('application/json');
    expect(sent.headers.accept).toBe('application/json');
    expect(sent.text).not.toContain(AWS.secretAccessKey);
  });

  it('answers with the recorded text, stop reason and usage', async () => {
    const recorded = fixtureJson('bedrock/converse.text.json');
    g.upstream.enqueue(SONNET_PATH, { json: recorded });
    const res = await g.client.chat.completions.create({ model: SONNET, messages: [{ role: 'user', content: 'How many rs in strawberry?' }] }).withResponse();
    expect(res.response.headers.get('x-llmux-provider')).toBe('bedrock');
    const c = res.data;
    expect(c.object).toBe('chat.completion');
    expect(c.model).toBe(SONNET);
    expect(c.choices[0]!.message.content).toBe(recorded.output.message.content[0].text);
    expect(c.choices[0]!.finish_reason).toBe('stop');
    expect(c.usage).toMatchObject({ prompt_tokens: 22, completion_tokens: 57, total_tokens: 79 });
  });

  it('translates every OpenAI field into the Converse body', async () => {
    g.upstream.enqueue(SONNET_PATH, { json: fixtureJson('bedrock/converse.text.json') });
    await g.client.chat.completions.create({
      model: SONNET,
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'developer', content: [{ type: 'text', text: 'Answer in English.' }] },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is on this picture, and the weather?' },
            { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG}`, detail: 'low' } },
          ],
        },
        { role: 'user', content: 'And be quick.' },
        {
          role: 'assistant',
          content: 'Let me look.',
          tool_calls: [
            { id: 'tooluse_1', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } },
            { id: 'tooluse_2', type: 'function', function: { name: 'clock', arguments: '' } },
          ],
        },
        { role: 'tool', tool_call_id: 'tooluse_1', content: 'Sunny, 22C' },
        { role: 'tool', tool_call_id: 'tooluse_2', content: [{ type: 'text', text: '12:00' }] },
        { role: 'user', content: 'Thanks.' },
      ],
      tools: [
        { type: 'function', function: { name: 'weather', description: 'Weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' } } } } },
        { type: 'function', function: { name: 'clock' } },
      ],
      tool_choice: { type: 'function', function: { name: 'weather' } },
      max_tokens: 300,
      temperature: 0.2,
      top_p: 0.9,
      stop: ['END'],
      seed: 7,
      // A Claude option Converse has no field for: it travels in additionalModelRequestFields.
      top_k: 40,
    } as OpenAI.ChatCompletionCreateParamsNonStreaming);
    expect(g.upstream.requests[0]!.json).toEqual({
      system: [{ text: 'Be brief.' }, { text: 'Answer in English.' }],
      messages: [
        {
          role: 'user',
          content: [
            { text: 'What is on this picture, and the weather?' },
            { image: { format: 'png', source: { bytes: PNG } } },
            { text: 'And be quick.' },
          ],
        },
        {
          role: 'assistant',
          content: [
            { text: 'Let me look.' },
            { toolUse: { toolUseId: 'tooluse_1', name: 'weather', input: { city: 'Paris' } } },
            { toolUse: { toolUseId: 'tooluse_2', name: 'clock', input: {} } },
          ],
        },
        {
          role: 'user',
          content: [
            { toolResult: { toolUseId: 'tooluse_1', content: [{ text: 'Sunny, 22C' }], status: 'success' } },
            { toolResult: { toolUseId: 'tooluse_2', content: [{ text: '12:00' }], status: 'success' } },
            { text: 'Thanks.' },
          ],
        },
      ],
      inferenceConfig: { maxTokens: 300, temperature: 0.2, topP: 0.9, stopSequences: ['END'] },
      toolConfig: {
        tools: [
          { toolSpec: { name: 'weather', description: 'Weather for a city', inputSchema: { json: { type: 'object', properties: { city: { type: 'string' } } } } } },
          { toolSpec: { name: 'clock', inputSchema: { json: { type: 'object', properties: {} } } } },
        ],
        toolChoice: { tool: { name: 'weather' } },
      },
      additionalModelRequestFields: { top_k: 40 },
    });
  });

  it('leaves cache points out for models Bedrock serves without prompt caching, which would refuse the request', async () => {
    const cached = { type: 'text', text: 'Long rules.', cache_control: { type: 'ephemeral' } } as OpenAI.ChatCompletionContentPartText;
    const cases: Array<[string, boolean]> = [
      ['us.meta.llama3-3-70b-instruct-v1:0', false],
      ['mistral.mistral-large-2407-v1:0', false],
      ['us.deepseek.r1-v1:0', false],
      ['anthropic.claude-3-sonnet-20240229-v1:0', false],
      ['anthropic.claude-3-5-sonnet-20240620-v1:0', false],
      ['anthropic.claude-3-5-haiku-20241022-v1:0', true],
      ['global.anthropic.claude-haiku-4-5-20251001-v1:0', true],
      ['eu.amazon.nova-pro-v1:0', true],
      ['arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123', true],
    ];
    for (const [model, keeps] of cases) {
      g.upstream.reset();
      g.upstream.route(`/model/${encodeURIComponent(model)}/converse`, { json: fixtureJson('bedrock/converse.text.json') });
      await g.client.chat.completions.create({
        model,
        messages: [
          { role: 'system', content: [cached] },
          { role: 'user', content: [{ ...cached, text: 'Long body' }, { type: 'text', text: 'Question?' }] },
        ],
      });
      const sent = g.upstream.requests[0]!.json;
      const points = [...sent.system, ...sent.messages[0].content].filter((b: object) => 'cachePoint' in b).length;
      expect(points, model).toBe(keeps ? 2 : 0);
      expect(sent.messages[0].content.filter((b: { text?: string }) => b.text).map((b: { text: string }) => b.text), model).toEqual(['Long body', 'Question?']);
    }
  });

  it('sends PDFs as documents and Anthropic-style cache_control as cache points', async () => {
    g.upstream.enqueue(SONNET_PATH, { json: fixtureJson('bedrock/converse.text.json') });
    await g.client.chat.completions.create({
      model: SONNET,
      messages: [
        { role: 'system', content: [{ type: 'text', text: 'Long rules.', cache_control: { type: 'ephemeral' } } as OpenAI.ChatCompletionContentPartText] },
        {
          role: 'user',
          content: [
            { type: 'file', file: { filename: 'Q3 report (final).pdf', file_data: 'data:application/pdf;base64,JVBERi0=' } },
            { type: 'text', text: 'Summarise.' },
          ],
        },
      ],
      max_completion_tokens: 2000,
      reasoning_effort: 'high',
    });
    const sent = g.upstream.requests[0]!.json;
    expect(sent.system).toEqual([{ text: 'Long rules.' }, { cachePoint: { type: 'default' } }]);
    expect(sent.messages[0].content).toEqual([
      { document: { format: 'pdf', name: 'Q3 report (final)', source: { bytes: 'JVBERi0=' } } },
      { text: 'Summarise.' },
    ]);
    // A given limit is kept; the thinking budget shrinks to leave half of it for the answer.
    expect(sent.inferenceConfig).toEqual({ maxTokens: 2000 });
    expect(sent.additionalModelRequestFields).toEqual({ thinking: { type: 'enabled', budget_tokens: 1024 } });
  });

  it('maps tool_choice auto, required and none', async () => {
    const tools = [{ type: 'function' as const, function: { name: 'weather', parameters: { type: 'object', properties: {} } } }];
    const json = fixtureJson('bedrock/converse.text.json');
    for (const choice of ['auto', 'required', 'none'] as const) g.upstream.enqueue(SONNET_PATH, { json });
    for (const choice of ['auto', 'required', 'none'] as const) {
      await g.client.chat.completions.create({ model: SONNET, messages: [{ role: 'user', content: 'x' }], tools, tool_choice: choice });
    }
    const sent = g.upstream.requests.map((r) => r.json.toolConfig);
    expect(sent[0].toolChoice).toEqual({ auto: {} });
    expect(sent[1].toolChoice).toEqual({ any: {} });
    expect(sent[2]).toBeUndefined();
  });

  it('sends the recorded tool-use conversation exactly as the AWS SDK did, and reads the tool call back', async () => {
    const [first, second] = cassette('bedrock/converse.tool-use.cassette.yaml');
    g.upstream.enqueue(SONNET_PATH, { json: parsed(first!) }, { json: parsed(second!) });
    const tools: OpenAI.ChatCompletionTool[] = [
      {
        type: 'function',
        function: {
          name: 'get_weather',
          description: 'Get the current weather for a city.',
          parameters: { additionalProperties: false, properties: { city: { type: 'string' } }, required: ['city'], type: 'object' },
        },
      },
    ];
    const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: "What's the weather in Paris?" }];
    const a = await g.client.chat.completions.create({ model: SONNET, messages, tools, tool_choice: 'auto' });
    const call = a.choices[0]!.message.tool_calls![0]!;
    expect(a.choices[0]!.finish_reason).toBe('tool_calls');
    expect(a.choices[0]!.message.content).toBeNull();
    expect(call).toEqual({ id: 'tooluse_XjTErzm6TpyMMpDviNVY3g', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } });
    expect(a.usage).toMatchObject({ prompt_tokens: 572, completion_tokens: 53, total_tokens: 625 });

    messages.push(a.choices[0]!.message as OpenAI.ChatCompletionMessageParam, { role: 'tool', tool_call_id: call.id, content: 'Sunny, 22C in Paris' });
    const b = await g.client.chat.completions.create({ model: SONNET, messages, tools, tool_choice: 'auto' });
    expect(b.choices[0]!.message.content).toBe(parsed(second!).output.message.content[0].text);
    expect(b.choices[0]!.finish_reason).toBe('stop');

    // The AWS SDK's recorded bodies, minus the empty `system` and `inferenceConfig` it always sends.
    for (const [i, interaction] of [first!, second!].entries()) {
      const recorded = JSON.parse(interaction.request.body as string);
      delete recorded.system;
      delete recorded.inferenceConfig;
      expect(g.upstream.requests[i]!.json).toEqual(recorded);
      expect(g.upstream.requests[i]!.path).toBe(new URL(interaction.request.uri).pathname);
    }
  });

  it('returns reasoning as reasoning_content, with the signature kept in thinking_blocks', async () => {
    const recorded = fixtureJson('bedrock/converse.reasoning.json');
    g.upstream.enqueue(SONNET_PATH, { json: recorded });
    const c = await g.client.chat.completions.create({ model: SONNET, messages: [{ role: 'user', content: 'strawberry?' }], reasoning_effort: 'low' });
    const message = c.choices[0]!.message as OpenAI.ChatCompletionMessage & { reasoning_content?: string; thinking_blocks?: unknown[] };
    const [thinking, text] = recorded.output.message.content;
    expect(message.reasoning_content).toBe(thinking.reasoningContent.reasoningText.text);
    expect(message.thinking_blocks).toEqual([{ type: 'thinking', thinking: thinking.reasoningContent.reasoningText.text, signature: thinking.reasoningContent.reasoningText.signature }]);
    expect(message.content).toBe(text.text);
    expect(c.usage?.completion_tokens).toBe(78);
    // reasoning_effort → Claude thinking, with room above the budget for the answer.
    const sent = g.upstream.requests[0]!.json;
    expect(sent.additionalModelRequestFields).toEqual({ thinking: { type: 'enabled', budget_tokens: 1024 } });
    expect(sent.inferenceConfig.maxTokens).toBeGreaterThan(1024);

    // Sent back on the next turn, the thinking block (with its signature) precedes the tool call, as Claude requires.
    g.upstream.enqueue(SONNET_PATH, { json: fixtureJson('bedrock/converse.text.json') });
    await g.client.chat.completions.create({
      model: SONNET,
      messages: [
        { role: 'user', content: 'strawberry?' },
        { ...message, tool_calls: [{ id: 't1', type: 'function', function: { name: 'count', arguments: '{}' } }] } as OpenAI.ChatCompletionMessageParam,
        { role: 'tool', tool_call_id: 't1', content: '3' },
      ],
      tools: [{ type: 'function', function: { name: 'count' } }],
    });
    expect(g.upstream.requests[1]!.json.messages[1].content[0]).toEqual({
      reasoningContent: { reasoningText: { text: thinking.reasoningContent.reasoningText.text, signature: thinking.reasoningContent.reasoningText.signature } },
    });
  });

  it('turns a json_schema response_format into Converse structured output', async () => {
    const [interaction] = cassette('bedrock/converse-stream.structured-output.cassette.yaml');
    const recorded = JSON.parse(interaction!.request.body as string);
    g.upstream.enqueue(SONNET_PATH, { json: { output: { message: { role: 'assistant', content: [{ text: '{"city":"Paris"}' }] } }, stopReason: 'end_turn' } });
    const schema = JSON.parse(recorded.outputConfig.textFormat.structure.jsonSchema.schema);
    await g.client.chat.completions.create({
      model: SONNET,
      messages: [{ role: 'user', content: recorded.messages[0].content[0].text }],
      response_format: { type: 'json_schema', json_schema: { name: 'CityInfo', description: 'Information about a city.', schema } },
    });
    // Same document; the recording's schema string has Python's `", "` spacing.
    const sent = g.upstream.requests[0]!.json.outputConfig;
    expect(JSON.parse(sent.textFormat.structure.jsonSchema.schema)).toEqual(schema);
    sent.textFormat.structure.jsonSchema.schema = recorded.outputConfig.textFormat.structure.jsonSchema.schema;
    expect(sent).toEqual(recorded.outputConfig);
  });

  it('passes the recorded 400 on in the OpenAI error shape, with the type from x-amzn-errortype', async () => {
    const [interaction] = cassette('bedrock/converse.error-400-invalid-model.cassette.yaml');
    const path = new URL(interaction!.request.uri).pathname;
    expect(path).toBe('/model/us.does-not-exist-model-v1%3A0/converse');
    g.upstream.enqueue(path, {
      status: interaction!.response.status.code,
      json: parsed(interaction!),
      // Filtered out of the cassette; Bedrock sends it with every error.
      headers: { 'x-amzn-errortype': 'ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/' },
    });
    const err = await g.client.chat.completions.create({ model: 'us.does-not-exist-model-v1:0', messages: [{ role: 'user', content: 'hello' }] }).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err.status).toBe(400);
    expect(err.error.message).toContain('The provided model identifier is invalid.');
    expect(err.error.type).toBe('ValidationException');
    expect(g.upstream.requests[0]!.path).toBe(path);
  });

  it('keeps the status of a throttled call and the message of a bad signature', async () => {
    g.upstream.enqueue(SONNET_PATH, {
      status: 429,
      json: { message: 'Too many requests, please wait before trying again.' },
      headers: { 'x-amzn-errortype': 'ThrottlingException' },
    });
    const throttled = await g.client.chat.completions.create({ model: SONNET, messages: [{ role: 'user', content: 'x' }] }).catch((e) => e);
    expect(throttled).toBeInstanceOf(OpenAI.RateLimitError);
    expect(throttled.error.message).toContain('Too many requests');
    g.upstream.enqueue(SONNET_PATH, {
      status: 403,
      json: { Message: 'The request signature we calculated does not match the signature you provided.' },
      headers: { 'x-amzn-errortype': 'InvalidSignatureException' },
    });
    const denied = await g.client.chat.completions.create({ model: SONNET, messages: [{ role: 'user', content: 'x' }] }).catch((e) => e);
    expect(denied.status).toBe(403);
    expect(denied.error.message).toContain('signature we calculated');
    expect(denied.error.type).toBe('InvalidSignatureException');
  });

  it('refuses remote image URLs and bad tool arguments with a 400 naming the field, without calling Bedrock', async () => {
    const image = await g.client.chat.completions
      .create({ model: SONNET, messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'http://169.254.169.254/latest/meta-data' } }] }] })
      .catch((e) => e);
    expect(image.status).toBe(400);
    expect(image.error.param).toBe('messages[0].content[0].image_url.url');
    const args = await g.client.chat.completions
      .create({
        model: SONNET,
        messages: [
          { role: 'user', content: 'x' },
          { role: 'assistant', tool_calls: [{ id: 't', type: 'function', function: { name: 'f', arguments: '{oops' } }] },
        ],
      })
      .catch((e) => e);
    expect(args.status).toBe(400);
    expect(args.error.param).toBe('messages[1].tool_calls[0].function.arguments');
    const budget = await g.client.chat.completions
      .create({ model: SONNET, messages: [{ role: 'user', content: 'x' }], max_tokens: 500, reasoning_effort: 'medium' })
      .catch((e) => e);
    expect(budget.status).toBe(400);
    expect(budget.error.param).toBe('max_tokens');
    expect(g.upstream.requests).toHaveLength(0);
  });
});
