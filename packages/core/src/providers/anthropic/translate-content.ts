import { parseDataUrl } from '../data-url.js';
import { GatewayError } from '../../errors.js';
import type { ContentPart } from '../openai-types.js';
import type { AnthropicBlock, AnthropicCacheControl } from './wire-types.js';

/** A base64 `data:` URL's type and data; undefined for any other URL (Anthropic takes base64 only). */
function base64DataUrl(url: string): { mediaType: string; data: string } | undefined {
  const d = parseDataUrl(url);
  return d?.base64 ? { mediaType: d.mediaType || 'application/octet-stream', data: d.payload } : undefined;
}

const invalid = (param: string, message: string) => new GatewayError('invalid_request', `${param}: ${message}`, { param });

function withCache<T extends AnthropicBlock>(block: T, part: Record<string, unknown>): T {
  // Prompt-caching breakpoints set on OpenAI parts (Portkey's convention) survive translation.
  if (part.cache_control && typeof part.cache_control === 'object') (block as { cache_control?: AnthropicCacheControl }).cache_control = part.cache_control as AnthropicCacheControl;
  return block;
}

/** How the translated body may carry media. */
export interface ContentOptions {
  /**
   * The provider that takes images and documents inline only, named in the 400 for a URL source:
   * Claude on Bedrock (InvokeModel) refuses `source: {type: "url"}`, and fetching the URL here
   * would let a client make the gateway call any host.
   */
  inlineOnly?: string;
}

function imageBlock(url: unknown, param: string, opts: ContentOptions): AnthropicBlock {
  if (typeof url !== 'string' || !url) throw invalid(param, 'must be an image URL or a data URL');
  const data = base64DataUrl(url);
  if (data) return { type: 'image', source: { type: 'base64', media_type: data.mediaType, data: data.data } };
  if (opts.inlineOnly && /^https?:/i.test(url)) throw invalid(param, `${opts.inlineOnly} takes images as base64 data URLs (data:<type>;base64,…), not remote URLs`);
  if (/^https?:\/\//i.test(url)) return { type: 'image', source: { type: 'url', url } };
  throw invalid(param, 'anthropic accepts http(s) image URLs and base64 data URLs only');
}

function decodeBase64Text(b64: string, param: string): string {
  try {
    return new TextDecoder().decode(Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)));
  } catch {
    throw invalid(param, 'is not valid base64');
  }
}

/** OpenAI `file` parts (PDFs and text as data URLs) become Anthropic documents. */
function documentBlock(file: Record<string, unknown> | undefined, param: string): AnthropicBlock {
  const url = file?.file_data;
  const parsed = typeof url === 'string' ? base64DataUrl(url) : undefined;
  if (!parsed) throw invalid(`${param}.file.file_data`, 'anthropic needs the file inline as a base64 data URL (file_id is not supported)');
  const block: AnthropicBlock =
    parsed.mediaType === 'text/plain'
      ? { type: 'document', source: { type: 'text', media_type: 'text/plain', data: decodeBase64Text(parsed.data, `${param}.file.file_data`) } }
      : { type: 'document', source: { type: 'base64', media_type: parsed.mediaType, data: parsed.data } };
  if (typeof file?.filename === 'string') (block as { title?: string }).title = file.filename;
  return block;
}

/** OpenAI message content → Anthropic blocks. Empty text is dropped: Anthropic rejects empty text blocks. */
export function toBlocks(content: string | ContentPart[] | null | undefined, param: string, opts: ContentOptions = {}): AnthropicBlock[] {
  if (content == null) return [];
  if (typeof content === 'string') return content ? [{ type: 'text', text: content }] : [];
  const blocks: AnthropicBlock[] = [];
  content.forEach((part, i) => {
    const at = `${param}[${i}]`;
    switch (part.type) {
      case 'text':
        if (typeof part.text !== 'string') throw invalid(`${at}.text`, 'must be a string');
        if (part.text) blocks.push(withCache({ type: 'text', text: part.text }, part));
        return;
      case 'image_url': {
        const image = part.image_url as { url?: unknown } | string | undefined;
        blocks.push(withCache(imageBlock(typeof image === 'string' ? image : image?.url, `${at}.image_url.url`, opts), part));
        return;
      }
      case 'file':
        blocks.push(withCache(documentBlock(part.file as Record<string, unknown> | undefined, at), part));
        return;
      // Blocks already in Anthropic's own shape (sent by clients that know their target) pass unchanged.
      case 'image':
      case 'document':
        if (opts.inlineOnly && (part as { source?: { type?: unknown } }).source?.type === 'url') {
          throw invalid(`${at}.source`, `${opts.inlineOnly} takes ${part.type}s inline (base64), not URL sources`);
        }
        blocks.push(part as AnthropicBlock);
        return;
      default:
        throw invalid(`${at}.type`, `content part type "${part.type}" is not supported by anthropic`);
    }
  });
  return blocks;
}

/** Text of system/developer content, kept as blocks when a part carries a cache breakpoint. */
export function systemBlocks(content: string | ContentPart[] | null | undefined, param: string): Array<{ type: 'text'; text: string; cache_control?: AnthropicCacheControl }> {
  return toBlocks(content, param).map((b, i) => {
    if (b.type !== 'text') throw invalid(`${param}[${i}]`, 'system messages may only contain text for anthropic');
    return b as { type: 'text'; text: string; cache_control?: AnthropicCacheControl };
  });
}
