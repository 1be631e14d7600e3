import type { GatewayRequest } from '../types.js';

/**
 * When each request reached `handle()`: its record's `started_at` and `duration_ms` count from there,
 * so a body that took long to arrive (read by the gateway itself) is part of the latency it reports,
 * and records of requests refused before they had a state agree with those of requests served.
 */
const arrivals = new WeakMap<GatewayRequest, number>();

export function noteArrival(req: GatewayRequest, at: number): void {
  arrivals.set(req, at);
}

export const arrivalOf = (req: GatewayRequest): number => arrivals.get(req) ?? Date.now();
