import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { userNameProblem } from '../../core/build-config.ts';
import { generateKeyPair } from '../../core/keygen.ts';
import { fingerprint } from '../../core/keys.ts';
import { CibError, problem } from '../../core/problems.ts';
import { DEFAULT_KEY_BITS, KEY_BITS, type KeyBits } from '../../core/deployment-settings.ts';
import { writeFileAtomic } from '../../host/files.ts';
import { parseCommandArgs, UsageError, type Command } from '../command.ts';

const PRIVATE_KEY_MODE = 0o600;
const PUBLIC_KEY_MODE = 0o644;

const help = `Usage: cib keygen [--bits N] [--name NAME --out DIR [--force]]

Generates an RSA key pair as Seattle key strings (public "e n", private "d p q"; e = 65537).

  --bits N      key size: ${KEY_BITS.join(', ')} (default: DEFAULT_KEY_BITS, else ${DEFAULT_KEY_BITS})
  --out DIR     write NAME.publickey and NAME.privatekey into DIR (created if missing) instead of
                printing; the private key file is created with mode 0600
  --name NAME   file name for the pair, required with --out; a Seattle user name
                (3 to 40 of [0-9a-zA-Z_], first a letter or digit)
  --force       replace existing NAME.publickey / NAME.privatekey (otherwise refused)

Without --out, prints {"public_key": "...", "private_key": "..."} as JSON on stdout.`;

function parseBits(text: string, source: string): KeyBits {
  const bits = Number(text);
  if (!/^[0-9]+$/.test(text) || !(KEY_BITS as readonly number[]).includes(bits)) {
    throw new UsageError(`${source} must be one of ${KEY_BITS.join(', ')}, not "${text}".`);
  }
  return bits as KeyBits;
}

function fail(code: string, path: string, message: string): never {
  throw new CibError(problem(code, path, message));
}

/**
 * Writes a new file that never exists with wider permissions than `mode`, even briefly: created
 * with O_EXCL and that mode; with `force`, a fresh temporary file is renamed over the old one.
 */
function writeKeyFile(file: string, text: string, mode: number, force: boolean): void {
  try {
    if (!force) {
      writeFileSync(file, text, { flag: 'wx', mode });
      return;
    }
    writeFileAtomic(file, text, mode);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      fail('keygen.exists', file, 'The file already exists; use --force to replace it.');
    }
    fail('keygen.write', file, `Cannot write the key file (${code ?? (error as Error).message}).`);
  }
}

export const keygenCommand: Command = {
  help,
  async run(argv) {
    const { values } = parseCommandArgs(argv, {
      bits: { type: 'string' },
      name: { type: 'string' },
      out: { type: 'string' },
      force: { type: 'boolean' },
    });
    const bits =
      values.bits !== undefined
        ? parseBits(values.bits, '--bits')
        : process.env.DEFAULT_KEY_BITS
          ? parseBits(process.env.DEFAULT_KEY_BITS, 'DEFAULT_KEY_BITS')
          : DEFAULT_KEY_BITS;

    if (values.out === undefined) {
      if (values.name !== undefined || values.force) {
        throw new UsageError('--name and --force only go with --out DIR.');
      }
      const pair = await generateKeyPair(bits);
      process.stdout.write(
        JSON.stringify({ public_key: pair.publicKey, private_key: pair.privateKey }) + '\n',
      );
      return 0;
    }

    if (values.out === '') throw new UsageError('--out needs a folder.');
    if (values.name === undefined) throw new UsageError('--out needs --name NAME for the files.');
    const nameProblem = userNameProblem(values.name, '--name');
    if (nameProblem) throw new UsageError(`--name "${values.name}": ${nameProblem.message}`);

    const publicFile = join(values.out, `${values.name}.publickey`);
    const privateFile = join(values.out, `${values.name}.privatekey`);
    const force = values.force ?? false;
    if (!force) {
      const existing = [publicFile, privateFile].filter((file) => existsSync(file));
      if (existing.length) {
        throw new CibError(
          existing.map((file) =>
            problem('keygen.exists', file, 'The file already exists; use --force to replace it.'),
          ),
        );
      }
    }
    try {
      mkdirSync(values.out, { recursive: true });
    } catch (error) {
      fail(
        'keygen.write',
        values.out,
        `Cannot create the folder (${(error as NodeJS.ErrnoException).code ?? 'error'}).`,
      );
    }

    const pair = await generateKeyPair(bits);
    writeKeyFile(privateFile, pair.privateKey, PRIVATE_KEY_MODE, force);
    try {
      writeKeyFile(publicFile, pair.publicKey, PUBLIC_KEY_MODE, force);
    } catch (error) {
      // A private key without its public half is of no use; do not leave it behind.
      rmSync(privateFile, { force: true });
      throw error;
    }
    console.log(`wrote ${publicFile} (${bits}-bit, fingerprint ${fingerprint(pair.publicKey)})`);
    console.log(`wrote ${privateFile} (mode 0600: keep it secret, it exists nowhere else)`);
    return 0;
  },
};
