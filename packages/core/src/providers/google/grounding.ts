/**
 * Google Search grounding (`web_search_options` → `googleSearch`) → OpenAI's `url_citation`
 * annotations, so a client can show where a grounded answer came from, as with OpenAI's own search.
 * Gemini measures a supported segment in UTF-8 bytes of the text; OpenAI in characters.
 */

interface GroundingMetadata {
  groundingChunks?: Array<{ web?: { uri?: unknown; title?: unknown } }>;
  groundingSupports?: Array<{ segment?: { startIndex?: unknown; endIndex?: unknown }; groundingChunkIndices?: unknown }>;
}

export interface UrlCitation {
  type: 'url_citation';
  url_citation: { url: string; title: string; start_index: number; end_index: number };
}

/** The character index at a UTF-8 byte offset of `text` (a code point takes 1–4 bytes by its size). */
function charIndex(text: string, bytes: number): number {
  let seen = 0;
  let i = 0;
  while (i < text.length && seen < bytes) {
    const code = text.codePointAt(i)!;
    seen += code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
    i += code > 0xffff ? 2 : 1;
  }
  return i;
}

export function toAnnotations(metadata: unknown, text: string): UrlCitation[] | undefined {
  const m = metadata as GroundingMetadata | undefined;
  const chunks = Array.isArray(m?.groundingChunks) ? m.groundingChunks : [];
  if (!chunks.length) return undefined;
  const out: UrlCitation[] = [];
  const cite = (chunk: number, start: number, end: number) => {
    const web = chunks[chunk]?.web;
    if (typeof web?.uri !== 'string') return;
    out.push({ type: 'url_citation', url_citation: { url: web.uri, title: typeof web.title === 'string' ? web.title : '', start_index: start, end_index: end } });
  };
  const supports = Array.isArray(m?.groundingSupports) ? m.groundingSupports : [];
  const cited = new Set<number>();
  for (const s of supports) {
    const start = charIndex(text, typeof s.segment?.startIndex === 'number' ? s.segment.startIndex : 0);
    const end = charIndex(text, typeof s.segment?.endIndex === 'number' ? s.segment.endIndex : 0);
    for (const i of Array.isArray(s.groundingChunkIndices) ? s.groundingChunkIndices : []) {
      if (typeof i !== 'number') continue;
      cited.add(i);
      cite(i, start, end);
    }
  }
  // Sources the model read without tying them to a segment still belong to the answer.
  for (let i = 0; i < chunks.length; i++) if (!cited.has(i)) cite(i, 0, 0);
  return out.length ? out : undefined;
}
