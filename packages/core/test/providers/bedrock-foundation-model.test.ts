/**
 * The foundation-model id behind the other names Bedrock knows a model by: what a count refused for a
 * cross-region inference profile is asked again under (`TokenCounting.alternateModel`).
 */
import { describe, expect, it } from 'vitest';
import { foundationModelOf, withoutGeography } from '../../src/providers/bedrock/foundation-model.js';

describe('foundationModelOf', () => {
  it('drops a cross-region profile\'s geography, whichever it is', () => {
    for (const geography of ['us', 'eu', 'apac', 'us-gov', 'global', 'jp', 'au', 'ca']) {
      expect(foundationModelOf(`${geography}.anthropic.claude-sonnet-4-5-20250929-v1:0`)).toBe('anthropic.claude-sonnet-4-5-20250929-v1:0');
    }
    expect(foundationModelOf('us.meta.llama3-3-70b-instruct-v1:0')).toBe('meta.llama3-3-70b-instruct-v1:0');
  });

  it('reads the model out of a system-defined profile\'s ARN and a foundation model\'s ARN', () => {
    expect(foundationModelOf('arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-7-sonnet-20250219-v1:0')).toBe('anthropic.claude-3-7-sonnet-20250219-v1:0');
    expect(foundationModelOf('arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-5-haiku-20241022-v1:0')).toBe('anthropic.claude-3-5-haiku-20241022-v1:0');
  });

  it('has nothing for a foundation id already, nor for an application profile\'s ARN, which names no model', () => {
    for (const id of ['anthropic.claude-sonnet-4-5-20250929-v1:0', 'amazon.nova-pro-v1:0', 'meta.llama3-70b-instruct-v1:0', 'mistral.mistral-large-2407-v1:0', 'cohere.command-r-plus-v1:0', 'openai.gpt-oss-120b-1:0', 'qwen.qwen3-32b-v1:0']) {
      expect(foundationModelOf(id), id).toBeUndefined();
      expect(withoutGeography(id), id).toBe(id);
    }
    expect(foundationModelOf('arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6')).toBeUndefined();
  });
});
