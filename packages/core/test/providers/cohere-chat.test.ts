import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { cassette, fixtureJson } from '../../../../test/helpers/fixtures.js';
import { COHERE_KEY, cohereGateway } from './cohere-setup.js';

const g = cohereGateway();
const user = [{ role: 'user' as const, content: 'Hi' }];

describe('cohere chat, non-stream, replaying the recorded bodies', () => {
  it('translates every OpenAI field into the v2 /chat request, with the bearer key', async () => {
    g.upstream.enqueue('/v2/chat', { json: fixtureJson('cohere/chat-v2.text.json') });
    await g.client.chat.completions.create({
      model: 'command-a-03-2025',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'developer', content: [{ type: 'text', text: 'Answer in English.' }] },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is on this picture, and the weather?' },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=', detail: 'low' } },
          ],
        },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            { id: 'weather_1', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } },
            { id: 'clock_2', type: 'function', function: { name: 'clock', arguments: '' } },
          ],
        },
        { role: 'tool', tool_call_id: 'weather_1', content: 'Sunny, 22C' },
        { role: 'tool', tool_call_id: 'clock_2', content: [{ type: 'text', text: '12:00' }] },
        { role: 'assistant', content: 'It is sunny.' },
        { role: 'user', content: 'Thanks. As JSON please.' },
      ],
      tools: [
        { type: 'function', function: { name: 'weather', description: 'Weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' } } } } },
        { type: 'function', function: { name: 'clock' } },
      ],
      tool_choice: 'required',
      response_format: { type: 'json_schema', json_schema: { name: 'answer', schema: { type: 'object', properties: { text: { type: 'string' } } } } },
      temperature: 0.3,
      top_p: 0.9,
      max_tokens: 300,
      stop: 'END',
      seed: 7,
      frequency_penalty: 0.1,
      presence_penalty: 0.2,
      reasoning_effort: 'medium',
    });
    const sent = g.upstream.requests[0]!;
    expect(sent.method).toBe('POST');
    expect(sent.path).toBe('/v2/chat');
    expect(sent.headers.authorization).toBe(`Bearer ${COHERE_KEY}`);
    expect(sent.headers['content-type']).toBe('application/json');
    expect(sent.json).toEqual({
      model: 'command-a-03-2025',
      stream: false,
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'system', content: 'Answer in English.' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is on this picture, and the weather?' },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=', detail: 'low' } },
          ],
        },
        {
          role: 'assistant',
          tool_calls: [
            { id: 'weather_1', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } },
            { id: 'clock_2', type: 'function', function: { name: 'clock', arguments: '{}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'weather_1', content: 'Sunny, 22C' },
        { role: 'tool', tool_call_id: 'clock_2', content: '12:00' },
        { role: 'assistant', content: 'It is sunny.' },
        { role: 'user', content: 'Thanks. As JSON please.' },
      ],
      tools: [
        { type: 'function', function: { name: 'weather', description: 'Weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' } } } } },
        { type: 'function', function: { name: 'clock', parameters: { type: 'object', properties: {} } } },
      ],
      tool_choice: 'REQUIRED',
      response_format: { type: 'json_object', json_schema: { type: 'object', properties: { text: { type: 'string' } } } },
      temperature: 0.3,
      p: 0.9,
      max_tokens: 300,
      stop_sequences: ['END'],
      seed: 7,
      frequency_penalty: 0.1,
      presence_penalty: 0.2,
      thinking: { type: 'enabled', token_budget: 2048 },
    });
  });

  it('maps the other tool_choice, response_format and reasoning_effort forms', async () => {
    const weather = { type: 'function' as const, function: { name: 'weather', parameters: { type: 'object' } } };
    const clock = { type: 'function' as const, function: { name: 'clock', parameters: { type: 'object' }, strict: true } };
    for (let i = 0; i < 3; i++) g.upstream.enqueue('/v2/chat', { json: fixtureJson('cohere/chat-v2.text.json') });
    await g.client.chat.completions.create({ model: 'command-a', messages: user, tools: [weather, clock], tool_choice: { type: 'function', function: { name: 'clock' } } });
    await g.client.chat.completions.create({ model: 'command-a', messages: user, tools: [weather], tool_choice: 'none', response_format: { type: 'json_object' }, reasoning_effort: 'minimal' });
    await g.client.chat.completions.create({ model: 'command-a', messages: user, max_completion_tokens: 50, stop: ['a', 'b'], response_format: { type: 'text' } });
    const [named, none, plain] = g.upstream.requests.map((r) => r.json);
    expect(named.tools).toEqual([{ type: 'function', function: { name: 'clock', parameters: { type: 'object' } } }]);
    expect(named.tool_choice).toBe('REQUIRED');
    expect(named.strict_tools).toBe(true);
    expect(none.tool_choice).toBe('NONE');
    expect(none.response_format).toEqual({ type: 'json_object' });
    expect(none.thinking).toEqual({ type: 'disabled' });
    expect(plain).toEqual({ model: 'command-a', messages: [{ role: 'user', content: 'Hi' }], stream: false, max_tokens: 50, stop_sequences: ['a', 'b'] });
  });

  it('keeps a system prompt of several text parts as separate paragraphs (not run together)', async () => {
    g.upstream.enqueue('/v2/chat', { json: fixtureJson('cohere/chat-v2.text.json') });
    const system = [
      { type: 'text' as const, text: 'You are helpful.' },
      { type: 'text' as const, text: 'Answer briefly.' },
    ];
    await g.client.chat.completions.create({ model: 'command-a', messages: [{ role: 'system', content: system }, ...user] });
    expect(g.upstream.requests[0]!.json.messages[0]).toEqual({ role: 'system', content: 'You are helpful.\n\nAnswer briefly.' });
  });

  it('answers text with the billed units as usage (chat-v2.text.json)', async () => {
    g.upstream.enqueue('/v2/chat', { json: fixtureJson('cohere/chat-v2.text.json') });
    const res = await g.client.chat.completions.create({ model: 'command-r-plus', messages: user }).withResponse();
    expect(res.response.headers.get('x-llmux-provider')).toBe('cohere');
    const c = res.data;
    expect(c.object).toBe('chat.completion');
    expect(c.id).toBe('e7592632-1e3d-424f-b129-bd5f9f980f7b');
    expect(c.model).toBe('command-r-plus');
    expect(c.choices).toHaveLength(1);
    expect(c.choices[0]!.message).toEqual({ role: 'assistant', content: 'The capital of France is Paris.' });
    expect(c.choices[0]!.finish_reason).toBe('stop');
    // Billed 12 + 7; `tokens` (507 + 10, 448 of them cached) counts Cohere's own preamble and is not what is charged.
    expect(c.usage).toEqual({ prompt_tokens: 12, completion_tokens: 7, total_tokens: 19 });
  });

  it('answers several tool calls, with the tool plan as reasoning (chat-v2.tool-call.json)', async () => {
    g.upstream.enqueue('/v2/chat', { json: fixtureJson('cohere/chat-v2.tool-call.json') });
    const c = await g.client.chat.completions.create({ model: 'command-r-plus', messages: user });
    const m = c.choices[0]!.message as OpenAI.ChatCompletionMessage & { reasoning_content?: string };
    expect(c.choices[0]!.finish_reason).toBe('tool_calls');
    expect(m.content).toBeNull();
    expect(m.reasoning_content).toMatch(/^I will use the weather tool .* cityAttractions tool/);
    expect(m.tool_calls).toEqual([
      { id: 'weather_dqgshstja6p9', type: 'function', function: { name: 'weather', arguments: '{"location":"San Francisco"}' } },
      { id: 'cityAttractions_dcxfx4myvx68', type: 'function', function: { name: 'cityAttractions', arguments: '{"city":"San Francisco"}' } },
    ]);
    expect(c.usage).toMatchObject({ prompt_tokens: 119, completion_tokens: 52, total_tokens: 171 });
  });

  it('answers thinking as reasoning_content when reasoning_effort is set (chat-v2.reasoning.json)', async () => {
    g.upstream.enqueue('/v2/chat', { json: fixtureJson('cohere/chat-v2.reasoning.json') });
    const c = await g.client.chat.completions.create({ model: 'command-a-reasoning', messages: user, reasoning_effort: 'high' });
    expect(g.upstream.requests[0]!.json.thinking).toEqual({ type: 'enabled', token_budget: 4096 });
    const m = c.choices[0]!.message as OpenAI.ChatCompletionMessage & { reasoning_content?: string };
    expect(m.content).toBe('2 + 2 = 4');
    expect(m.reasoning_content).toBe('Okay, so I need to figure out what 2 + 2 is. Let me start by recalling what addition means.');
    expect(c.usage).toMatchObject({ prompt_tokens: 8, completion_tokens: 578, total_tokens: 586 });
  });

  it('keeps the citations of a document answer (chat-v2.citations.json)', async () => {
    g.upstream.enqueue('/v2/chat', { json: fixtureJson('cohere/chat-v2.citations.json') });
    const documents = [{ data: { text: 'AI provides: 1. Automation of tasks 2. Better decision-making 3. Cost reduction', title: 'benefits.txt' } }];
    const c = await g.client.chat.completions.create({ model: 'command-r-plus', messages: user, documents } as never);
    expect(g.upstream.requests[0]!.json.documents).toEqual(documents);
    const m = (c as OpenAI.ChatCompletion).choices[0]!.message as OpenAI.ChatCompletionMessage & { citations?: Array<{ text: string }> };
    expect(m.content).toMatch(/^The key benefits/);
    expect(m.citations?.map((x) => x.text)).toEqual(['Automation of tasks', 'Better decision-making', 'Cost reduction']);
    expect((c as OpenAI.ChatCompletion).usage).toMatchObject({ prompt_tokens: 39, completion_tokens: 27, total_tokens: 66 });
  });

  it('falls back to the processed tokens, with their cached part, when an answer has no billed_units', async () => {
    const { usage, ...rest } = fixtureJson('cohere/chat-v2.text.json');
    g.upstream.enqueue('/v2/chat', { json: { ...rest, usage: { tokens: usage.tokens, cached_tokens: usage.cached_tokens } } });
    const c = await g.client.chat.completions.create({ model: 'command-r', messages: user });
    expect(c.usage).toMatchObject({ prompt_tokens: 507, completion_tokens: 10, total_tokens: 517, prompt_tokens_details: { cached_tokens: 448 } });
  });

  it('maps MAX_TOKENS to length (chat-v2.max-tokens.json)', async () => {
    g.upstream.enqueue('/v2/chat', { json: fixtureJson('cohere/chat-v2.max-tokens.json') });
    const c = await g.client.chat.completions.create({ model: 'command-r-plus', messages: user, max_tokens: 4 });
    expect(c.choices[0]!.finish_reason).toBe('length');
    expect(c.choices[0]!.message.content).toBe('**The History of');
  });

  it('replays the recorded tool round trip; the requests match what the recording sent (chat-v2.tool-call.cassette.yaml)', async () => {
    const [first, second] = cassette('cohere/chat-v2.tool-call.cassette.yaml');
    g.upstream.enqueue('/v2/chat', { json: first!.response.parsed_body }, { json: second!.response.parsed_body });
    const recorded = first!.request.parsed_body as { tools: OpenAI.ChatCompletionTool[] };
    const tools = recorded.tools;
    const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: "What's the weather in Paris?" }];
    const call = await g.client.chat.completions.create({ model: 'command-r7b-12-2024', messages, tools });
    expect(g.upstream.requests[0]!.json).toEqual(first!.request.parsed_body);
    const toolCall = call.choices[0]!.message.tool_calls![0]! as OpenAI.ChatCompletionMessageFunctionToolCall;
    expect(toolCall).toEqual({ id: 'get_weather_9gpb31r7h7mj', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } });
    messages.push({ role: 'assistant', content: null, tool_calls: [toolCall] }, { role: 'tool', tool_call_id: toolCall.id, content: 'Sunny, 22C in Paris' });
    const answer = await g.client.chat.completions.create({ model: 'command-r7b-12-2024', messages, tools });
    expect(g.upstream.requests[1]!.json).toEqual(second!.request.parsed_body);
    expect(answer.choices[0]!.message.content).toBe('The weather in Paris is currently sunny and 22C.');
    expect(answer.choices[0]!.finish_reason).toBe('stop');
    expect(answer.usage).toMatchObject({ prompt_tokens: 51, completion_tokens: 13, total_tokens: 64 });
  });

  it('sends the tool plan back when a client echoes the assistant turn it received', async () => {
    const [first] = cassette('cohere/chat-v2.tool-call.cassette.yaml');
    g.upstream.enqueue('/v2/chat', { json: first!.response.parsed_body }, { json: fixtureJson('cohere/chat-v2.text.json') });
    const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: "What's the weather in Paris?" }];
    const call = await g.client.chat.completions.create({ model: 'command-r7b-12-2024', messages });
    const echoed = call.choices[0]!.message as OpenAI.ChatCompletionAssistantMessageParam;
    messages.push(echoed, { role: 'tool', tool_call_id: 'get_weather_9gpb31r7h7mj', content: 'Sunny' });
    await g.client.chat.completions.create({ model: 'command-r7b-12-2024', messages });
    expect(g.upstream.requests[1]!.json.messages[1]).toEqual({
      role: 'assistant',
      tool_plan: "I will use the 'get_weather' tool to find the weather in Paris.",
      tool_calls: [{ id: 'get_weather_9gpb31r7h7mj', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }],
    });
  });
});

describe('cohere chat errors', () => {
  it('passes a Cohere error body on with its status and message ({id, message})', async () => {
    // Synthetic (no recorded chat error exists): the documented {id, message} shape with a 429 and Retry-After.
    g.upstream.enqueue('/v2/chat', { status: 429, headers: { 'retry-after': '7' }, json: { id: 'err-1', message: 'You are using a Trial key, which is limited to 10 API calls / minute.' } });
    const err = await g.client.chat.completions.create({ model: 'command-r-plus', messages: user }).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect(err.status).toBe(429);
    expect(err.error).toMatchObject({ message: 'You are using a Trial key, which is limited to 10 API calls / minute.', type: 'rate_limit_error', source: 'provider', provider: 'cohere' });
  });

  it('passes a 401 on without echoing the key', async () => {
    // Synthetic 401 in Cohere's documented shape.
    g.upstream.enqueue('/v2/chat', { status: 401, json: { id: 'err-2', message: `invalid api token ${COHERE_KEY}` } });
    const err = await g.client.chat.completions.create({ model: 'command-r-plus', messages: user }).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(err.error.type).toBe('authentication_error');
    expect(JSON.stringify(err.error)).not.toContain(COHERE_KEY);
  });

  it('turns finish_reason ERROR into an error, never a normal answer', async () => {
    g.upstream.enqueue('/v2/chat', { json: { ...fixtureJson('cohere/chat-v2.text.json'), finish_reason: 'ERROR' } });
    const err = await g.client.chat.completions.create({ model: 'command-r-plus', messages: user }).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(err.status).toBe(502);
    expect(err.error.provider).toBe('cohere');
  });

  it('refuses what Cohere cannot do with a 400 naming the field, before calling it', async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ n: 2 }, 'n'],
      [{ tools: [{ type: 'function', function: { name: 'a' } }], tool_choice: { type: 'function', function: { name: 'b' } } }, 'tool_choice.function.name'],
      [{ reasoning_effort: 'extreme' }, 'reasoning_effort'],
      [{ messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'x', format: 'wav' } }] }] }, 'messages[0].content[0].type'],
      [{ messages: [{ role: 'function', name: 'f', content: 'x' }] }, 'messages[0].role'],
      [{ response_format: { type: 'json_schema', json_schema: { name: 'x' } } }, 'response_format.json_schema.schema'],
    ];
    for (const [patch, param] of cases) {
      const err = await g.client.chat.completions.create({ model: 'command-r-plus', messages: user, ...patch } as never).catch((e) => e);
      expect(err.status, param).toBe(400);
      expect(err.error.param).toBe(param);
      expect(err.error.message).toContain(param);
    }
    expect(g.upstream.requests).toHaveLength(0);
  });
});
