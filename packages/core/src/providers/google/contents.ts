import { parseDataUrl } from '../data-url.js';
import { GatewayError } from '../../errors.js';
import { bytesToBase64, utf8Bytes } from '../../http/bytes.js';
import type { ChatMessage } from '../openai-types.js';
import { requiresSignatures, signatureOf, SKIP_SIGNATURE } from './thought-signature.js';
import type { GeminiContent, GeminiPart } from './wire.js';

/**
 * OpenAI `messages` → Gemini `contents` + `systemInstruction`. Assistant turns become role `model`,
 * tool results become `functionResponse` parts in a user turn (their images and files follow them in
 * that turn), and consecutive turns of one role are merged, as Gemini expects all results of one step
 * of parallel calls in a single turn.
 */

const bad = (param: string, message: string) => new GatewayError('invalid_request', `${param}: ${message}`, { param });

const MIME_BY_EXT: Record<string, string> = {
  png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', gif: 'image/gif', webp: 'image/webp', heic: 'image/heic', heif: 'image/heif',
  pdf: 'application/pdf', txt: 'text/plain', mp3: 'audio/mp3', wav: 'audio/wav', flac: 'audio/flac', ogg: 'audio/ogg',
  mp4: 'video/mp4', mov: 'video/mov', webm: 'video/webm',
};

function mimeFromUrl(url: string, fallback: string): string {
  const ext = /\.([a-z0-9]+)(?:[?#]|$)/i.exec(url)?.[1]?.toLowerCase();
  // Own keys only: a URL ending in `.constructor` must not find Object.prototype's.
  return (ext && Object.hasOwn(MIME_BY_EXT, ext) && MIME_BY_EXT[ext]) || fallback;
}

/**
 * References Google reads with the target's own credentials rather than as any visitor would: Cloud
 * Storage objects (`gs://`, or their googleapis.com URLs) with Vertex's service account, and Gemini
 * Files API files with the API key. Where `allow_storage_uris: false`, a client may not name them: it
 * could make the model read, and repeat, any object the gateway's account may read.
 */
function isPublicWebUrl(uri: string): boolean {
  if (!/^https?:\/\//i.test(uri)) return false;
  let host: string;
  try {
    // The host as Google will read it: userinfo, case, a trailing dot and percent-escapes do not hide it.
    host = new URL(uri).hostname.toLowerCase().replace(/\.$/, '');
  } catch {
    return false;
  }
  return !(host === 'googleapis.com' || host.endsWith('.googleapis.com') || host === 'storage.cloud.google.com');
}

/** What a file reference must pass; undefined when the target allows every kind. */
type FileRefCheck = ((uri: string, param: string) => void) | undefined;

function storageRefusal(ctx: { allowStorageUris: boolean }): FileRefCheck {
  if (ctx.allowStorageUris) return undefined;
  return (uri, param) => {
    if (!isPublicWebUrl(uri)) {
      throw bad(param, 'this target does not take storage or uploaded-file references (allow_storage_uris: false); send the file inline as a base64 data URL');
    }
  };
}

/** `data:` URLs become inline bytes; anything else is a file reference (https, gs://, Files API URI). */
function mediaPart(url: string, fallbackMime: string, param: string, check: FileRefCheck): GeminiPart {
  if (url.startsWith('data:')) {
    const d = parseDataUrl(url);
    if (!d) throw bad(param, 'is not a valid data URL');
    // `parseDataUrl` lower-cases the type and names `image/jpg` Gemini's way (it refuses "image/jpg").
    const mimeType = d.mediaType || fallbackMime;
    return { inlineData: { mimeType, data: d.base64 ? d.payload : bytesToBase64(utf8Bytes(percentDecoded(d.payload, param))) } };
  }
  if (!/^(https?|gs):\/\//.test(url)) throw bad(param, 'must be an http(s), gs:// or data: URL');
  check?.(url, param);
  return { fileData: { mimeType: mimeFromUrl(url, fallbackMime), fileUri: url } };
}

function percentDecoded(text: string, param: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw bad(param, 'is not a valid percent-encoded data URL (a stray "%"?); send the file as base64');
  }
}

/** The OpenAI part types that carry media rather than text. */
const MEDIA_TYPES = new Set(['image_url', 'input_audio', 'file']);

/** One OpenAI content part → its Gemini part; undefined for empty text. */
function partOf(p: Record<string, any>, at: string, check: FileRefCheck): GeminiPart | undefined {
  switch (p.type) {
    case 'text':
      if (typeof p.text !== 'string') throw bad(`${at}.text`, 'must be a string');
      return p.text ? { text: p.text } : undefined;
    case 'image_url': {
      const url = typeof p.image_url === 'string' ? p.image_url : p.image_url?.url;
      if (typeof url !== 'string') throw bad(`${at}.image_url.url`, 'must be a string');
      return mediaPart(url, 'image/jpeg', `${at}.image_url.url`, check);
    }
    case 'input_audio': {
      const audio = p.input_audio;
      if (typeof audio?.data !== 'string') throw bad(`${at}.input_audio.data`, 'must be base64 audio');
      return { inlineData: { mimeType: `audio/${audio.format ?? 'wav'}`, data: audio.data } };
    }
    case 'file': {
      const file = p.file ?? {};
      if (typeof file.file_data === 'string') {
        const data = file.file_data.startsWith('data:') ? file.file_data : `data:application/pdf;base64,${file.file_data}`;
        return mediaPart(data, 'application/pdf', `${at}.file.file_data`, check);
      }
      if (typeof file.file_id === 'string') {
        check?.(file.file_id, `${at}.file.file_id`);
        return { fileData: { mimeType: mimeFromUrl(file.filename ?? file.file_id, 'application/pdf'), fileUri: file.file_id } };
      }
      throw bad(`${at}.file`, 'needs file_data or file_id');
    }
    default:
      throw bad(`${at}.type`, `content part type "${String(p.type)}" cannot be sent to Gemini`);
  }
}

function contentParts(content: ChatMessage['content'], param: string, check: FileRefCheck): GeminiPart[] {
  if (content === undefined || content === null) return [];
  if (typeof content === 'string') return content ? [{ text: content }] : [];
  const parts: GeminiPart[] = [];
  for (const [i, raw] of content.entries()) {
    const part = partOf(raw as Record<string, any>, `${param}[${i}]`, check);
    if (part) parts.push(part);
  }
  return parts;
}

/**
 * The images, audio and files of a tool answer: a functionResponse holds only JSON, so they follow
 * the responses in the same user turn, as /v1/messages already sends a tool_result's images.
 */
function toolMedia(content: ChatMessage['content'], param: string, check: FileRefCheck): GeminiPart[] {
  if (!Array.isArray(content)) return [];
  const parts: GeminiPart[] = [];
  for (const [i, raw] of content.entries()) {
    const p = raw as Record<string, any>;
    if (MEDIA_TYPES.has(p?.type)) parts.push(partOf(p, `${param}[${i}]`, check)!);
  }
  return parts;
}

const textOf = (content: ChatMessage['content']): string =>
  typeof content === 'string'
    ? content
    : (content ?? []).map((p) => (typeof (p as { text?: unknown }).text === 'string' ? (p as { text: string }).text : '')).join('');

/**
 * Gemini wants an object; Google documents `output` as the key for a plain result and `error` for a
 * failed call (`is_error`, which /v1/messages carries over from Anthropic's tool_result), so the
 * model does not take the failure for a result.
 */
function functionResponse(content: ChatMessage['content'], isError = false): Record<string, unknown> {
  const text = textOf(content);
  if (isError) return { error: text };
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
    return { output: parsed };
  } catch {
    return { output: text };
  }
}

function parseArguments(args: unknown, param: string): Record<string, unknown> {
  if (args === undefined || args === null || args === '') return {};
  if (typeof args === 'object' && !Array.isArray(args)) return args as Record<string, unknown>;
  if (typeof args !== 'string') throw bad(param, 'must be a JSON string');
  let parsed: unknown;
  try {
    parsed = JSON.parse(args);
  } catch {
    throw bad(param, 'is not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw bad(param, 'must encode a JSON object');
  return parsed as Record<string, unknown>;
}

export interface TranslatedMessages {
  contents: GeminiContent[];
  systemInstruction?: { parts: GeminiPart[] };
}

/**
 * Tool results in the order of their calls. OpenAI matches a result to its call by `tool_call_id`,
 * so clients may send them in any order; Gemini's parts carry no id (Vertex refuses unknown fields)
 * and it pairs them by position — two calls of one function would get each other's results. Only the
 * results move, among the slots they already hold.
 */
function inCallOrder(parts: GeminiPart[], position: Map<GeminiPart, number>): void {
  const slots: number[] = [];
  for (let i = 0; i < parts.length; i++) if (position.has(parts[i]!)) slots.push(i);
  if (slots.length < 2) return;
  const ordered = slots.map((i) => parts[i]!).sort((a, b) => position.get(a)! - position.get(b)!);
  slots.forEach((slot, k) => (parts[slot] = ordered[k]!));
}

/** `allowStorageUris`: the target's `allow_storage_uris` (default true, as Google's own SDKs and Portkey). */
export function toContents(messages: ChatMessage[], model: string, opts: { allowStorageUris: boolean } = { allowStorageUris: true }): TranslatedMessages {
  const check = storageRefusal(opts);
  const system: GeminiPart[] = [];
  const turns: GeminiContent[] = [];
  const toolNames = new Map<string, string>();
  /** Where each call of the latest assistant turn stands among its calls (see `inCallOrder`). */
  const callPosition = new Map<string, number>();
  const responsePosition = new Map<GeminiPart, number>();
  const signatures = requiresSignatures(model);
  const push = (role: GeminiContent['role'], parts: GeminiPart[]) => {
    if (!parts.length) return;
    const last = turns[turns.length - 1];
    if (last?.role === role) last.parts.push(...parts);
    else turns.push({ role, parts });
  };

  /** Media of the tool answers since the last other message, sent after all their functionResponses. */
  let media: GeminiPart[] = [];
  const flushMedia = () => {
    push('user', media);
    media = [];
  };

  for (const [i, m] of messages.entries()) {
    const at = `messages[${i}]`;
    if (m.role !== 'tool' && m.role !== 'function') flushMedia();
    switch (m.role) {
      case 'system':
      case 'developer':
        system.push(...contentParts(m.content, `${at}.content`, check));
        break;
      case 'user':
        push('user', contentParts(m.content, `${at}.content`, check));
        break;
      case 'assistant': {
        // Only the text of an earlier answer goes back (an echoed `refusal` part has no Gemini form).
        const text = textOf(m.content);
        const parts: GeminiPart[] = text ? [{ text }] : [];
        const textSignature = signatureOf(m);
        if (textSignature && parts[0]) parts[parts.length - 1]!.thoughtSignature = textSignature;
        callPosition.clear();
        for (const [j, call] of (m.tool_calls ?? []).entries()) {
          const name = call.function?.name;
          if (!name) throw bad(`${at}.tool_calls[${j}].function.name`, 'is required');
          if (call.id) {
            toolNames.set(call.id, name);
            callPosition.set(call.id, j);
          }
          const part: GeminiPart = { functionCall: { name, args: parseArguments(call.function.arguments, `${at}.tool_calls[${j}].function.arguments`) } };
          const sig = signatureOf(call) ?? (signatures && j === 0 ? SKIP_SIGNATURE : undefined);
          if (sig) part.thoughtSignature = sig;
          parts.push(part);
        }
        push('model', parts);
        break;
      }
      case 'tool': {
        const name = (m.tool_call_id && toolNames.get(m.tool_call_id)) || (typeof m.name === 'string' ? m.name : undefined);
        if (!name) throw bad(`${at}.tool_call_id`, `"${String(m.tool_call_id)}" does not match a tool call of an earlier assistant message`);
        const part: GeminiPart = { functionResponse: { name, response: functionResponse(m.content, m.is_error === true) } };
        const position = m.tool_call_id === undefined ? undefined : callPosition.get(m.tool_call_id);
        if (position !== undefined) responsePosition.set(part, position);
        push('user', [part]);
        media.push(...toolMedia(m.content, `${at}.content`, check));
        break;
      }
      case 'function': {
        if (typeof m.name !== 'string' || !m.name) throw bad(`${at}.name`, 'is required for a function message');
        push('user', [{ functionResponse: { name: m.name, response: functionResponse(m.content) } }]);
        break;
      }
      default:
        throw bad(`${at}.role`, `role "${String(m.role)}" cannot be sent to Gemini`);
    }
  }
  flushMedia();
  if (!turns.length) throw bad('messages', 'Gemini needs at least one user or assistant message besides the system prompt');
  if (responsePosition.size > 1) for (const turn of turns) if (turn.role === 'user') inCallOrder(turn.parts, responsePosition);
  return system.length ? { contents: turns, systemInstruction: { parts: system } } : { contents: turns };
}
