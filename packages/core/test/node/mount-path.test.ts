import { describe, expect, it } from 'vitest';
import { gatewayPath, originForm } from '../../src/node/mount-path.js';

describe('originForm', () => {
  it('drops the scheme and authority of an absolute-form target, as parseurl routes it', () => {
    expect(originForm('http://127.0.0.1:8080/llm/v1/models?x=1')).toBe('/llm/v1/models?x=1');
    expect(originForm('HTTPS://example.com/llm')).toBe('/llm');
    expect(originForm('http://example.com')).toBe('/');
    expect(originForm('http://example.com?x=1')).toBe('/?x=1');
  });

  it('leaves origin-form targets, and targets that are neither, as they are', () => {
    expect(originForm('/llm/v1/models')).toBe('/llm/v1/models');
    expect(originForm('//host/llm')).toBe('//host/llm');
    expect(originForm('*')).toBe('*');
  });
});

describe('gatewayPath', () => {
  it('finds the mount in an absolute-form target, mounted at the root or at basePath', () => {
    expect(gatewayPath('http://127.0.0.1:8080/llm/v1/models', '/llm')).toBe('/v1/models');
    expect(gatewayPath('http://127.0.0.1:8080/llmfoo', '/llm')).toBeUndefined();
    // `app.use('/llm', mw)`: Express keeps the scheme and authority in front of what it left.
    expect(gatewayPath('http://127.0.0.1:8080/v1/models', '/llm', '/llm')).toBe('/v1/models');
  });
});
