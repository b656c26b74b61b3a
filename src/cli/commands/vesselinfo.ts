import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { resolveConfig, usersWithoutKeys, validateConfig } from '../../core/config.ts';
import { fingerprint } from '../../core/keys.ts';
import { CibError, problem } from '../../core/problems.ts';
import { KEY_BITS, type KeyBits } from '../../core/settings.ts';
import { renderVesselinfo } from '../../core/vesselinfo.ts';
import {
  cliSettings,
  printProblems,
  readJsonFile,
  settingsOptions,
  SETTINGS_HELP,
} from '../../node/cli-settings.ts';
import { parseCommandArgs, requireOption, UsageError, type Command } from '../command.ts';

const PRIVATE_KEY_MODE = 0o600;
const PUBLIC_KEY_MODE = 0o644;

const help = `Usage: cib vesselinfo --config FILE [--keys-out DIR] [--bits N] [settings]

Prints the vesselinfo file (spec §3) for a build configuration. FILE holds JSON in the XML-RPC
shape: {"vessels": [{"percentage": 60, "owner": "alex", "users": ["bob"]}, ...],
        "user_data": {"alex": {"public_key": "e n"}, ...}}
The vessels must add up to 100 minus the reserved share; the reserved vessel is added last.

  --config FILE         the build configuration (required)
  --keys-out DIR        generate key pairs for users without a public key and write
                        NAME.publickey and NAME.privatekey (mode 0600) into DIR; without it,
                        users without a key are an error. Private keys are never printed.
  --bits N              size of generated keys: ${KEY_BITS.join(', ')} (default DEFAULT_KEY_BITS or 2048)
${SETTINGS_HELP}

Exit 0 with the vesselinfo on stdout (ending in one newline); 1 with the problems on stderr.`;

export const vesselinfoCommand: Command = {
  name: 'vesselinfo',
  summary: 'print the vesselinfo for a build configuration (JSON)',
  help,
  async run(argv) {
    const { values } = parseCommandArgs(argv, {
      config: { type: 'string' },
      'keys-out': { type: 'string' },
      bits: { type: 'string' },
      ...settingsOptions,
    });
    const file = requireOption(values.config, 'config');
    const keysOut = values['keys-out'];
    if (keysOut === '') throw new UsageError('--keys-out needs a directory.');
    const settings = cliSettings(values);
    let keyBits: KeyBits = settings.defaultKeyBits;
    if (values.bits !== undefined) {
      if (
        !(KEY_BITS as readonly number[]).includes(Number(values.bits)) ||
        !/^[0-9]+$/.test(values.bits)
      ) {
        throw new UsageError(`--bits must be one of ${KEY_BITS.join(', ')}, not "${values.bits}".`);
      }
      keyBits = Number(values.bits) as KeyBits;
    }

    const { config, problems } = validateConfig(readJsonFile(file), settings);
    if (!config) {
      printProblems(problems, file);
      return 1;
    }
    printProblems(problems, file); // warnings only

    const missing = usersWithoutKeys(config);
    if (missing.length > 0) {
      if (keysOut === undefined) {
        throw new CibError(
          problem(
            'cli.keys.missing',
            file,
            `${missing.map((n) => JSON.stringify(n)).join(', ')} ${missing.length === 1 ? 'has' : 'have'} no public key; ` +
              'pass --keys-out DIR to generate key pairs for them (their private keys are written there, never printed).',
          ),
        );
      }
      // Refuse before generating anything: an existing private key may be the only copy.
      const taken = missing
        .flatMap((name) => [`${name}.publickey`, `${name}.privatekey`])
        .map((f) => join(keysOut, f))
        .filter((f) => existsSync(f));
      if (taken.length > 0) {
        throw new CibError(
          taken.map((f) =>
            problem('cli.keys.exists', f, 'The file already exists; it is never overwritten.'),
          ),
        );
      }
    }

    const { resolved, generated } = await resolveConfig(config, settings, { keyBits });
    if (keysOut !== undefined && missing.length > 0) {
      mkdirSync(keysOut, { recursive: true });
      for (const [name, pair] of Object.entries(generated)) {
        writeFileSync(join(keysOut, `${name}.publickey`), pair.publicKey, {
          flag: 'wx',
          mode: PUBLIC_KEY_MODE,
        });
        writeFileSync(join(keysOut, `${name}.privatekey`), pair.privateKey, {
          flag: 'wx',
          mode: PRIVATE_KEY_MODE,
        });
        console.error(
          `generated ${keyBits}-bit key ${fingerprint(pair.publicKey)} for ${name} in ${keysOut}`,
        );
      }
    }
    process.stdout.write(`${renderVesselinfo(resolved)}\n`);
    return 0;
  },
};
