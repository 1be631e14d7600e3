import { describe, expect, it } from 'vitest';
import { toAnnotations } from '../../src/providers/google/grounding.js';

describe('Gemini grounding → url_citation annotations', () => {
  it('turns UTF-8 byte offsets into character offsets, past 2-, 3- and 4-byte characters', () => {
    const text = 'Café — 🎉 Spain won.';
    const bytes = (s: string) => new TextEncoder().encode(s).length;
    const start = bytes('Café — 🎉 ');
    const end = bytes(text);
    const out = toAnnotations(
      { groundingChunks: [{ web: { uri: 'https://a.example', title: 'a' } }, { web: { uri: 'https://b.example' } }], groundingSupports: [{ segment: { startIndex: start, endIndex: end }, groundingChunkIndices: [0] }] },
      text,
    );
    expect(out).toEqual([
      { type: 'url_citation', url_citation: { url: 'https://a.example', title: 'a', start_index: text.indexOf('Spain'), end_index: text.length } },
      // A source not tied to a segment still comes back.
      { type: 'url_citation', url_citation: { url: 'https://b.example', title: '', start_index: 0, end_index: 0 } },
    ]);
    expect(text.slice(out![0]!.url_citation.start_index, out![0]!.url_citation.end_index)).toBe('Spain won.');
  });

  it('gives nothing without grounding chunks', () => {
    expect(toAnnotations(undefined, 'x')).toBeUndefined();
    expect(toAnnotations({ groundingChunks: [] }, 'x')).toBeUndefined();
  });
});
