/** Longer label values (no real model or provider name comes close) count as `other`. */
const MAX_VALUE_LENGTH = 128;

/**
 * Bounds how many distinct values a metric label takes. Model names come from clients: without a
 * bound, one client sending random model names would grow the registry (and every scrape) forever.
 */
export class LabelGuard {
  private readonly seen = new Map<string, Set<string>>();

  constructor(private readonly max: number) {}

  value(label: string, v: string | number | undefined): string {
    if (v === undefined || v === '') return 'none';
    const text = String(v);
    // Bounded in size too: a label value is copied into every series and bucket of every scrape.
    if (text.length > MAX_VALUE_LENGTH) return 'other';
    let values = this.seen.get(label);
    if (!values) this.seen.set(label, (values = new Set()));
    if (values.has(text)) return text;
    if (values.size >= this.max) return 'other';
    values.add(text);
    return text;
  }
}
