/** Atomic counters for budgets (reserve, settle, release) and rate limits. */
export interface LimitStore {}
