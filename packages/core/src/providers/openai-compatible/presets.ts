import { GatewayError } from '../../errors.js';
import type { ChatMessage, ChatRequest, EmbeddingsRequest, ToolCall } from '../openai-types.js';
import type { Provider } from '../types.js';
import { openAICompatible } from './provider.js';

const str = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : undefined);

/**
 * Azure OpenAI: the deployment is in the URL and the version in the query. `resource_name` builds
 * the host when no `custom_host` is given; `deployment_id` defaults to the model name.
 */
const azure = openAICompatible({
  id: 'azure-openai',
  baseURL: 'https://{resource_name}.openai.azure.com',
  envKey: 'AZURE_OPENAI_API_KEY',
  modelSetting: 'deployment_id',
  authHeader: (key) => ({ 'api-key': key }),
  url(op, ctx) {
    const extra = ctx.target.extra;
    const resource = str(extra.resource_name);
    // It becomes the host name: anything but a resource name's letters (`evil.example/x?`) would send the key elsewhere.
    if (resource !== undefined && !/^[a-z0-9][a-z0-9-]{0,62}$/i.test(resource)) {
      throw new GatewayError('invalid_config', `${ctx.target.path}.resource_name "${resource.slice(0, 40)}" is not an Azure resource name`, {
        param: `${ctx.target.path}.resource_name`,
      });
    }
    const templated = ctx.target.baseURL.includes('{resource_name}');
    if (templated && resource === undefined) {
      throw new GatewayError('invalid_config', `${ctx.target.path}.resource_name is required for provider azure-openai (or give custom_host)`, {
        param: `${ctx.target.path}.resource_name`,
      });
    }
    // Portkey's Azure base URL (and the openai SDK's AzureOpenAI `baseURL`) already ends in `/openai`, which the path below adds.
    const base = templated ? `https://${resource}.openai.azure.com` : ctx.target.baseURL.replace(/\/openai$/i, '');
    const deployment = encodeURIComponent(str(extra.deployment_id) ?? ctx.model);
    const version = encodeURIComponent(str(extra.api_version) ?? '2024-10-21');
    return `${base}/openai/deployments/${deployment}/${op}?api-version=${version}`;
  },
});

/**
 * The message fields Mistral's chat API defines, per role; it answers 422 `extra_forbidden` to any
 * other (`name` on a user turn, which multi-agent frameworks set on every message, included).
 */
const MISTRAL_MESSAGE_FIELDS: Record<string, readonly string[]> = {
  system: ['role', 'content'],
  user: ['role', 'content'],
  assistant: ['role', 'content', 'tool_calls', 'prefix'],
  tool: ['role', 'content', 'tool_call_id', 'name'],
};
/** A role Mistral does not have still gets only fields it knows: its answer then names the role. */
const MISTRAL_ANY_FIELDS = [...new Set(Object.values(MISTRAL_MESSAGE_FIELDS).flat())];

/**
 * A tool call as Mistral defines it (`index` included, as its own answers and the recorded requests
 * carry it): calls echoed by OpenAI clients hold fields it refuses, such as `extra_content`, the
 * Gemini thought signature this gateway itself hands out.
 */
const mistralCall = (call: ToolCall, id: string | undefined): ToolCall =>
  ({
    ...(id === undefined ? {} : { id }),
    type: 'function',
    function: { name: call.function?.name, arguments: call.function?.arguments },
    ...(typeof call.index === 'number' ? { index: call.index } : {}),
  }) as ToolCall;

/**
 * Content parts in Mistral's shapes: its AudioChunk takes `input_audio` as the base64 string itself,
 * not OpenAI's `{data, format}`. OpenAI's inline `file` part has no Mistral form (its FileChunk takes a
 * `file_id` uploaded to Mistral, its DocumentURLChunk a URL), so it is refused rather than answered
 * 422 by Mistral. Parts are copied only when they change.
 */
function mistralContent(content: unknown[], param: string): unknown[] {
  return content.map((part: unknown, j) => {
    const p = part as { type?: unknown; input_audio?: { data?: unknown } | string } | null;
    if (p?.type === 'input_audio' && typeof p.input_audio === 'object' && typeof p.input_audio?.data === 'string') {
      return { type: 'input_audio', input_audio: p.input_audio.data };
    }
    if (p?.type === 'file') {
      throw new GatewayError('invalid_request', `${param}[${j}]: mistral does not take OpenAI file parts; send the PDF as a document_url part or its text`, {
        param: `${param}[${j}]`,
      });
    }
    return part;
  });
}

/** Mistral's tool-call ids: nine letters or digits (400 "Tool call id … must be a-z, A-Z, 0-9, with a length of 9"). */
const MISTRAL_CALL_ID = /^[A-Za-z0-9]{9}$/;

/**
 * The history as Mistral accepts it: messages hold only the fields it defines (an assistant turn
 * echoed by an OpenAI client carries `reasoning_content`, `thinking_blocks`… that this gateway itself
 * added), and tool-call ids other providers made (`call_…`, `toolu_…`) are mapped, consistently, to
 * ids of Mistral's form — numbered in order of first appearance, so the same history maps the same
 * way on every turn. New objects throughout: the client's body stays as it came.
 */
function mistralMessages(messages: ChatRequest['messages']): ChatRequest['messages'] {
  const ids = new Map<string, string>();
  const taken = new Set<string>();
  let next = 0;
  const idFor = (id: string): string => {
    if (MISTRAL_CALL_ID.test(id)) return id;
    let mapped = ids.get(id);
    if (mapped === undefined) {
      do mapped = `c${(next++).toString(36).padStart(8, '0')}`;
      while (taken.has(mapped));
      ids.set(id, mapped);
      taken.add(mapped);
    }
    return mapped;
  };
  for (const m of messages) for (const call of m.tool_calls ?? []) if (call.id && MISTRAL_CALL_ID.test(call.id)) taken.add(call.id);
  const out = messages.map((m, i) => {
    // OpenAI's `developer` role (what its SDKs and agents send for instructions) is Mistral's `system`: its roles are four.
    const role = m.role === 'developer' ? 'system' : m.role;
    const out: Record<string, unknown> = {};
    for (const field of MISTRAL_MESSAGE_FIELDS[role] ?? MISTRAL_ANY_FIELDS) if (m[field] !== undefined) out[field] = m[field];
    out.role = role;
    if (Array.isArray(out.content)) out.content = mistralContent(out.content, `messages[${i}].content`);
    if (out.tool_calls) out.tool_calls = m.tool_calls!.map((call) => mistralCall(call, call.id ? idFor(call.id) : undefined));
    if (typeof m.tool_call_id === 'string') out.tool_call_id = idFor(m.tool_call_id);
    // A last assistant turn is a prefill (Anthropic's, from /v1/messages, or a client's): Mistral serves
    // it only as a prefix (400 "Expected last role User or Tool (or Assistant with prefix True)").
    if (role === 'assistant' && i === messages.length - 1 && !out.tool_calls) out.prefix = true;
    return out as ChatRequest['messages'][number];
  });
  return bridgeToolTurns(out);
}

/**
 * Mistral wants an assistant turn between tool results and the next user turn (400
 * `invalid_request_message_order`, "Unexpected role 'user' after role 'tool'"), a history OpenAI takes
 * and /v1/messages makes of every user turn holding tool results and text. The bridge says something:
 * Mistral's assistant turns carry content or tool calls.
 */
function bridgeToolTurns(messages: ChatRequest['messages']): ChatRequest['messages'] {
  if (!messages.some((m, i) => m.role === 'user' && messages[i - 1]?.role === 'tool')) return messages;
  return messages.flatMap((m, i) => (m.role === 'user' && messages[i - 1]?.role === 'tool' ? [{ role: 'assistant', content: 'Ok.' } satisfies ChatMessage, m] : [m]));
}

/**
 * Mistral validates bodies strictly (422 `extra_forbidden` for unknown fields) and names two of
 * OpenAI's parameters its own way: `max_tokens` only (see `maxTokens`), and `random_seed`. OpenAI's
 * `user` has no counterpart in its chat schema (nor in its embeddings, see below); `/v1/messages`
 * sets it from `metadata.user_id`, which Claude Code sends on every request.
 */
function adaptForMistral(body: ChatRequest): void {
  if (body.seed !== undefined) {
    body.random_seed ??= body.seed;
    delete body.seed;
  }
  delete body.user;
  if (Array.isArray(body.messages)) body.messages = mistralMessages(body.messages);
}

/** Mistral's embeddings name the size `output_dimension` and refuse fields they do not define (`user`). */
function adaptEmbeddingsForMistral(body: EmbeddingsRequest): void {
  if (body.dimensions !== undefined) {
    body.output_dimension ??= body.dimensions;
    delete body.dimensions;
  }
  delete body.user;
}

/**
 * Groq validates message fields strictly (400 "property 'reasoning_content' is unsupported"), and an
 * OpenAI client echoing an assistant turn hands back the `reasoning_content` this gateway copied from
 * Groq's `reasoning` (and `thinking_blocks` of other providers' answers). Changed turns are copies.
 */
const echoesReasoning = (m: ChatMessage | undefined) => m?.role === 'assistant' && (m.reasoning_content !== undefined || m.thinking_blocks !== undefined);
const groqAdapts = (body: ChatRequest) => Array.isArray(body.messages) && body.messages.some(echoesReasoning);

function adaptForGroq(body: ChatRequest): void {
  if (!groqAdapts(body)) return;
  body.messages = body.messages.map((m) => {
    if (!echoesReasoning(m)) return m;
    const { reasoning_content: _text, thinking_blocks: _blocks, ...rest } = m;
    return rest as ChatMessage;
  });
}

/** DeepSeek's roles are four: OpenAI's `developer` (instructions, from its SDKs and agents) is its `system` (422 "unknown variant `developer`"). */
const deepSeekAdapts = (body: ChatRequest) => Array.isArray(body.messages) && body.messages.some((m) => m?.role === 'developer');

function adaptForDeepSeek(body: ChatRequest): void {
  if (!deepSeekAdapts(body)) return;
  body.messages = body.messages.map((m) => (m.role === 'developer' ? { ...m, role: 'system' } : m));
}

/**
 * Services that read `max_tokens` (see `OpenAICompatiblePreset.maxTokens`): DeepSeek ignores the newer name,
 * Mistral refuses it, and the self-hosted servers only lately learned it. OpenAI, Azure, Groq, xAI and
 * OpenRouter (a recorded request) take `max_completion_tokens`.
 */
const OLDER_LIMIT = { maxTokens: 'max_tokens' } as const;

/** Every OpenAI-compatible service: a base URL and the environment variable of its key. */
export const openAICompatiblePresets: Provider[] = [
  openAICompatible({ id: 'openai', baseURL: 'https://api.openai.com/v1', envKey: 'OPENAI_API_KEY' }),
  azure,
  openAICompatible({ id: 'groq', baseURL: 'https://api.groq.com/openai/v1', envKey: 'GROQ_API_KEY', adapt: adaptForGroq, adapts: groqAdapts }),
  openAICompatible({ id: 'together', baseURL: 'https://api.together.xyz/v1', envKey: 'TOGETHER_API_KEY', ...OLDER_LIMIT }),
  openAICompatible({ id: 'fireworks', baseURL: 'https://api.fireworks.ai/inference/v1', envKey: 'FIREWORKS_API_KEY', ...OLDER_LIMIT }),
  openAICompatible({ id: 'deepseek', baseURL: 'https://api.deepseek.com/v1', envKey: 'DEEPSEEK_API_KEY', ...OLDER_LIMIT, adapt: adaptForDeepSeek, adapts: deepSeekAdapts }),
  openAICompatible({ id: 'xai', baseURL: 'https://api.x.ai/v1', envKey: 'XAI_API_KEY' }),
  openAICompatible({ id: 'openrouter', baseURL: 'https://openrouter.ai/api/v1', envKey: 'OPENROUTER_API_KEY' }),
  openAICompatible({ id: 'perplexity', baseURL: 'https://api.perplexity.ai', envKey: 'PERPLEXITY_API_KEY', ...OLDER_LIMIT }),
  openAICompatible({ id: 'mistral', baseURL: 'https://api.mistral.ai/v1', envKey: 'MISTRAL_API_KEY', streamUsage: 'always', ...OLDER_LIMIT, adapt: adaptForMistral, adaptEmbeddings: adaptEmbeddingsForMistral }),
  openAICompatible({ id: 'ollama', baseURL: 'http://localhost:11434/v1', envKey: 'OLLAMA_API_KEY', ...OLDER_LIMIT }),
  openAICompatible({ id: 'vllm', baseURL: 'http://localhost:8000/v1', envKey: 'VLLM_API_KEY', ...OLDER_LIMIT }),
  openAICompatible({ id: 'lmstudio', baseURL: 'http://localhost:1234/v1', envKey: 'LMSTUDIO_API_KEY', ...OLDER_LIMIT }),
];
