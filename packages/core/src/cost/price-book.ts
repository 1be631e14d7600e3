import { calcPrice } from '@pydantic/genai-prices';
import { LRUCache } from 'lru-cache';
import type { GatewayOptions } from '../options.js';
import { correctedPrice } from './price-corrections.js';
import type { PriceSheet, Rate } from './price-sheet.js';

export type PricingOption = NonNullable<GatewayOptions['pricing']>;

/**
 * llmux provider ids → the price database's. `null`: a provider whose models have no list price —
 * self-hosted servers are unpriced unless `pricing` names them; the local mock costs nothing.
 */
const DATABASE_PROVIDER: Record<string, string | null> = {
  'azure-openai': 'azure',
  // Azure AI Inference serves the same catalogue (OpenAI, DeepSeek, Llama…) the database keeps under `azure`.
  'azure-ai': 'azure',
  bedrock: 'aws',
  xai: 'x-ai',
  ollama: null,
  vllm: null,
  lmstudio: null,
};

const FREE: PriceSheet = { input: 0, output: 0 };

/** Prices that change with the time of day (DeepSeek's off-peak hours) are looked up again after this. */
const CONDITIONAL_PRICE_TTL_MS = 60_000;

function toRate(v: unknown): Rate | undefined {
  if (typeof v === 'number') return v;
  if (v && typeof v === 'object' && 'base' in v && 'tiers' in v) return v as Rate;
  return undefined;
}

/**
 * The database's price keys each sheet field is read from. Keys not listed (image, video and other
 * tool prices) have no usage field any translator reports, so those units are priced as the wider
 * part they belong to.
 */
const DATABASE_KEYS: ReadonlyArray<[Exclude<keyof PriceSheet, 'input' | 'output'>, string]> = [
  ['cacheRead', 'cache_read_mtok'],
  ['cacheWrite', 'cache_write_mtok'],
  ['cacheWrite1h', 'cache_write_1h_mtok'],
  ['inputAudio', 'input_audio_mtok'],
  ['cacheAudioRead', 'cache_audio_read_mtok'],
  ['reasoning', 'output_reasoning_mtok'],
  ['citation', 'output_citation_mtok'],
  ['outputAudio', 'output_audio_mtok'],
  ['requestsKcount', 'requests_kcount'],
  ['webSearchesKcount', 'web_searches_kcount'],
];

/** The option's fields → the sheet's (fees per request and per search → the database's per thousand). */
const OPTION_FIELDS: ReadonlyArray<[keyof PricingOption[string], Exclude<keyof PriceSheet, 'input' | 'output'>, number]> = [
  ['cached_input', 'cacheRead', 1],
  ['cache_write', 'cacheWrite', 1],
  ['cache_write_1h', 'cacheWrite1h', 1],
  ['reasoning', 'reasoning', 1],
  ['input_audio', 'inputAudio', 1],
  ['cached_input_audio', 'cacheAudioRead', 1],
  ['output_audio', 'outputAudio', 1],
  ['per_request', 'requestsKcount', 1000],
  ['per_web_search', 'webSearchesKcount', 1000],
];

function fromOption(p: PricingOption[string]): PriceSheet {
  const sheet: PriceSheet = { input: p.input, output: p.output };
  for (const [from, to, scale] of OPTION_FIELDS) {
    const v = p[from];
    if (v !== undefined) sheet[to] = v * scale;
  }
  return sheet;
}

interface Found {
  sheet: PriceSheet | null;
  until: number;
}

/**
 * Finds a model's prices: the `pricing` option first (by `provider/model`, then `model`), then the
 * `@pydantic/genai-prices` database, where `price-corrections.ts` overrides it. The database lookup
 * matches model names against every entry (~25 µs), so results are kept; each request then costs a
 * few multiplications.
 */
export class PriceBook {
  private readonly found = new LRUCache<string, Found>({ max: 2000 });
  private last: (Found & { provider: string; model: string }) | undefined;
  /** The `pricing` option's sheets, made once rather than per request. */
  private readonly own = new Map<string, PriceSheet>();

  constructor(overrides: PricingOption = {}) {
    for (const name in overrides) this.own.set(name, fromOption(overrides[name]!));
  }

  /**
   * The sheet of the first of `models` with a known price; undefined when none has one. `models` are
   * names of one model (see `servedModels`: the snapshot it reported, the name it was called by), so
   * a `pricing` entry for any of them wins over the database's price for the others.
   */
  find(provider: string, models: ReadonlyArray<string | undefined>): PriceSheet | undefined {
    for (const model of models) {
      if (!model) continue;
      const own = this.own.get(`${provider}/${model}`) ?? this.own.get(model);
      if (own) return own;
    }
    if (provider === 'mock') return FREE;
    for (const model of models) {
      if (!model) continue;
      const sheet = this.fromDatabase(provider, model);
      if (sheet) return sheet;
    }
    return undefined;
  }

  private fromDatabase(provider: string, model: string): PriceSheet | null {
    // Most traffic names one model again and again: its sheet is found without building a key or
    // reordering the LRU (the lookup took ~1 µs of self time a request in the bench's node:http profile).
    const last = this.last;
    if (last !== undefined && last.model === model && last.provider === provider && (last.until === Infinity || last.until > Date.now())) return last.sheet;
    const key = `${provider}\u0000${model}`;
    const now = Date.now();
    const hit = this.found.get(key);
    if (hit && hit.until > now) {
      this.last = { provider, model, sheet: hit.sheet, until: hit.until };
      return hit.sheet;
    }
    const providerId = provider in DATABASE_PROVIDER ? DATABASE_PROVIDER[provider] : provider;
    let sheet: PriceSheet | null = correctedPrice(provider, model) ?? null;
    let until = Infinity;
    if (providerId && !sheet) {
      let result;
      try {
        result = calcPrice({ input_tokens: 0, output_tokens: 0 }, model, { providerId, timestamp: new Date(now) });
      } catch {
        result = null;
      }
      const mp = result?.model_price;
      const input = toRate(mp?.input_mtok);
      const output = toRate(mp?.output_mtok);
      if (mp && input !== undefined) {
        sheet = { input, output: output ?? 0 };
        for (const [field, key] of DATABASE_KEYS) {
          const rate = toRate(mp[key]);
          if (rate !== undefined) sheet[field] = rate;
        }
      }
      if (result && Array.isArray(result.model.prices)) until = now + CONDITIONAL_PRICE_TTL_MS;
    }
    this.found.set(key, { sheet, until });
    this.last = { provider, model, sheet, until };
    return sheet;
  }
}
