/**
 * The Bedrock Converse wire shapes, as far as the gateway reads or writes them
 * (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html).
 */

export interface ConverseImage {
  format: 'png' | 'jpeg' | 'gif' | 'webp';
  /** Base64: JSON carries Smithy blobs as base64 text. */
  source: { bytes: string };
}

export interface ConverseDocument {
  format: string;
  name: string;
  source: { bytes: string };
}

export interface ConverseReasoning {
  reasoningText?: { text: string; signature?: string };
  redactedContent?: string;
}

export interface ConverseToolUse {
  toolUseId: string;
  name: string;
  input: unknown;
}

export interface ConverseToolResult {
  toolUseId: string;
  content: Array<{ text: string } | { json: unknown } | { image: ConverseImage }>;
  status?: 'success' | 'error';
}

export type ConverseBlock =
  | { text: string }
  | { image: ConverseImage }
  | { document: ConverseDocument }
  | { toolUse: ConverseToolUse }
  | { toolResult: ConverseToolResult }
  | { reasoningContent: ConverseReasoning }
  | { cachePoint: { type: 'default' } };

export interface ConverseMessage {
  role: 'user' | 'assistant';
  content: ConverseBlock[];
}

export interface ConverseToolSpec {
  /** `strict`: Converse enforces `inputSchema` on the model's tool input (structured outputs). */
  toolSpec: { name: string; description?: string; inputSchema: { json: Record<string, unknown> }; strict?: boolean };
}

export type ConverseToolChoice = { auto: Record<string, never> } | { any: Record<string, never> } | { tool: { name: string } };

export interface ConverseRequest {
  messages: ConverseMessage[];
  system?: Array<{ text: string } | { cachePoint: { type: 'default' } }>;
  inferenceConfig?: { maxTokens?: number; temperature?: number; topP?: number; stopSequences?: string[] };
  toolConfig?: { tools: ConverseToolSpec[]; toolChoice?: ConverseToolChoice };
  additionalModelRequestFields?: Record<string, unknown>;
  outputConfig?: {
    textFormat: { type: 'json_schema'; structure: { jsonSchema: { name: string; schema: string; description?: string } } };
  };
  [field: string]: unknown;
}

export interface ConverseUsage {
  inputTokens?: number;
  outputTokens?: number;
  totalTokens?: number;
  cacheReadInputTokens?: number;
  cacheWriteInputTokens?: number;
}

/** A block of the answer: exactly one key is set. */
export interface ConverseOutputBlock {
  text?: string;
  toolUse?: ConverseToolUse;
  reasoningContent?: ConverseReasoning;
}

export interface ConverseResponse {
  output?: { message?: { role: string; content?: ConverseOutputBlock[] } };
  stopReason?: string;
  usage?: ConverseUsage;
  metrics?: { latencyMs?: number };
  /** The model's own fields the request named in `additionalModelResponseFieldPaths` (Claude's `stop_sequence`). */
  additionalModelResponseFields?: Record<string, unknown>;
}
