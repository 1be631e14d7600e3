import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/errors.js';
import { MAX_EMBEDDING_INPUTS, validateEmbeddings } from '../../src/http/validate.js';

/** The 400 `validateEmbeddings` throws for `input`, as `{ param, message }`; undefined when it passes. */
function refusal(input: unknown): { param?: string; message: string } | undefined {
  try {
    validateEmbeddings({ model: 'text-embedding-3-small', input });
    return undefined;
  } catch (e) {
    expect(e).toBeInstanceOf(GatewayError);
    const err = e as GatewayError;
    expect(err.status).toBe(400);
    return { param: err.param, message: err.message };
  }
}

describe('embeddings input validation', () => {
  it('an empty string is refused, alone or in a list, naming where it is', () => {
    expect(refusal('')).toEqual({ param: 'input', message: 'input: expected a non-empty string' });
    expect(refusal(['a', ''])).toEqual({ param: 'input[1]', message: 'input[1]: expected a non-empty string' });
  });

  it('an empty token array in a list of token arrays is refused, naming it', () => {
    expect(refusal([[1, 2], []])).toEqual({ param: 'input[1]', message: 'input[1]: expected a non-empty token array' });
    expect(refusal([])).toEqual({ param: 'input', message: 'input: expected at least one input' });
  });

  it(`more than ${MAX_EMBEDDING_INPUTS} inputs are refused, texts or token arrays; ${MAX_EMBEDDING_INPUTS} pass`, () => {
    const many = { param: 'input', message: `input: expected at most ${MAX_EMBEDDING_INPUTS} inputs` };
    expect(refusal(Array(MAX_EMBEDDING_INPUTS + 1).fill('a'))).toEqual(many);
    expect(refusal(Array(MAX_EMBEDDING_INPUTS + 1).fill([1]))).toEqual(many);
    expect(refusal(Array(MAX_EMBEDDING_INPUTS).fill('a'))).toBeUndefined();
    expect(refusal(Array(MAX_EMBEDDING_INPUTS).fill([1]))).toBeUndefined();
  });

  it('one token array is one input: its length is a token count, not capped at 2048 (LangChain sends up to 8,191)', () => {
    expect(refusal(Array.from({ length: 8191 }, (_, i) => i))).toBeUndefined();
    expect(refusal(Array.from({ length: 100 }, () => Array.from({ length: 8191 }, (_, i) => i)))).toBeUndefined();
  });

  it('other shapes keep their message, and a missing input is named missing', () => {
    expect(refusal([1, 'a'])?.message).toBe('input: expected a string, an array of strings, or an array of token arrays');
    expect(refusal(undefined)).toEqual({ param: 'input', message: "missing required parameter 'input'" });
  });
});
