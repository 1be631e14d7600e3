/**
 * A cross-region inference profile's geography ahead of `provider.model`: `us.`, `eu.`, `apac.`,
 * `us-gov.`, `global.`, `jp.`… A foundation model's own provider segment (`anthropic.`, `amazon.nova-`,
 * `meta.llama3-`) never matches: it is longer, or no `name.` follows it.
 */
const GEOGRAPHY = /^[a-z]{2,6}(?:-[a-z]+)?\.(?=[a-z]+\.)/;

/** A model id without a cross-region inference profile's geography: `us.anthropic.claude-…` → `anthropic.claude-…`. */
export const withoutGeography = (id: string): string => id.replace(GEOGRAPHY, '');

/**
 * The foundation-model id behind another name Bedrock knows a model by: a cross-region inference
 * profile (`us.anthropic.claude-…`), a system-defined profile's ARN (`arn:…:inference-profile/us.anthropic.claude-…`)
 * or a foundation model's ARN. Undefined when `model` is that id already, or names no model (an
 * application inference profile's ARN).
 */
export function foundationModelOf(model: string): string | undefined {
  let id = model;
  if (id.startsWith('arn:')) {
    const named = /:(?:inference-profile|foundation-model)\/([^/]+)$/.exec(id);
    if (!named) return undefined;
    id = named[1]!;
  }
  id = withoutGeography(id);
  return id === model ? undefined : id;
}
