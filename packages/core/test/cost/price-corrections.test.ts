import { describe, expect, it } from 'vitest';
import { PriceBook } from '../../src/cost/price-book.js';

describe('corrections to the price database', () => {
  it('Titan Text Embeddings v2 on Bedrock is $0.02 per million input tokens (AWS Bedrock pricing), v1 keeps $0.10', () => {
    const book = new PriceBook();
    expect(book.find('bedrock', ['amazon.titan-embed-text-v2:0'])).toEqual({ input: 0.02, output: 0 });
    expect(book.find('bedrock', ['amazon.titan-embed-text-v2'])).toEqual({ input: 0.02, output: 0 });
    expect(book.find('bedrock', ['amazon.titan-embed-text-v1'])?.input).toBe(0.1);
  });

  it('the pricing option still wins over a correction', () => {
    const book = new PriceBook({ 'bedrock/amazon.titan-embed-text-v2:0': { input: 0.05, output: 0 } });
    expect(book.find('bedrock', ['amazon.titan-embed-text-v2:0'])?.input).toBe(0.05);
  });
});
