/**
 * The Anthropic Messages shapes the translators read and write. Loose on purpose: new block and
 * delta types appear often (server tools, citations), and unknown ones must pass without breaking.
 */
export interface AnthropicCacheControl {
  type: 'ephemeral';
  ttl?: string;
}

export type AnthropicImageSource =
  | { type: 'base64'; media_type: string; data: string }
  | { type: 'url'; url: string }
  | { type: string; [extra: string]: unknown };

export type AnthropicBlock =
  | { type: 'text'; text: string; cache_control?: AnthropicCacheControl; [extra: string]: unknown }
  | { type: 'image'; source: AnthropicImageSource; cache_control?: AnthropicCacheControl }
  | { type: 'document'; source: AnthropicImageSource; title?: string; cache_control?: AnthropicCacheControl }
  | { type: 'tool_use'; id: string; name: string; input: unknown; cache_control?: AnthropicCacheControl }
  | {
      type: 'tool_result';
      tool_use_id: string;
      content?: string | AnthropicBlock[];
      is_error?: boolean;
      cache_control?: AnthropicCacheControl;
    }
  | { type: 'thinking'; thinking: string; signature: string }
  | { type: 'redacted_thinking'; data: string }
  | { type: string; [extra: string]: unknown };

export interface AnthropicMessage {
  /** `system` is a mid-conversation instruction (newer models); the top-level `system` is the usual place. */
  role: 'user' | 'assistant' | 'system';
  content: string | AnthropicBlock[];
}

export interface AnthropicTool {
  name: string;
  description?: string;
  input_schema?: Record<string, unknown>;
  /** Strict tool use: the input is sampled from a grammar of `input_schema`. */
  strict?: boolean;
  cache_control?: AnthropicCacheControl;
  /** Server tools (`web_search_20250305`, …) carry a `type` instead of an input schema. */
  type?: string;
  [extra: string]: unknown;
}

export type AnthropicToolChoice =
  | { type: 'auto' | 'any' | 'none'; disable_parallel_tool_use?: boolean }
  | { type: 'tool'; name: string; disable_parallel_tool_use?: boolean };

export interface AnthropicRequest {
  model: string;
  max_tokens: number;
  messages: AnthropicMessage[];
  system?: string | Array<{ type: 'text'; text: string; cache_control?: AnthropicCacheControl }>;
  tools?: AnthropicTool[];
  tool_choice?: AnthropicToolChoice;
  stop_sequences?: string[];
  temperature?: number;
  top_p?: number;
  top_k?: number;
  stream?: boolean;
  metadata?: { user_id?: string; [extra: string]: unknown };
  thinking?: { type: 'enabled'; budget_tokens: number } | { type: 'disabled' } | { type: string; [extra: string]: unknown };
  output_config?: { effort?: string; format?: { type: 'json_schema'; schema: Record<string, unknown> }; [extra: string]: unknown };
  [extra: string]: unknown;
}

export interface AnthropicUsage {
  input_tokens?: number | null;
  output_tokens?: number | null;
  cache_creation_input_tokens?: number | null;
  cache_read_input_tokens?: number | null;
  output_tokens_details?: { thinking_tokens?: number } | null;
  /** The split of `cache_creation_input_tokens` by lifetime: 1-hour writes are billed above 5-minute ones. */
  cache_creation?: { ephemeral_5m_input_tokens?: number | null; ephemeral_1h_input_tokens?: number | null } | null;
  /** Server tools run by Anthropic; web searches are billed per search. */
  server_tool_use?: { web_search_requests?: number | null; [extra: string]: unknown } | null;
  [extra: string]: unknown;
}

export type AnthropicStopReason =
  | 'end_turn'
  | 'max_tokens'
  | 'stop_sequence'
  | 'tool_use'
  | 'pause_turn'
  | 'refusal'
  | 'model_context_window_exceeded';

export interface AnthropicResponse {
  id: string;
  type: 'message';
  role: 'assistant';
  model: string;
  content: AnthropicBlock[];
  stop_reason: AnthropicStopReason | string | null;
  stop_sequence: string | null;
  usage: AnthropicUsage;
  [extra: string]: unknown;
}

export interface AnthropicErrorBody {
  type: 'error';
  error: { type: string; message: string };
  request_id?: string;
}
