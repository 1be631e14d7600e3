import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FIXTURES } from '../../../../test/helpers/fixtures.js';

describe('google fixtures', () => {
  it('every recorded Gemini / Vertex file is replayed by one of the google tests', () => {
    const here = fileURLToPath(new URL('.', import.meta.url));
    const tests = readdirSync(here)
      .filter((f) => f.startsWith('google') && f.endsWith('.test.ts') && f !== 'google-fixtures.test.ts')
      .map((f) => readFileSync(here + f, 'utf8'))
      .join('\n');
    const files = readdirSync(`${FIXTURES}gemini`);
    expect(files.length).toBeGreaterThanOrEqual(27);
    expect(files.filter((f) => !tests.includes(`gemini/${f}`))).toEqual([]);
  });
});
