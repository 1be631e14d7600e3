/**
 * The Gemini / Vertex AI `generateContent` wire shapes, as far as the translators read or write them.
 * Loose on purpose: Google adds fields often (`createTime`, `trafficType`, `turnToken`).
 */

export interface GeminiPart {
  text?: string;
  /** A thought-summary part (only returned with `includeThoughts`). */
  thought?: boolean;
  /** Gemini 3 signs its reasoning; the signature must come back on the same part next turn. */
  thoughtSignature?: string;
  inlineData?: { mimeType: string; data: string };
  fileData?: { mimeType?: string; fileUri: string };
  functionCall?: { name: string; args?: Record<string, unknown>; id?: string };
  functionResponse?: { name: string; response: Record<string, unknown>; id?: string };
  executableCode?: { language?: string; code: string };
  codeExecutionResult?: { outcome?: string; output?: string };
  [extra: string]: unknown;
}

export interface GeminiContent {
  role: 'user' | 'model';
  parts: GeminiPart[];
}

export interface GeminiCandidate {
  content?: { role?: string; parts?: GeminiPart[] };
  finishReason?: string;
  finishMessage?: string;
  index?: number;
  /** Only with `generationConfig.responseLogprobs`. */
  logprobsResult?: GeminiLogprobsResult;
  [extra: string]: unknown;
}

/** One token and its log probability. */
export interface GeminiLogprobsCandidate {
  token?: string;
  tokenId?: number;
  logProbability?: number;
}

/** Per decoding step: the token chosen, and the `logprobs` likeliest ones (best first). Both lists are one entry a step. */
export interface GeminiLogprobsResult {
  chosenCandidates?: GeminiLogprobsCandidate[];
  topCandidates?: Array<{ candidates?: GeminiLogprobsCandidate[] }>;
  logProbabilitySum?: number;
}

export interface GeminiUsage {
  promptTokenCount?: number;
  candidatesTokenCount?: number;
  totalTokenCount?: number;
  cachedContentTokenCount?: number;
  thoughtsTokenCount?: number;
  toolUsePromptTokenCount?: number;
  [extra: string]: unknown;
}

export interface GenerateContentResponse {
  candidates?: GeminiCandidate[];
  promptFeedback?: { blockReason?: string; blockReasonMessage?: string; [extra: string]: unknown };
  usageMetadata?: GeminiUsage;
  modelVersion?: string;
  responseId?: string;
  /** Vertex only. */
  createTime?: string;
  [extra: string]: unknown;
}

export interface GenerateContentRequest {
  contents: GeminiContent[];
  systemInstruction?: { parts: GeminiPart[] };
  tools?: Array<Record<string, unknown>>;
  toolConfig?: { functionCallingConfig: { mode: 'AUTO' | 'ANY' | 'NONE'; allowedFunctionNames?: string[] } };
  generationConfig?: Record<string, unknown>;
  safetySettings?: unknown;
  cachedContent?: string;
  labels?: Record<string, string>;
}
