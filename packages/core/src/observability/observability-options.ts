import type { TracerProvider } from '@opentelemetry/api';
import type { Registry } from 'prom-client';
import { z } from 'zod';

/** Prometheus metrics through `prom-client`. */
export interface MetricsOptions {
  /** The registry to add the metrics to, e.g. the host app's `register`. Default: a registry of the gateway's own. */
  registry?: Registry;
  /** Prefix of every metric name. Default `llmux_`. */
  prefix?: string;
  /**
   * Serve `GET <mount>/metrics` in the Prometheus text format. Default true. It needs the admin key
   * whenever one is configured (`adminKey`, `auth.adminKeys`) or `auth` is set.
   */
  route?: boolean;
  /** Most distinct values one label (model, provider) takes before further ones count as `other`. Default 200. */
  maxLabelValues?: number;
}

/** OpenTelemetry spans through `@opentelemetry/api`. */
export interface TracingOptions {
  /** Where spans go. Default: the global tracer provider, a no-op until an SDK registers one. */
  tracerProvider?: TracerProvider;
}

const fn = z.custom<(...args: unknown[]) => unknown>((v) => typeof v === 'function', 'expected a function');
const registryLike = z.custom<Registry>(
  (v) => typeof v === 'object' && v !== null && typeof (v as Registry).metrics === 'function' && typeof (v as Registry).registerMetric === 'function',
  'expected a prom-client Registry',
);

/** The option fields this module adds to `GatewayOptions`, for `validateOptions`. */
export const observabilityOptionsShape = {
  logBodies: z.boolean().optional(),
  redact: fn.optional(),
  recentRequests: z.number().int().nonnegative().optional(),
  logQueueSize: z.number().int().positive().optional(),
  metrics: z
    .union([
      z.literal(false),
      z.object({
        registry: registryLike.optional(),
        prefix: z.string().regex(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/, 'prefix must be a valid Prometheus metric name prefix').optional(),
        route: z.boolean().optional(),
        maxLabelValues: z.number().int().positive().optional(),
      }),
    ])
    .optional(),
  tracing: z.union([z.literal(false), z.looseObject({ tracerProvider: z.looseObject({ getTracer: fn }).optional() })]).optional(),
};
