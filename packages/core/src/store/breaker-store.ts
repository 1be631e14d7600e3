/** Circuit-breaker state per target, shared by instances through the store. */
export interface BreakerStore {}
