import { GatewayError } from '../../errors.js';
import type { ChatRequest, EmbeddingsRequest, ToolCall } from '../openai-types.js';
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
    const base = templated ? `https://${resource}.openai.azure.com` : ctx.target.baseURL;
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
  return messages.map((m, i) => {
    // OpenAI's `developer` role (what its SDKs and agents send for instructions) is Mistral's `system`: its roles are four.
    const role = m.role === 'developer' ? 'system' : m.role;
    const out: Record<string, unknown> = {};
    for (const field of MISTRAL_MESSAGE_FIELDS[role] ?? MISTRAL_ANY_FIELDS) if (m[field] !== undefined) out[field] = m[field];
    out.role = role;
    if (Array.isArray(out.content)) out.content = mistralContent(out.content, `messages[${i}].content`);
    if (out.tool_calls) out.tool_calls = m.tool_calls!.map((call) => mistralCall(call, call.id ? idFor(call.id) : undefined));
    if (typeof m.tool_call_id === 'string') out.tool_call_id = idFor(m.tool_call_id);
    return out as ChatRequest['messages'][number];
  });
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
 * Services that read `max_tokens` (see `OpenAICompatiblePreset.maxTokens`): DeepSeek ignores the newer name,
 * Mistral refuses it, and the self-hosted servers only lately learned it. OpenAI, Azure, Groq, xAI and
 * OpenRouter (a recorded request) take `max_completion_tokens`.
 */
const OLDER_LIMIT = { maxTokens: 'max_tokens' } as const;

/** Every OpenAI-compatible service: a base URL and the environment variable of its key. */
export const openAICompatiblePresets: Provider[] = [
  openAICompatible({ id: 'openai', baseURL: 'https://api.openai.com/v1', envKey: 'OPENAI_API_KEY' }),
  azure,
  openAICompatible({ id: 'groq', baseURL: 'https://api.groq.com/openai/v1', envKey: 'GROQ_API_KEY' }),
  openAICompatible({ id: 'together', baseURL: 'https://api.together.xyz/v1', envKey: 'TOGETHER_API_KEY', ...OLDER_LIMIT }),
  openAICompatible({ id: 'fireworks', baseURL: 'https://api.fireworks.ai/inference/v1', envKey: 'FIREWORKS_API_KEY', ...OLDER_LIMIT }),
  openAICompatible({ id: 'deepseek', baseURL: 'https://api.deepseek.com/v1', envKey: 'DEEPSEEK_API_KEY', ...OLDER_LIMIT }),
  openAICompatible({ id: 'xai', baseURL: 'https://api.x.ai/v1', envKey: 'XAI_API_KEY' }),
  openAICompatible({ id: 'openrouter', baseURL: 'https://openrouter.ai/api/v1', envKey: 'OPENROUTER_API_KEY' }),
  openAICompatible({ id: 'perplexity', baseURL: 'https://api.perplexity.ai', envKey: 'PERPLEXITY_API_KEY', ...OLDER_LIMIT }),
  openAICompatible({ id: 'mistral', baseURL: 'https://api.mistral.ai/v1', envKey: 'MISTRAL_API_KEY', streamUsage: 'always', ...OLDER_LIMIT, adapt: adaptForMistral, adaptEmbeddings: adaptEmbeddingsForMistral }),
  openAICompatible({ id: 'ollama', baseURL: 'http://localhost:11434/v1', envKey: 'OLLAMA_API_KEY', ...OLDER_LIMIT }),
  openAICompatible({ id: 'vllm', baseURL: 'http://localhost:8000/v1', envKey: 'VLLM_API_KEY', ...OLDER_LIMIT }),
  openAICompatible({ id: 'lmstudio', baseURL: 'http://localhost:1234/v1', envKey: 'LMSTUDIO_API_KEY', ...OLDER_LIMIT }),
];
