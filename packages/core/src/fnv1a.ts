/** FNV-1a's 32-bit offset basis: the seed of an unseeded hash. */
export const FNV_OFFSET = 2166136261;

/**
 * 32-bit FNV-1a of a text's UTF-16 code units, unsigned. Not cryptographic: for short, stable
 * identifiers (key suffixes, breaker names, synthetic ids) where a collision costs little.
 */
export function fnv1a(text: string, seed = FNV_OFFSET): number {
  let h = seed;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}
