import OpenAI from 'openai';
import { afterAll, beforeAll, it } from 'vitest';
import { appFactories, type TestApp } from './helpers/apps.js';
import { fixtureBytes, fixtureJson, fixtureText } from './helpers/fixtures.js';
import { framesOf, eventStream } from './helpers/bedrock-frames.js';
import { sseFromJsonl, startMockUpstream, type MockUpstream } from './helpers/mock-upstream.js';

let upstream: MockUpstream;
const apps: TestApp[] = [];
const clients: Record<string, OpenAI> = {};
const targets = (url: string): Record<string, Record<string, unknown>> => ({
  anthropic: { provider: 'anthropic', api_key: 'sk-ant', custom_host: `${url}/v1` },
  google: { provider: 'google', api_key: 'AIza', custom_host: `${url}/v1beta` },
  bedrock: { provider: 'bedrock', api_key: 'br', aws_region: 'us-east-1', custom_host: url },
  cohere: { provider: 'cohere', api_key: 'co', custom_host: `${url}/v2` },
  mistral: { provider: 'mistral', api_key: 'mi', custom_host: `${url}/v1` },
});
beforeAll(async () => {
  upstream = await startMockUpstream();
  for (const [name, t] of Object.entries(targets(upstream.url))) {
    const app = await appFactories.express5!({ env: {}, config: { targets: [t] } } as never);
    apps.push(app);
    clients[name] = new OpenAI({ baseURL: `${app.gatewayURL}/v1`, apiKey: 'x', maxRetries: 0 });
  }
});
afterAll(async () => { for (const a of apps) await a.close(); await upstream.close(); });

const sse = { 'content-type': 'text/event-stream' };
const first: Record<string, any> = {
  anthropic: { headers: sse, chunks: [fixtureBytes('anthropic/messages.parallel-tool-use.stream.sse')] },
  google: { headers: sse, chunks: [fixtureBytes('gemini/streamGenerateContent.tool-call.sse')] },
  bedrock: eventStream(framesOf('bedrock/converse-stream.tool-use.eventstream.bin')),
  cohere: { headers: sse, chunks: sseFromJsonl(fixtureText('cohere/chat-v2.tool-call.chunks.jsonl'), { eventFromType: true }) },
  mistral: { headers: sse, chunks: sseFromJsonl(fixtureText('mistral/chat-completions.tool-call.chunks.jsonl'), { done: true }) },
};
const second: Record<string, any> = {
  anthropic: { headers: sse, chunks: [fixtureBytes('anthropic/messages.text.stream.sse')] },
  google: { headers: sse, chunks: [fixtureBytes('gemini/streamGenerateContent.after-function-response.sse')] },
  bedrock: eventStream(framesOf('bedrock/converse-stream.after-tool-result.eventstream.bin')),
  cohere: { headers: sse, chunks: sseFromJsonl(fixtureText('cohere/chat-v2.text.chunks.jsonl'), { eventFromType: true }) },
  mistral: { headers: sse, chunks: sseFromJsonl(fixtureText('mistral/chat-completions.text.chunks.jsonl'), { done: true }) },
};
const names: Record<string, string[]> = { anthropic: ['pelican_name_generator'], google: ['get_country'], bedrock: ['get_temperature'], cohere: ['weather', 'cityAttractions'], mistral: ['weather'] };
for (const p of Object.keys(first)) {
  it(`${p} stream runTools`, async () => {
    upstream.reset();
    let n = 0;
    upstream.route('*', () => (n++ === 0 ? first[p] : second[p]));
    const calls: unknown[] = [];
    const runner = clients[p]!.chat.completions.runTools({
      model: p === 'bedrock' ? 'us.amazon.nova-micro-v1:0' : p === 'google' ? 'gemini-3-pro-preview' : 'm-1',
      stream: true,
      messages: [{ role: 'user', content: 'go' }],
      tools: names[p]!.map((name) => ({ type: 'function' as const, function: { name, parameters: { type: 'object', properties: { x: { type: 'string' } } }, function: (a: unknown) => (calls.push(a), { ok: true }), parse: JSON.parse } })),
    });
    let err: any;
    try { await runner.finalContent(); } catch (e) { err = e; }
    console.log(`==== ${p} ${err ? 'ERR ' + err.message : ''} calls=${JSON.stringify(calls)}\nMSGS ${JSON.stringify(runner.messages)}\n${upstream.requests.map((r) => r.path + ' ' + r.text).join('\n')}`);
  });
}
