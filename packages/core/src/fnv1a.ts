/**
 * 32-bit FNV-1a of a text's UTF-16 code units, unsigned. Not cryptographic: for short, stable
 * identifiers (key suffixes, breaker names, synthetic ids) where a collision costs little.
 */
export function fnv1a(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}
