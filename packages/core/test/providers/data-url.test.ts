import { describe, expect, it } from 'vitest';
import { parseDataUrl } from '../../src/providers/data-url.js';

describe('parseDataUrl (one parser for the Anthropic, Gemini and Bedrock translators)', () => {
  it('reads the base64 marker in any case and names image/jpg as image/jpeg', () => {
    expect(parseDataUrl('data:image/JPG;BASE64,AAAA')).toEqual({ mediaType: 'image/jpeg', base64: true, payload: 'AAAA' });
    expect(parseDataUrl('data:application/pdf;name=a.pdf;base64,QQ==')).toEqual({ mediaType: 'application/pdf', base64: true, payload: 'QQ==' });
  });

  it('keeps a percent-encoded payload and an absent type as they are', () => {
    expect(parseDataUrl('data:,100%25')).toEqual({ mediaType: '', base64: false, payload: '100%25' });
  });

  it('is undefined for another URL or a data URL without its comma', () => {
    expect(parseDataUrl('https://example.test/a.png')).toBeUndefined();
    expect(parseDataUrl('data:image/png;base64')).toBeUndefined();
  });
});
