import { renderVesselinfo } from '../../core/vesselinfo.ts';
import { KEY_OPTIONS_HELP, keyBitsOption, resolveConfigFile } from '../read-build-config.ts';
import { cliSettings, settingsOptions, SETTINGS_HELP } from '../cli-settings.ts';
import { parseCommandArgs, requireOption, type Command } from '../command.ts';

const help = `Usage: cib vesselinfo --config FILE [--keys-out DIR] [--bits N] [settings]

Prints the vesselinfo file (docs/formats.md#vesselinfo) for a build configuration. FILE holds JSON in the XML-RPC
shape: {"vessels": [{"percentage": 60, "owner": "alex", "users": ["bob"]}, ...],
        "user_data": {"alex": {"public_key": "e n"}, ...}}
The vessels must add up to 100 minus the reserved share; the reserved vessel is added last.

  --config FILE         the build configuration (required)
${KEY_OPTIONS_HELP}
${SETTINGS_HELP}

Exit 0 with the vesselinfo on stdout (ending in one newline); 1 with the problems on stderr.`;

export const vesselinfoCommand: Command = {
  help,
  async run(argv) {
    const { values } = parseCommandArgs(argv, {
      config: { type: 'string' },
      'keys-out': { type: 'string' },
      bits: { type: 'string' },
      ...settingsOptions,
    });
    const file = requireOption(values.config, 'config');
    const settings = cliSettings(values);
    const keyBits = keyBitsOption(values.bits, settings);
    const resolved = await resolveConfigFile(file, settings, {
      keysOut: values['keys-out'],
      keyBits,
    });
    if (!resolved) return 1;
    process.stdout.write(`${renderVesselinfo(resolved)}\n`);
    return 0;
  },
};
