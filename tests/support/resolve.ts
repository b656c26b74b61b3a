/**
 * The whole path from a build configuration to its resolved form, as every product caller walks
 * it (validateConfig, generateMissingKeys, resolveConfig), for tests and benchmarks that start
 * from a configuration they know is valid. Throws CibError when it is not.
 */
import {
  generateMissingKeys,
  resolveConfig,
  validateConfig,
  type GeneratedKey,
  type KeyOptions,
  type ReservedSettings,
  type ResolvedConfig,
} from '../../src/core/build-config.ts';
import { CibError, errorsOf } from '../../src/core/problems.ts';

export async function resolveValid(
  config: unknown,
  settings: ReservedSettings,
  options: KeyOptions = {},
): Promise<{ resolved: ResolvedConfig; generated: Record<string, GeneratedKey> }> {
  const checked = validateConfig(config, settings);
  if (!checked.config) throw new CibError(errorsOf(checked.problems));
  const generated = await generateMissingKeys(checked.config, options);
  return { resolved: resolveConfig(checked.config, generated), generated };
}
