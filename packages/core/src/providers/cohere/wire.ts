/**
 * The parts of Cohere's v2 wire format the translators read and write
 * (https://docs.cohere.com/reference/chat, checked against `shared/fixtures/cohere/`).
 */
export type CohereContent =
  | { type: 'text'; text: string }
  | { type: 'thinking'; thinking: string }
  | { type: 'image_url'; image_url: { url: string; detail?: string } }
  | { type: 'document'; document: Record<string, unknown> };

export interface CohereToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export type CohereMessage =
  | { role: 'system'; content: string }
  | { role: 'user'; content: string | CohereContent[] }
  | { role: 'assistant'; content?: string | CohereContent[]; tool_plan?: string; tool_calls?: CohereToolCall[] }
  | { role: 'tool'; tool_call_id: string; content: string | CohereContent[] };

export interface CohereUsage {
  billed_units?: { input_tokens?: number; output_tokens?: number };
  tokens?: { input_tokens?: number; output_tokens?: number };
  cached_tokens?: number;
}

export type CohereFinishReason = 'COMPLETE' | 'STOP_SEQUENCE' | 'MAX_TOKENS' | 'TOOL_CALL' | 'ERROR' | 'TIMEOUT' | string;

export interface CohereChatResponse {
  id: string;
  message?: {
    role?: 'assistant';
    content?: Array<{ type: string; text?: string; thinking?: string }>;
    tool_plan?: string;
    tool_calls?: Array<{ id?: string; type?: string; function?: { name?: string; arguments?: string } }>;
    citations?: unknown[];
  };
  finish_reason?: CohereFinishReason;
  usage?: CohereUsage;
}

/** One `data:` payload of a v2 chat stream; `type` repeats the SSE `event:` name. */
export interface CohereStreamEvent {
  type: string;
  id?: string;
  index?: number;
  delta?: {
    message?: {
      content?: { type?: string; text?: string; thinking?: string };
      tool_plan?: string;
      tool_calls?: { id?: string; type?: string; function?: { name?: string; arguments?: string } };
    };
    finish_reason?: CohereFinishReason;
    usage?: CohereUsage;
    error?: string;
  };
}

export interface CohereEmbedResponse {
  id?: string;
  embeddings?: { float?: number[][] };
  meta?: { billed_units?: { input_tokens?: number; images?: number } };
}
