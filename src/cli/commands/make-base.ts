import { lstatSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  BASE_LAYOUT_STYLES,
  BASE_PLATFORMS,
  formatManifest,
  makeBases,
  PROGRAM_DIR,
  type BaseLayoutStyle,
  type SourceFile,
} from '../../core/archive/build-bases.ts';
import {
  parsePrivateKey,
  parsePublicKey,
  privateKeyMatches,
  type PrivateKey,
  type PublicKey,
} from '../../core/keys.ts';
import { CibError, errorsOf, problem, type Problem } from '../../core/problems.ts';
import { writeFileAtomic } from '../../host/files.ts';
import { parseCommandArgs, requireOption, UsageError, type Command } from '../command.ts';

const MANIFEST_FILE = 'manifest.json';
const DEFAULT_VERSION = 'unversioned';

const help = `Usage: cib make-base --src DIR --pubkey FILE --privkey FILE --out DIR [--layout cib|seattle]
                     [--version V] [--timestamp SECONDS]

Builds the base installers seattle_linux.tgz, seattle_mac.tgz (append-ready layout),
seattle_win.zip and seattle_android.zip, and manifest.json, into --out.

  --src DIR          source tree: DIR/seattle_repy/ (program files, shared by every platform) and
                     DIR/linux/, DIR/mac/, DIR/windows/, DIR/android/ (each platform's own files).
                     Nothing else in DIR is read. \`cib assemble-source\` writes one from clones of
                     Seattle's repositories.
  --layout L         cib (default): each platform's files go directly under seattle/ in its
                     archive. seattle: as Seattle's own packaging lays bases out: a platform
                     folder's seattle_repy/ files (install.sh, start_seattle.sh, …) go into
                     seattle/seattle_repy/ after signing, unlisted, the rest (the install.sh
                     wrapper) under seattle/; pyreadline/ is signed but shipped in the Windows
                     base only.
  --pubkey FILE      software-update public key ("e n"); copied into every base as
                     seattle/seattle_repy/softwareupdater.publickey. When the program has
                     softwareupdater.py, its softwareupdatepublickey must be this key.
  --privkey FILE     the matching private key ("d p q"); signs seattle/seattle_repy/metainfo
  --out DIR          where the four archives and manifest.json are written (created if missing)
  --version V        version recorded in manifest.json (default "${DEFAULT_VERSION}")
  --timestamp SECS   metainfo timestamp and every entry's mtime, in seconds since 1970; defaults to
                     SOURCE_DATE_EPOCH when set, else the current time. The metainfo expires
                     30 days later. The same inputs and timestamp give byte-identical output.

File modes: 0755 for source files with an execute bit, 0644 for the rest; directories 0755.`;

function fail(code: string, path: string, message: string): never {
  throw new CibError(problem(code, path, message));
}

function readKeyFile(file: string, option: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    return fail(
      'makebase.key.unreadable',
      file,
      `Cannot read the ${option} file (${(error as NodeJS.ErrnoException).code ?? 'error'}).`,
    );
  }
}

function parsedKey<K>(result: { key?: K; problems: Problem[] }): K {
  const errors = errorsOf(result.problems);
  if (!result.key || errors.length > 0) throw new CibError(errors);
  return result.key;
}

/** Every regular file under `root/dir`, with paths relative to `root`; symlinks are refused. */
function readTree(root: string, dir: string, out: SourceFile[]): void {
  const full = join(root, dir);
  const names = readdirSync(full).sort();
  for (const name of names) {
    const relative = `${dir}/${name}`;
    const stat = lstatSync(join(root, relative));
    if (stat.isDirectory()) {
      readTree(root, relative, out);
    } else if (stat.isFile()) {
      out.push({ path: relative, data: readFileSync(join(root, relative)), mode: stat.mode });
    } else {
      fail(
        'makebase.source.not-file',
        join(root, relative),
        'Only regular files and folders can go into a base installer (no symlinks or devices).',
      );
    }
  }
}

function readSource(src: string): SourceFile[] {
  const files: SourceFile[] = [];
  for (const dir of [PROGRAM_DIR, ...BASE_PLATFORMS.map((b) => b.platform)]) {
    let isDirectory = false;
    try {
      isDirectory = lstatSync(join(src, dir)).isDirectory();
    } catch {
      isDirectory = false;
    }
    if (!isDirectory) {
      fail(
        'makebase.source.missing',
        join(src, dir),
        dir === PROGRAM_DIR
          ? `The source tree needs a ${PROGRAM_DIR}/ folder with the program files.`
          : `The source tree needs a ${dir}/ folder with the ${dir} installer's own scripts.`,
      );
    }
    readTree(src, dir, files);
  }
  return files;
}

function parseTimestamp(text: string | undefined, from: string): number {
  if (text === undefined) return Math.floor(Date.now() / 1000);
  if (!/^[0-9]+$/.test(text) || Number(text) >= 2 ** 32) {
    throw new UsageError(`${from} must be whole seconds since 1970, not "${text}".`);
  }
  return Number(text);
}

export const makeBaseCommand: Command = {
  help,
  async run(argv) {
    const { values } = parseCommandArgs(argv, {
      src: { type: 'string' },
      pubkey: { type: 'string' },
      privkey: { type: 'string' },
      out: { type: 'string' },
      version: { type: 'string' },
      timestamp: { type: 'string' },
      layout: { type: 'string' },
    });
    const src = requireOption(values.src, 'src');
    const pubkeyFile = requireOption(values.pubkey, 'pubkey');
    const privkeyFile = requireOption(values.privkey, 'privkey');
    const out = requireOption(values.out, 'out');
    const version = values.version ?? DEFAULT_VERSION;
    const layout = (values.layout ?? 'cib') as BaseLayoutStyle;
    if (!BASE_LAYOUT_STYLES.includes(layout)) {
      throw new UsageError(
        `--layout must be ${BASE_LAYOUT_STYLES.join(' or ')}, not "${values.layout}".`,
      );
    }
    if (!/^[\x21-\x7e]+$/.test(version)) {
      throw new UsageError('--version must be printable ASCII without spaces.');
    }
    const timestamp =
      values.timestamp !== undefined
        ? parseTimestamp(values.timestamp, '--timestamp')
        : parseTimestamp(process.env.SOURCE_DATE_EPOCH || undefined, 'SOURCE_DATE_EPOCH');

    const publicKey: PublicKey = parsedKey(
      parsePublicKey(readKeyFile(pubkeyFile, '--pubkey'), pubkeyFile),
    );
    const privateKey: PrivateKey = parsedKey(
      parsePrivateKey(readKeyFile(privkeyFile, '--privkey'), privkeyFile),
    );
    if (!privateKeyMatches(publicKey, privateKey)) {
      fail(
        'makebase.key.mismatch',
        privkeyFile,
        `This private key does not belong to the public key in ${pubkeyFile}.`,
      );
    }
    const files = readSource(src);
    const made = makeBases({ files, layout, publicKey, privateKey, timestamp, version });

    mkdirSync(out, { recursive: true });
    for (const { entry, bytes } of made.bases) writeFileAtomic(join(out, entry.file), bytes);
    // The manifest last: whoever reads it finds the archives it describes already in place.
    writeFileAtomic(join(out, MANIFEST_FILE), formatManifest(made.manifest));
    for (const { entry } of made.bases) {
      console.log(`${entry.file}  ${entry.size} bytes  sha256 ${entry.sha256}  (${entry.layout})`);
    }
    console.log(
      `${MANIFEST_FILE}  version ${version}, timestamp ${timestamp}, update key ${made.manifest.updateKeyFingerprint}`,
    );
    return 0;
  },
};
