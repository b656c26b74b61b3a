import { readFileSync } from 'node:fs';
import {
  customizeInstaller,
  isPlatform,
  PLATFORMS,
  type Platform,
} from '../../core/archive/index.ts';
import { CibError, problem } from '../../core/problems.ts';
import { renderVesselinfo } from '../../core/vesselinfo.ts';
import { KEY_OPTIONS_HELP, keyBitsOption, resolveConfigFile } from '../../node/build-config.ts';
import { cliSettings, settingsOptions, SETTINGS_HELP } from '../../node/cli-settings.ts';
import { writeFileAtomic } from '../../node/files.ts';
import { parseCommandArgs, requireOption, UsageError, type Command } from '../command.ts';

const help = `Usage: cib customize --base FILE --config FILE --out FILE [--platform P]
                     [--expect-sha256 HEX] [--keys-out DIR] [--bits N] [settings]

Writes the donor's custom installer: the base installer plus the vesselinfo for the build
configuration (the JSON of \`cib vesselinfo\`). Nothing but the vesselinfo changes in the base.

  --base FILE           the platform's base installer (.tgz, .zip or the GUI .exe)
  --config FILE         the build configuration (JSON)
  --out FILE            where to write the custom installer (written whole or not at all)
  --platform P          ${PLATFORMS.map((p) => p.platform).join(', ')}; checked against the base's format
  --expect-sha256 HEX   refuse the base unless its SHA-256 is HEX (from manifest.json)
${KEY_OPTIONS_HELP}
${SETTINGS_HELP}`;

export const customizeCommand: Command = {
  name: 'customize',
  summary: 'write a custom installer from a base installer and a build configuration',
  help,
  async run(argv) {
    const { values } = parseCommandArgs(argv, {
      base: { type: 'string' },
      config: { type: 'string' },
      out: { type: 'string' },
      platform: { type: 'string' },
      'expect-sha256': { type: 'string' },
      'keys-out': { type: 'string' },
      bits: { type: 'string' },
      ...settingsOptions,
    });
    const baseFile = requireOption(values.base, 'base');
    const configFile = requireOption(values.config, 'config');
    const out = requireOption(values.out, 'out');
    let platform: Platform | undefined;
    if (values.platform !== undefined) {
      if (!isPlatform(values.platform)) {
        throw new UsageError(
          `--platform must be one of ${PLATFORMS.map((p) => p.platform).join(', ')}, not "${values.platform}".`,
        );
      }
      platform = values.platform;
    }
    const settings = cliSettings(values);
    const keyBits = keyBitsOption(values.bits, settings);

    let base: Uint8Array;
    try {
      base = readFileSync(baseFile);
    } catch (error) {
      throw new CibError(
        problem(
          'cli.file.read',
          baseFile,
          `Cannot read the base installer: ${(error as Error).message}.`,
        ),
      );
    }
    const resolved = await resolveConfigFile(configFile, settings, {
      keysOut: values['keys-out'],
      keyBits,
    });
    if (!resolved) return 1;

    let installer: Uint8Array;
    try {
      installer = await customizeInstaller({
        base,
        vesselinfo: renderVesselinfo(resolved),
        platform,
        expectSha256: values['expect-sha256'],
      });
    } catch (error) {
      if (error instanceof CibError) {
        throw new CibError(
          error.problems.map((p) => ({
            ...p,
            path: p.path === 'base' ? baseFile : `${baseFile}: ${p.path}`,
          })),
        );
      }
      throw error;
    }
    writeFileAtomic(out, installer);
    console.error(`wrote ${out} (${installer.length} bytes)`);
    return 0;
  },
};
