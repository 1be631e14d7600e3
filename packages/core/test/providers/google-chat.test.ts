import type OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { cassette, fixtureJson } from '../../../../test/helpers/fixtures.js';
import { GEMINI_KEY, googleGateway, recording, type ReasoningMessage } from './google-setup.js';

const g = googleGateway();
const user = [{ role: 'user' as const, content: 'Hi' }];
const path = (model: string) => `/v1beta/models/${model}:generateContent`;

describe('google chat: the generateContent request, field by field', () => {
  it('translates messages, media, tool history, tools and every sampling parameter, with the key in x-goog-api-key', async () => {
    g.upstream.enqueue(path('gemini-2.5-flash'), { json: fixtureJson('gemini/generateContent.text.json') });
    await g.client.chat.completions.create({
      model: 'gemini-2.5-flash',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'developer', content: [{ type: 'text', text: 'Answer in English.' }] },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is on these pictures, and the weather?' },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=', detail: 'low' } },
            { type: 'image_url', image_url: { url: 'https://example.com/cat.webp' } },
          ],
        },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            { id: 'call_w', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' }, extra_content: { google: { thought_signature: 'c2lnLTE=' } } },
            { id: 'call_c', type: 'function', function: { name: 'clock', arguments: '' } },
          ],
        },
        { role: 'tool', tool_call_id: 'call_w', content: 'Sunny, 22C' },
        { role: 'tool', tool_call_id: 'call_c', content: [{ type: 'text', text: '{"time":"12:00"}' }] },
        { role: 'assistant', content: 'It is sunny.' },
        { role: 'user', content: 'Thanks. As JSON please.' },
      ],
      tools: [
        {
          type: 'function',
          function: {
            name: 'weather',
            description: 'Weather for a city',
            parameters: { $schema: 'http://json-schema.org/draft-07/schema#', type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false },
          },
        },
        { type: 'function', function: { name: 'clock', parameters: { type: 'object', properties: {} } } },
      ],
      tool_choice: 'required',
      temperature: 0.3,
      top_p: 0.9,
      max_tokens: 300,
      stop: 'END',
      seed: 7,
      n: 1,
      frequency_penalty: 0.1,
      presence_penalty: 0.2,
      reasoning_effort: 'medium',
    } as never);
    const sent = g.upstream.requests[0]!;
    expect(sent.method).toBe('POST');
    expect(sent.path).toBe('/v1beta/models/gemini-2.5-flash:generateContent');
    expect(sent.headers['x-goog-api-key']).toBe(GEMINI_KEY);
    expect(sent.headers.authorization).toBeUndefined();
    expect(sent.headers['content-type']).toBe('application/json');
    expect(sent.path).not.toContain(GEMINI_KEY);
    expect(sent.json).toEqual({
      systemInstruction: { parts: [{ text: 'Be brief.' }, { text: 'Answer in English.' }] },
      contents: [
        {
          role: 'user',
          parts: [
            { text: 'What is on these pictures, and the weather?' },
            { inlineData: { mimeType: 'image/png', data: 'iVBORw0KGgo=' } },
            { fileData: { mimeType: 'image/webp', fileUri: 'https://example.com/cat.webp' } },
          ],
        },
        {
          role: 'model',
          parts: [
            { functionCall: { name: 'weather', args: { city: 'Paris' } }, thoughtSignature: 'c2lnLTE=' },
            { functionCall: { name: 'clock', args: {} } },
          ],
        },
        // Both results of the parallel calls share one user turn, names looked up from the call ids.
        {
          role: 'user',
          parts: [
            { functionResponse: { name: 'weather', response: { output: 'Sunny, 22C' } } },
            { functionResponse: { name: 'clock', response: { time: '12:00' } } },
          ],
        },
        { role: 'model', parts: [{ text: 'It is sunny.' }] },
        { role: 'user', parts: [{ text: 'Thanks. As JSON please.' }] },
      ],
      tools: [
        {
          functionDeclarations: [
            { name: 'weather', description: 'Weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
            { name: 'clock' },
          ],
        },
      ],
      toolConfig: { functionCallingConfig: { mode: 'ANY' } },
      generationConfig: {
        temperature: 0.3,
        topP: 0.9,
        maxOutputTokens: 300,
        stopSequences: ['END'],
        seed: 7,
        candidateCount: 1,
        frequencyPenalty: 0.1,
        presencePenalty: 0.2,
        thinkingConfig: { thinkingBudget: 8192, includeThoughts: true },
      },
    });
  });

  it('refuses function tools beside a JSON response_format before Gemini 3, which Gemini 2.x answers with a 400; Gemini 3 gets both', async () => {
    const weather = { type: 'function' as const, function: { name: 'weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } };
    const response_format = { type: 'json_schema' as const, json_schema: { name: 'answer', schema: { type: 'object', properties: { text: { type: 'string' }, sunny: { type: 'boolean' } } } } };
    for (const model of ['gemini-2.5-flash', 'gemini-2.0-flash']) {
      for (const format of [response_format, { type: 'json_object' as const }]) {
        const err = await g.client.chat.completions.create({ model, messages: user, tools: [weather], response_format: format }).catch((e: unknown) => e);
        expect(err).toMatchObject({ status: 400, param: 'response_format' });
      }
    }
    expect(g.upstream.requests).toHaveLength(0);
    g.upstream.enqueue(path('gemini-3-flash-preview'), { json: fixtureJson('gemini/generateContent.text.json') });
    await g.client.chat.completions.create({ model: 'gemini-3-flash-preview', messages: user, tools: [weather], response_format });
    const cfg = g.upstream.requests[0]!.json.generationConfig;
    expect(cfg.responseMimeType).toBe('application/json');
    expect(cfg.responseSchema).toEqual({ type: 'object', properties: { text: { type: 'string' }, sunny: { type: 'boolean' } }, propertyOrdering: ['text', 'sunny'] });
  });

  it('maps the other tool_choice, response_format and reasoning_effort forms', async () => {
    const weather = { type: 'function' as const, function: { name: 'weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } };
    const clock = { type: 'function' as const, function: { name: 'clock' } };
    const answer = { json: fixtureJson('gemini/generateContent.text.json') };
    g.upstream.route('*', answer);
    await g.client.chat.completions.create({ model: 'gemini-3-pro-preview', messages: user, tools: [weather, clock], tool_choice: { type: 'function', function: { name: 'clock' } }, reasoning_effort: 'medium' });
    await g.client.chat.completions.create({ model: 'gemini-3-flash-preview', messages: user, tools: [weather], tool_choice: 'none', response_format: { type: 'json_object' }, reasoning_effort: 'minimal' });
    await g.client.chat.completions.create({ model: 'gemini-2.5-flash', messages: user, tools: [weather], tool_choice: 'auto', reasoning_effort: 'none' as never, max_tokens: 10, max_completion_tokens: 50, stop: ['a', 'b'], response_format: { type: 'text' } });
    await g.client.chat.completions.create({ model: 'models/gemini-2.0-flash', messages: user });
    const [named, none, auto, plain] = g.upstream.requests;
    expect(named!.json.toolConfig).toEqual({ functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['clock'] } });
    expect(named!.json.generationConfig).toEqual({ thinkingConfig: { thinkingLevel: 'high', includeThoughts: true } });
    expect(none!.json.toolConfig).toEqual({ functionCallingConfig: { mode: 'NONE' } });
    expect(none!.json.generationConfig).toEqual({ responseMimeType: 'application/json', thinkingConfig: { thinkingLevel: 'minimal', includeThoughts: true } });
    expect(auto!.json.toolConfig).toEqual({ functionCallingConfig: { mode: 'AUTO' } });
    expect(auto!.json.generationConfig).toEqual({ maxOutputTokens: 50, stopSequences: ['a', 'b'], thinkingConfig: { thinkingBudget: 0 } });
    expect(plain!.path).toBe('/v1beta/models/gemini-2.0-flash:generateContent');
    expect(plain!.json).toEqual({ contents: [{ role: 'user', parts: [{ text: 'Hi' }] }] });
  });

  it('sends audio, files and text data URLs as inline bytes, and Files API ids and URLs as file references', async () => {
    g.upstream.enqueue(path('gemini-2.5-flash'), { json: fixtureJson('gemini/generateContent.text.json') });
    const pdf = Buffer.from('%PDF-1.4 tiny').toString('base64');
    await g.client.chat.completions.create({
      model: 'gemini-2.5-flash',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'input_audio', input_audio: { data: 'UklGRg==', format: 'mp3' } },
            { type: 'file', file: { filename: 'report.pdf', file_data: `data:application/pdf;base64,${pdf}` } },
            // Bare base64, as some clients send it: taken as a PDF.
            { type: 'file', file: { file_data: pdf } },
            { type: 'file', file: { file_id: 'https://generativelanguage.googleapis.com/v1beta/files/abc123', filename: 'clip.mp4' } },
            // A URL-encoded (not base64) data URL is re-encoded as base64 bytes.
            { type: 'image_url', image_url: { url: 'data:text/plain,h%C3%A9llo%20there' } },
            { type: 'image_url', image_url: { url: 'gs://bucket/scans/page-1.png' } },
          ],
        },
      ],
    } as never);
    expect(g.upstream.requests[0]!.json.contents).toEqual([
      {
        role: 'user',
        parts: [
          { inlineData: { mimeType: 'audio/mp3', data: 'UklGRg==' } },
          { inlineData: { mimeType: 'application/pdf', data: pdf } },
          { inlineData: { mimeType: 'application/pdf', data: pdf } },
          { fileData: { mimeType: 'video/mp4', fileUri: 'https://generativelanguage.googleapis.com/v1beta/files/abc123' } },
          { inlineData: { mimeType: 'text/plain', data: Buffer.from('héllo there').toString('base64') } },
          { fileData: { mimeType: 'image/png', fileUri: 'gs://bucket/scans/page-1.png' } },
        ],
      },
    ]);
  });

  it('refuses content parts Gemini cannot take with a 400 naming the field, without calling upstream', async () => {
    const before = g.upstream.requests.length;
    const cases: Array<[unknown, string]> = [
      [{ type: 'file', file: { filename: 'x.pdf' } }, 'messages[0].content[0].file'],
      [{ type: 'input_audio', input_audio: { format: 'wav' } }, 'messages[0].content[0].input_audio.data'],
      [{ type: 'image_url', image_url: { url: 'ftp://example.com/cat.png' } }, 'messages[0].content[0].image_url.url'],
      [{ type: 'image_url', image_url: { url: 'data:image/png' } }, 'messages[0].content[0].image_url.url'],
      [{ type: 'refusal', refusal: 'no' }, 'messages[0].content[0].type'],
    ];
    for (const [part, param] of cases) {
      const err = await g.client.chat.completions.create({ model: 'gemini-2.5-flash', messages: [{ role: 'user', content: [part] }] } as never).catch((e: unknown) => e as { status?: number; error?: unknown });
      expect(err.status).toBe(400);
      expect(err.error).toMatchObject({ param });
    }
    expect(g.upstream.requests.length).toBe(before);
  });

  it('sends Gemini built-in tools and Gemini-only settings through', async () => {
    g.upstream.enqueue(path('gemini-2.5-flash'), { json: fixtureJson('gemini/generateContent.text.json') });
    const safety = [{ category: 'HARM_CATEGORY_HARASSMENT', threshold: 'BLOCK_NONE' }];
    await g.client.chat.completions.create({ model: 'gemini-2.5-flash', messages: user, tools: [{ type: 'google_search' }], safety_settings: safety, top_k: 40 } as never);
    expect(g.upstream.requests[0]!.json).toEqual({
      contents: [{ role: 'user', parts: [{ text: 'Hi' }] }],
      tools: [{ googleSearch: {} }],
      generationConfig: { topK: 40 },
      safetySettings: safety,
    });
  });

  it('sends back only the text of an echoed assistant message', async () => {
    g.upstream.enqueue(path('gemini-2.5-flash'), { json: fixtureJson('gemini/generateContent.text.json') });
    await g.client.chat.completions.create({
      model: 'gemini-2.5-flash',
      messages: [
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: [{ type: 'text', text: 'Hello.' }, { type: 'refusal', refusal: 'No.' }], reasoning_content: 'greet back' } as never,
        { role: 'user', content: 'Bye' },
      ],
    });
    expect(g.upstream.requests[0]!.json.contents).toEqual([
      { role: 'user', parts: [{ text: 'Hi' }] },
      { role: 'model', parts: [{ text: 'Hello.' }] },
      { role: 'user', parts: [{ text: 'Bye' }] },
    ]);
  });

  it('sends a signature stand-in for Gemini 3 tool calls that lost theirs (history from another provider)', async () => {
    g.upstream.enqueue(path('gemini-3-pro-preview'), { json: fixtureJson('gemini/generateContent.text.json') });
    await g.client.chat.completions.create({
      model: 'gemini-3-pro-preview',
      messages: [
        { role: 'user', content: 'Weather?' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'toolu_1', type: 'function', function: { name: 'weather', arguments: '{}' } }] },
        { role: 'tool', tool_call_id: 'toolu_1', content: 'Rain' },
      ],
    });
    expect(g.upstream.requests[0]!.json.contents[1]).toEqual({
      role: 'model',
      parts: [{ functionCall: { name: 'weather', args: {} }, thoughtSignature: 'skip_thought_signature_validator' }],
    });
  });
});

describe('google chat: recorded answers through the OpenAI SDK', () => {
  it('answers text with its thought signature and usage incl. reasoning tokens (generateContent.text.json)', async () => {
    g.upstream.enqueue(path('gemini-3-pro-preview'), { json: fixtureJson('gemini/generateContent.text.json') });
    const res = await g.client.chat.completions.create({ model: 'gemini-3-pro-preview', messages: user }).withResponse();
    expect(res.response.headers.get('x-llmux-provider')).toBe('google');
    const c = res.data;
    expect(c.object).toBe('chat.completion');
    expect(c.id).toBe('chatcmpl-Un6LacrVMcjUxs0PmJfWoQc');
    expect(c.model).toBe('gemini-3-pro-preview');
    const m = c.choices[0]!.message as ReasoningMessage;
    expect(m.content).toBe("There are **3** r's in strawberry.\n\nHere is the breakdown: st**r**awbe**rr**y.");
    expect(m.extra_content?.google.thought_signature).toMatch(/^EtoFCtcFAb4/);
    expect(c.choices[0]!.finish_reason).toBe('stop');
    expect(c.usage).toMatchObject({
      prompt_tokens: 9,
      completion_tokens: 272,
      total_tokens: 281,
      prompt_tokens_details: { cached_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 244 },
    });
  });

  it('answers a thinking model (generateContent.thinking.json) and returns the signature on the next turn', async () => {
    const body = fixtureJson('gemini/generateContent.thinking.json');
    g.upstream.enqueue(path('gemini-3-pro-preview'), { json: body }, { json: body });
    const c = await g.client.chat.completions.create({ model: 'gemini-3-pro-preview', messages: user, reasoning_effort: 'high' });
    const m = c.choices[0]!.message as ReasoningMessage;
    expect(m.content).toMatch(/^There are \*\*3\*\* "r"s in strawberry/);
    expect(c.usage?.completion_tokens_details?.reasoning_tokens).toBe(282);
    await g.client.chat.completions.create({ model: 'gemini-3-pro-preview', messages: [...user, m as never, { role: 'user', content: 'And in raspberry?' }] });
    expect(g.upstream.requests[1]!.json.contents[1]).toEqual({
      role: 'model',
      parts: [{ text: m.content, thoughtSignature: body.candidates[0].content.parts[0].thoughtSignature }],
    });
  });

  it('answers a function call with a stable id and its signature (generateContent.tool-call.json)', async () => {
    g.upstream.enqueue(path('gemini-3-pro-preview'), { json: fixtureJson('gemini/generateContent.tool-call.json') });
    const c = await g.client.chat.completions.create({ model: 'gemini-3-pro-preview', messages: user });
    expect(c.choices[0]!.finish_reason).toBe('tool_calls');
    const m = c.choices[0]!.message as ReasoningMessage;
    expect(m.content).toBeNull();
    expect(m.tool_calls).toEqual([
      {
        id: 'call_m36LaZGyCLz1xs0PtNSB-QU_0_0',
        type: 'function',
        function: { name: 'weather', arguments: '{"location":"San Francisco"}' },
        extra_content: { google: { thought_signature: expect.stringMatching(/^EskgCsYgAb4/) } },
      },
    ]);
    expect(c.usage).toMatchObject({ prompt_tokens: 29, completion_tokens: 908, total_tokens: 937 });
  });

  it('replays the recorded tool round trip (generateContent.tool-call.cassette.yaml)', async () => {
    const [first, second] = cassette('gemini/generateContent.tool-call.cassette.yaml');
    g.upstream.enqueue(path('gemini-2.5-flash'), { json: first!.response.parsed_body }, { json: second!.response.parsed_body });
    const recorded = first!.request.parsed_body;
    const decl = recorded.tools[0].functionDeclarations[0];
    const tools: OpenAI.ChatCompletionTool[] = [{ type: 'function', function: { name: decl.name, description: decl.description, parameters: decl.parameters_json_schema } }];
    const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: "What's the weather in Paris?" }];
    const call = await g.client.chat.completions.create({ model: 'gemini-2.5-flash', messages, tools, tool_choice: 'auto' });
    const sent = g.upstream.requests[0]!.json;
    expect(sent.contents).toEqual(recorded.contents);
    expect(sent.toolConfig).toEqual(recorded.toolConfig);
    expect(sent.tools).toEqual([
      { functionDeclarations: [{ name: 'get_weather', description: decl.description, parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } }] },
    ]);
    const toolCall = call.choices[0]!.message.tool_calls![0]!;
    expect(call.choices[0]!.finish_reason).toBe('tool_calls');
    expect(toolCall.type === 'function' && toolCall.function).toEqual({ name: 'get_weather', arguments: '{"city":"Paris"}' });

    messages.push(call.choices[0]!.message as OpenAI.ChatCompletionAssistantMessageParam, { role: 'tool', tool_call_id: toolCall.id, content: 'Sunny, 22C in Paris' });
    const answer = await g.client.chat.completions.create({ model: 'gemini-2.5-flash', messages, tools, tool_choice: 'auto' });
    const next = g.upstream.requests[1]!.json;
    const signature = (first!.response.parsed_body as any).candidates[0].content.parts[0].thoughtSignature;
    expect(next.contents).toEqual([
      recorded.contents[0],
      { role: 'model', parts: [{ functionCall: { name: 'get_weather', args: { city: 'Paris' } }, thoughtSignature: signature }] },
      { role: 'user', parts: [{ functionResponse: { name: 'get_weather', response: { output: 'Sunny, 22C in Paris' } } }] },
    ]);
    // The recording's client sent the same turns (plus its own ids and return key).
    expect(second!.request.parsed_body.contents.map((c: any) => c.role)).toEqual(['user', 'model', 'user']);
    expect(answer.choices[0]!.message.content).toBe('The weather in Paris is sunny with a temperature of 22C.');
    expect(answer.usage).toMatchObject({ prompt_tokens: 88, completion_tokens: 15, total_tokens: 103 });
  });

  it('answers a thought part as reasoning_content (generateContent.thought.recording.json)', async () => {
    const rec = recording('gemini/generateContent.thought.recording.json');
    g.upstream.enqueue(path('gemini-2.0-flash-thinking-exp'), { status: rec.response.status, json: rec.response.segments[0] });
    const c = await g.client.chat.completions.create({
      model: 'gemini-2.0-flash-thinking-exp',
      messages: [{ role: 'user', content: rec.request.body.contents[0].parts[0].text }],
      max_tokens: 20,
      n: 1,
      thinking: { type: 'enabled' },
    } as never);
    expect(g.upstream.requests[0]!.json).toEqual(rec.request.body);
    const m = (c as OpenAI.ChatCompletion).choices[0]!.message as ReasoningMessage;
    expect(m.reasoning_content).toMatch(/^\*\*Breaking Down the Sum of Natural Numbers\*\*/);
    expect(m.content).toBeNull();
    expect((c as OpenAI.ChatCompletion).choices[0]!.finish_reason).toBe('length');
    expect((c as OpenAI.ChatCompletion).usage).toMatchObject({ prompt_tokens: 17, completion_tokens: 19, total_tokens: 36, completion_tokens_details: { reasoning_tokens: 19 } });
  });

  it('answers code execution (a built-in tool) as Markdown code blocks in the content', async () => {
    // Synthetic, shaped per Google's code-execution docs: executableCode and codeExecutionResult parts between text.
    g.upstream.enqueue(path('gemini-2.5-flash'), {
      json: {
        candidates: [
          {
            content: {
              role: 'model',
              parts: [
                { text: 'Let me compute it.' },
                { executableCode: { language: 'PYTHON', code: 'print(sum(range(10)))' } },
                { codeExecutionResult: { outcome: 'OUTCOME_OK', output: '45\n' } },
                { text: 'The sum is 45.' },
              ],
            },
            finishReason: 'STOP',
            index: 0,
          },
        ],
        usageMetadata: { promptTokenCount: 10, candidatesTokenCount: 20, totalTokenCount: 30 },
        modelVersion: 'gemini-2.5-flash',
        responseId: 'code1',
      },
    });
    const c = await g.client.chat.completions.create({ model: 'gemini-2.5-flash', messages: user, tools: [{ type: 'code_execution' }] } as never);
    expect(c.choices[0]!.message.content).toBe('Let me compute it.\n```python\nprint(sum(range(10)))\n```\n\n```output\n45\n\n```\nThe sum is 45.');
    expect(c.choices[0]!.finish_reason).toBe('stop');
  });

  it('answers several candidates as several choices (n)', async () => {
    const body = fixtureJson('gemini/generateContent.text.json');
    const other = { ...body.candidates[0], index: 1, content: { role: 'model', parts: [{ text: 'Three.' }] }, finishReason: 'MAX_TOKENS' };
    g.upstream.enqueue(path('gemini-2.5-flash'), { json: { ...body, candidates: [body.candidates[0], other] } }); // synthetic: two candidates from the recorded one
    const c = await g.client.chat.completions.create({ model: 'gemini-2.5-flash', messages: user, n: 2 });
    expect(g.upstream.requests[0]!.json.generationConfig).toEqual({ candidateCount: 2 });
    expect(c.choices.map((ch) => [ch.index, ch.message.content?.slice(0, 6), ch.finish_reason])).toEqual([
      [0, 'There ', 'stop'],
      [1, 'Three.', 'length'],
    ]);
  });
});

describe('google chat: safety', () => {
  it('answers a prompt blocked by safety with a refusal and content_filter, not an error', async () => {
    // Synthetic, shaped per Google's docs: no candidates, promptFeedback.blockReason.
    g.upstream.enqueue(path('gemini-2.5-flash'), {
      json: { promptFeedback: { blockReason: 'PROHIBITED_CONTENT' }, usageMetadata: { promptTokenCount: 12, totalTokenCount: 12 }, modelVersion: 'gemini-2.5-flash', responseId: 'blocked1' },
    });
    const res = await g.client.chat.completions.create({ model: 'gemini-2.5-flash', messages: user }).withResponse();
    expect(res.response.status).toBe(200);
    const choice = res.data.choices[0]!;
    expect(choice.finish_reason).toBe('content_filter');
    expect(choice.message.content).toBeNull();
    expect(choice.message.refusal).toBe('Gemini blocked the prompt (PROHIBITED_CONTENT)');
    expect(res.data.usage).toMatchObject({ prompt_tokens: 12, completion_tokens: 0, total_tokens: 12 });
  });

  it('maps SAFETY and RECITATION finish reasons to content_filter', async () => {
    for (const reason of ['SAFETY', 'RECITATION', 'SPII']) {
      g.upstream.enqueue(path('gemini-2.5-flash'), { json: { candidates: [{ content: { role: 'model', parts: [] }, finishReason: reason, index: 0 }], responseId: reason } });
    }
    for (let i = 0; i < 3; i++) {
      const c = await g.client.chat.completions.create({ model: 'gemini-2.5-flash', messages: user });
      expect(c.choices[0]!.finish_reason).toBe('content_filter');
      expect(c.choices[0]!.message.content).toBeNull();
    }
  });
});
