/**
 * `cib assemble-source`: the source tree `cib make-base --layout seattle` reads, assembled from a
 * folder of clones of Seattle's repositories by the rules Seattle's own packaging follows
 * (README, "From Seattle's repositories to deployable bases"): the program folder as
 * `dist/preparetest.py` fills it and `dist/make_base_installers.py` completes and cleans it, and
 * each platform's scripts as `make_base_installers.py` packs them.
 */
import {
  chmodSync,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { unzipSync } from 'fflate';
import { formatPublicKey, parsePublicKey } from '../../core/keys.ts';
import { CibError, errorsOf, problem } from '../../core/problems.ts';
import { readSoftwareUpdaterKey, SOFTWAREUPDATER_FILE } from '../../core/software-rules.ts';
import { parseCommandArgs, requireOption, UsageError, type Command } from '../command.ts';
import { readTextFile } from '../cli-settings.ts';

const help = `Usage: cib assemble-source --seattle DIR --out DIR [--pubkey FILE]

Assembles the source tree of \`cib make-base --layout seattle\` from DIR, a folder holding clones of
Seattle's repositories side by side (dist, nodemanager, repy_v2, repy_v1, portability,
seattlelib_v2, seash, softwareupdater, common, affix, resource), choosing files as Seattle's own
packaging does:

  seattle_repy/   the program, as dist/preparetest.py fills it (repy_v2, nodemanager, portability,
                  seattlelib_v2, seash with pyreadline/ and modules/, softwareupdater, affix,
                  common's clearinghouse client and LICENSE, repyV2/ and repyV1/), completed as
                  dist/make_base_installers.py does (resource's benchmark scripts, dist's
                  installer, uninstaller, nodeman.cfg, resources.offcut…) and cleaned by the
                  "del" lines of dist/initial_files.fi and dist/final_files.fi
  linux/ mac/     each platform's dist/<platform>/scripts in seattle_repy/ (README and LICENSE
  windows/        files beside it) and its dist/script_wrappers/<platform> wrapper; android/
  android/        takes Linux's, and windows/ also what dist/win/partial_win.zip holds

Then \`cib make-base --src OUT --layout seattle …\` signs and packs the bases.

  --seattle DIR   the folder of clones
  --out DIR       where to write the tree (created; must not exist or be empty)
  --pubkey FILE   your software-update public key "e n": written as softwareupdatepublickey in
                  seattle_repy/softwareupdater.py, as Seattle's build instructions ask you to do
                  by hand (the line must be in Seattle's shape)

Nothing is run: repyV1's .mix files are copied as they are, not preprocessed.`;

/** A file chosen for the tree: where from, and where to, relative to --out. */
interface Chosen {
  from: string;
  to: string;
}

/** Python's glob "*": the names in `dir` matching `pattern`, no dotfiles, files only, sorted. */
function globFiles(dir: string, pattern = '*'): string[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) return [];
  const match = globRegExp(pattern);
  return readdirSync(dir)
    .filter((name) => !name.startsWith('.') && match.test(name))
    .filter((name) => statSync(join(dir, name)).isFile())
    .sort()
    .map((name) => join(dir, name));
}

/** clean_folder's wildcards: `*` any run of characters, `?` exactly one; the whole name. */
function globRegExp(pattern: string): RegExp {
  const body = pattern
    .split('')
    .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${body}$`);
}

/** Every file under `dir`, skipping folders whose relative path contains ".git", as preparetest. */
function treeFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  const walk = (at: string) => {
    const rel = relative(dir, at);
    if (rel.includes('.git')) return;
    for (const name of readdirSync(at).sort()) {
      const path = join(at, name);
      const info = lstatSync(path);
      if (info.isDirectory()) walk(path);
      else if (info.isFile()) out.push(path);
    }
  };
  walk(dir);
  return out;
}

/** The "del" patterns and "req" names of one of dist's clean_folder instruction files. */
function readInstructions(file: string): { del: string[]; req: string[][] } {
  const del: string[] = [];
  const req: string[][] = [];
  if (!existsSync(file)) return { del, req };
  for (const raw of readFileSync(file, 'utf8').split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    const [word, ...rest] = line.split(/\s+/);
    const argument = rest.join(' ');
    if (word === 'del' && argument) del.push(argument);
    if (word === 'req' && argument) req.push(argument.split(',').map((s) => s.trim()));
  }
  return { del, req };
}

/**
 * The program folder, name by name, in the order Seattle's scripts copy (a later copy of the
 * same name wins, as shutil.copyfile overwrites).
 */
function programFiles(seattle: string, warnings: string[]): Map<string, string> {
  const program = new Map<string, string>();
  const repo = (...parts: string[]) => join(seattle, ...parts);
  const copy = (dir: string, to = '', pattern = '*') => {
    const found = globFiles(dir, pattern);
    if (found.length === 0)
      warnings.push(`${relative(seattle, join(dir, pattern))} matches no files`);
    for (const file of found) program.set(join(to, file.slice(dir.length + 1)), file);
  };
  const tree = (dir: string, to: string) => {
    const found = treeFiles(dir);
    if (found.length === 0) warnings.push(`${relative(seattle, dir)}/ holds no files`);
    for (const file of found) program.set(join(to, relative(dir, file)), file);
  };
  // dist/preparetest.py: the node manager and Repy runtimes, seash, the updater.
  copy(repo('affix'));
  copy(repo('affix', 'components'));
  copy(repo('affix', 'services', 'tcp_relay'));
  copy(repo('repy_v2'));
  copy(repo('nodemanager'));
  copy(repo('portability'));
  copy(repo('seattlelib_v2'));
  copy(repo('portability'), 'repyV2');
  copy(repo('repy_v2'), 'repyV2');
  copy(repo('seattlelib_v2'), 'repyV2', 'dylink.r2py');
  copy(repo('seattlelib_v2'), 'repyV2', 'textops.py');
  copy(repo('nodemanager'), 'repyV2', 'servicelogger.py');
  copy(repo('repy_v1'), 'repyV1');
  copy(repo('seash'));
  tree(repo('seash', 'pyreadline'), 'pyreadline');
  tree(repo('seash', 'modules'), 'modules');
  copy(repo('common'), '', 'seattleclearinghouse_xmlrpc.py');
  copy(repo('softwareupdater'));
  copy(repo('dist'), '', 'update_crontab_entry.py');
  copy(repo('common'), '', 'LICENSE');
  // dist/make_base_installers.py: resource measurement scripts, installer and uninstaller.
  for (const name of [
    'benchmark_resources.py',
    'Mac_BSD_resources.py',
    'create_installer_state.py',
    'measuredisk.py',
    'vessel.restrictions',
    'Linux_resources.py',
    'measure_random.py',
    'Win_WinCE_resources.py',
  ])
    copy(repo('resource'), '', name);
  for (const name of [
    'seattleinstaller.py',
    'seattleuninstaller.py',
    'stop_all_seattle_processes.py',
    'update_crontab_entry.py',
  ])
    copy(repo('dist'), '', name);
  clean(program, readInstructions(repo('dist', 'initial_files.fi')), 'initial_files.fi', warnings);
  // Seattle writes the metainfo here and adds these two unsigned; make-base signs them with the rest.
  copy(repo('dist'), '', 'nodeman.cfg');
  copy(repo('dist'), '', 'resources.offcut');
  clean(program, readInstructions(repo('dist', 'final_files.fi')), 'final_files.fi', warnings);
  return program;
}

/** clean_folder: "del" removes top-level names (files, or whole folders) matching a pattern. */
function clean(
  program: Map<string, string>,
  rules: { del: string[]; req: string[][] },
  source: string,
  warnings: string[],
): void {
  const patterns = rules.del.map(globRegExp);
  for (const path of [...program.keys()]) {
    const top = path.split('/')[0]!;
    if (patterns.some((p) => p.test(top))) program.delete(path);
  }
  const tops = new Set([...program.keys()].map((p) => p.split('/')[0]!));
  for (const names of rules.req)
    if (!names.some((name) => tops.has(name)))
      warnings.push(`${source} requires ${names.join(' or ')}, which is not there`);
}

/**
 * One platform's folder as make_base_installers.py packs it: its scripts into seattle_repy/
 * (README and LICENSE files beside it), its wrappers directly under seattle/.
 */
function platformFiles(seattle: string, platform: string, scripts: string, wrappers: string) {
  const chosen: Chosen[] = [];
  const scriptsDir = join(seattle, 'dist', scripts);
  const found = globFiles(scriptsDir).filter((file) => !file.endsWith('/manifest.txt'));
  if (found.length === 0) {
    throw new CibError(
      problem(
        'assemble.scripts.missing',
        scriptsDir,
        `The ${platform} installer's scripts are not there; is DIR/dist a clone of Seattle's dist repository?`,
      ),
    );
  }
  for (const file of found) {
    const name = file.slice(scriptsDir.length + 1);
    const beside = name.includes('README') || name.includes('LICENSE');
    chosen.push({ from: file, to: join(platform, beside ? name : join('seattle_repy', name)) });
  }
  const wrappersDir = join(seattle, 'dist', 'script_wrappers', wrappers);
  for (const file of globFiles(wrappersDir))
    chosen.push({ from: file, to: join(platform, file.slice(wrappersDir.length + 1)) });
  return chosen;
}

/** dist/win/partial_win.zip, which the Windows base starts from: its files under seattle/. */
function partialWindows(seattle: string, out: string): number {
  const zip = join(seattle, 'dist', 'win', 'partial_win.zip');
  if (!existsSync(zip)) return 0;
  let written = 0;
  for (const [name, data] of Object.entries(unzipSync(readFileSync(zip)))) {
    const parts = name.replace(/\\/g, '/').split('/');
    if (name.endsWith('/') || parts[0] !== 'seattle' || parts.length < 2) continue;
    if (parts.some((p) => p === '' || p === '.' || p === '..'))
      throw new CibError(
        problem('assemble.zip.path', `${zip}: ${name}`, 'This entry name leaves the folder.'),
      );
    const to = join(out, 'windows', ...parts.slice(1));
    mkdirSync(dirname(to), { recursive: true });
    writeFileSync(to, data);
    written++;
  }
  return written;
}

/** Writes the --pubkey key into softwareupdater.py's one softwareupdatepublickey line. */
function setUpdaterKey(file: string, keyFile: string): void {
  const parsed = parsePublicKey(readTextFile(keyFile), keyFile);
  if (!parsed.key || errorsOf(parsed.problems).length > 0)
    throw new CibError(errorsOf(parsed.problems));
  const text = readFileSync(file, 'latin1');
  const { problems } = readSoftwareUpdaterKey(text, file);
  if (problems.length > 0) throw new CibError(problems);
  const [e, n] = formatPublicKey(parsed.key).split(' ');
  const lines = text.split('\n');
  const at = lines.findIndex((line) => /^softwareupdatepublickey[ \t]*=/.test(line));
  const ending = lines[at]!.endsWith('\r') ? '\r' : '';
  lines[at] = `softwareupdatepublickey = {'e':${e}, 'n':${n}}${ending}`;
  writeFileSync(file, lines.join('\n'), 'latin1');
}

export const assembleSourceCommand: Command = {
  help,
  async run(argv) {
    const { values } = parseCommandArgs(argv, {
      seattle: { type: 'string' },
      out: { type: 'string' },
      pubkey: { type: 'string' },
    });
    const seattle = requireOption(values.seattle, 'seattle');
    const out = requireOption(values.out, 'out');
    if (!existsSync(seattle) || !statSync(seattle).isDirectory())
      throw new UsageError(`--seattle must be a folder of clones of Seattle's repositories.`);
    if (existsSync(out) && readdirSync(out).length > 0)
      throw new CibError(
        problem('assemble.out.not-empty', out, 'The output folder exists and is not empty.'),
      );
    const warnings: string[] = [];
    const program = programFiles(seattle, warnings);
    if (!program.has(SOFTWAREUPDATER_FILE))
      throw new CibError(
        problem(
          'assemble.program.updater',
          join(seattle, 'softwareupdater'),
          'The program has no softwareupdater.py; is DIR/softwareupdater a clone of Seattle’s softwareupdater repository?',
        ),
      );
    const chosen: Chosen[] = [
      ...[...program].map(([to, from]) => ({ from, to: join('seattle_repy', to) })),
      ...platformFiles(seattle, 'linux', 'linux/scripts', 'linux'),
      ...platformFiles(seattle, 'mac', 'mac/scripts', 'mac'),
      ...platformFiles(seattle, 'windows', 'win/scripts', 'win'),
      // make_base_installers.py packs Android with Linux's scripts and wrapper.
      ...platformFiles(seattle, 'android', 'linux/scripts', 'linux'),
    ];
    try {
      for (const { from, to } of chosen) {
        const target = join(out, to);
        mkdirSync(dirname(target), { recursive: true });
        copyFileSync(from, target);
        chmodSync(target, statSync(from).mode & 0o777);
      }
      const fromZip = partialWindows(seattle, out);
      if (values.pubkey !== undefined)
        setUpdaterKey(join(out, 'seattle_repy', SOFTWAREUPDATER_FILE), values.pubkey);
      for (const warning of warnings) console.error(`warning: ${warning}`);
      console.log(
        `${out}: seattle_repy/ with ${program.size} program files; linux/, mac/, windows/${fromZip ? ` (${fromZip} from partial_win.zip)` : ''}, android/ with their scripts.`,
      );
      console.log(
        `Next: cib make-base --src ${out} --layout seattle --pubkey FILE --privkey FILE --out DIR`,
      );
    } catch (error) {
      rmSync(out, { recursive: true, force: true });
      throw error;
    }
    return 0;
  },
};
