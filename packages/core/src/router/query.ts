import { isPlainObject } from '../plain-object.js';
import safeRegex from 'safe-regex2';
import { GatewayError } from '../errors.js';
import { fieldOf, ROUTE_INPUT_ROOTS, type RouteInput } from './route-input.js';

/**
 * Portkey's conditional-routing queries, compiled once per config into plain predicates:
 * `{ "metadata.plan": { "$eq": "paid" } }`, `{ "$or": [ {…}, {…} ] }`, a bare value means `$eq`,
 * several keys in one object must all hold. Operators: `$eq $ne $in $nin $gt $gte $lt $lte $regex
 * $exists $and $or`.
 */
export type Predicate = (input: RouteInput) => boolean;

export interface QueryOptions {
  /** The query came from a client's config: `$regex` is refused (see below). */
  clientConfig: boolean;
}

/**
 * JavaScript regexes backtrack: a pattern like `^(\w+\s?)+$` takes exponential time on a short
 * non-matching value and blocks the event loop for every request in the process. A client's config
 * therefore may not use `$regex`; the server's may, but a pattern with nested quantifiers (star height
 * above 1, safe-regex2's test) is refused when the config is compiled, and a value longer than this is
 * never tested (it does not match), which bounds what a merely polynomial pattern costs.
 */
export const MAX_REGEX_INPUT = 1024;

/**
 * The pattern as safe-regex2 can judge it: its parser knows neither lookbehind nor named groups (it
 * would call every such pattern unsafe), and it does not count a lazy quantifier (`(a+)+?` backtracks
 * as badly as `(a+)+`). Both become their plain forms, which have the same star height.
 */
function forStarHeight(pattern: string): string {
  return pattern
    .replace(/\(\?<[=!]/g, '(?:')
    .replace(/\(\?<[A-Za-z_$][\w$]*>/g, '(?:')
    .replace(/(?<!\\)([*+}]|[^\\(]\?)\?/g, '$1');
}

const invalid = (path: string, message: string) => new GatewayError('invalid_config', `${path}: ${message}`, { param: path });

/** Two primitives; objects compare by their JSON text in `equalsAny`. */
function equal(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  // Portkey metadata values are strings: `"3"` matches `3`.
  if (typeof a === 'string' && typeof b === 'number') return a.trim() !== '' && Number(a) === b;
  if (typeof a === 'number' && typeof b === 'string') return equal(b, a);
  return false;
}

const numeric = (v: unknown): number => (typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN);

/**
 * Numbers compare as numbers, and so do numeric strings on both sides (Portkey's metadata values are
 * strings, and its router compares with parseFloat: `"9"` is less than `"10"`); other strings compare
 * lexically (ISO dates order right that way); anything else never matches.
 */
function compare(value: unknown, operand: number | string): number | undefined {
  const o = numeric(operand);
  if (typeof operand === 'number' || Number.isFinite(o)) {
    const n = numeric(value);
    if (Number.isFinite(n) && Number.isFinite(o)) return n - o;
    if (typeof operand === 'number') return undefined;
  }
  return typeof value === 'string' ? (value < operand ? -1 : value > operand ? 1 : 0) : undefined;
}

/**
 * Operands a client's `$in` / `$nin` may list: past a few hundred it is no routing rule any more, and
 * each test walks the list.
 */
export const MAX_IN_OPERANDS = 1000;

const isObjectLike = (v: unknown): v is object => typeof v === 'object' && v !== null;

/**
 * Whether a value `equal`s any of `operands`. Object operands are serialised once, here, into a set
 * of their texts, and an object value once per test: comparing pair by pair serialised the value once
 * per operand, so a client's few thousand `{}` operands over a 2 MB conversation stalled the process.
 * Primitives keep `equal`'s pairwise rules (`"3"` matches `3`); an object never equals a primitive.
 */
function equalsAny(operands: readonly unknown[]): (value: unknown) => boolean {
  const primitives = operands.filter((o) => !isObjectLike(o));
  const texts = new Set(operands.filter(isObjectLike).map((o) => JSON.stringify(o)));
  return (value) => (isObjectLike(value) ? texts.size > 0 && texts.has(JSON.stringify(value)) : primitives.some((o) => equal(value, o)));
}

/** `$in`: any element of an array value may match. */
function inList(operands: readonly unknown[]): (value: unknown) => boolean {
  const matches = equalsAny(operands);
  return (value) => (Array.isArray(value) ? value.some(matches) : matches(value));
}

type FieldTest = (value: unknown) => boolean;

function operator(op: string, operand: unknown, path: string, options: QueryOptions): FieldTest {
  switch (op) {
    case '$eq':
      return equalsAny([operand]);
    case '$ne': {
      const matches = equalsAny([operand]);
      return (v) => !matches(v);
    }
    case '$in':
    case '$nin': {
      if (!Array.isArray(operand)) throw invalid(path, `${op} takes an array`);
      if (options.clientConfig && operand.length > MAX_IN_OPERANDS) throw invalid(path, `${op} takes at most ${MAX_IN_OPERANDS} values in a request-level config`);
      const matches = inList(operand);
      return op === '$in' ? matches : (v) => !matches(v);
    }
    case '$gt':
    case '$gte':
    case '$lt':
    case '$lte': {
      if (typeof operand !== 'number' && typeof operand !== 'string') throw invalid(path, `${op} takes a number or a string`);
      const holds = { $gt: (d: number) => d > 0, $gte: (d: number) => d >= 0, $lt: (d: number) => d < 0, $lte: (d: number) => d <= 0 }[op];
      return (v) => {
        const d = compare(v, operand);
        return d !== undefined && holds(d);
      };
    }
    case '$regex': {
      if (options.clientConfig) {
        throw invalid(path, '$regex is not accepted in a request-level config (a pattern can take exponential time); use $eq or $in, or a server config');
      }
      if (typeof operand !== 'string' || operand.length > 500) throw invalid(path, '$regex takes a pattern string of at most 500 characters');
      let re: RegExp;
      try {
        re = new RegExp(operand);
      } catch (e) {
        throw invalid(path, `$regex is not a valid pattern (${(e as Error).message})`);
      }
      if (!safeRegex(forStarHeight(operand))) {
        throw invalid(path, '$regex nests quantifiers (like (a+)+), which can take exponential time and stall every request; write it without a repeated group that itself repeats');
      }
      return (v) => typeof v === 'string' && v.length <= MAX_REGEX_INPUT && re.test(v);
    }
    case '$exists': {
      if (typeof operand !== 'boolean') throw invalid(path, '$exists takes true or false');
      return (v) => (v !== undefined && v !== null) === operand;
    }
    default:
      throw invalid(path, `unknown operator "${op}" (use $eq, $ne, $in, $nin, $gt, $gte, $lt, $lte, $regex, $exists)`);
  }
}

function fieldPredicate(field: string, spec: unknown, path: string, options: QueryOptions): Predicate {
  const root = field.split('.')[0];
  if (!(ROUTE_INPUT_ROOTS as readonly string[]).includes(root!)) {
    throw invalid(path, `unknown field "${field}" (fields start with metadata., params., identity. or are model)`);
  }
  const ops = isPlainObject(spec) && Object.keys(spec).some((k) => k.startsWith('$')) ? spec : { $eq: spec };
  const tests = Object.entries(ops).map(([op, operand]) => operator(op, operand, `${path}.${op}`, options));
  return (input) => {
    const value = fieldOf(input, field);
    return tests.every((t) => t(value));
  };
}

function logical(op: '$and' | '$or', operand: unknown, path: string, options: QueryOptions): Predicate {
  if (!Array.isArray(operand) || operand.length === 0) throw invalid(path, `${op} takes a non-empty array of queries`);
  const parts = operand.map((q, i) => compileQuery(q, `${path}[${i}]`, options));
  return op === '$and' ? (input) => parts.every((p) => p(input)) : (input) => parts.some((p) => p(input));
}

/** Throws `invalid_config` naming the path of the bad part (`config.strategy.conditions[0].query.$or[1]`). */
export function compileQuery(query: unknown, path: string, options: QueryOptions): Predicate {
  if (!isPlainObject(query)) throw invalid(path, 'a query is an object');
  const parts = Object.entries(query).map(([key, spec]): Predicate => {
    if (key === '$and' || key === '$or') return logical(key, spec, `${path}.${key}`, options);
    if (key.startsWith('$')) throw invalid(`${path}.${key}`, `unknown operator "${key}" at the top of a query (use $and or $or)`);
    return fieldPredicate(key, spec, `${path}.${key}`, options);
  });
  return (input) => parts.every((p) => p(input));
}
