import { inspectInstaller, type InstallerSource } from '../../core/archive/installer.ts';
import { checkInstallerSoftware } from '../../core/archive/base-check.ts';
import { CibError, problem } from '../../core/problems.ts';
import { softwareBuildable, softwareNotes, softwareVerdictLine } from '../../core/software.ts';
import { fileSource } from '../../host/files.ts';
import { fileSha256 } from '../../host/hash.ts';
import { deploymentReport } from '../kept-checks.ts';
import {
  cliUpdateKeys,
  printProblems,
  printSoftware,
  UPDATE_KEY_HELP,
  updateKeyOptions,
} from '../cli-settings.ts';
import { parseCommandArgs, UsageError, type Command } from '../command.ts';

const help = `Usage: cib inspect FILE [--json] [--update-key FILE]...

Shows what an installer (.tgz, .zip or the GUI .exe) will do on the donor's machine: its vessels
with node names, shares and ports, the owner's and users' key fingerprints, and whether the
node-side installer would accept it. Then the software, by Seattle's rules: whether
seattle/seattle_repy/metainfo is validly signed by the key the node trusts for updates, whether
that key is trusted here, whether every listed file present matches the signed list, which listed
files are left out (the node's updater fetches them), and the files the signature does not cover
(the installer's own scripts) with their SHA-256.

  --json   print {format, vesselinfo, vessels: [{name, percent, owner, users, ports: [first, last],
           ownerFingerprint, userFingerprints}], valid, ambiguous,
           problems: [{code, path, message, severity}],
           software: {verdict, summary, notes, key: {fingerprint, key, trusted, label}, timestamp,
           expiration, expired, listed, intact, modified, missing, unlisted,
           unsigned: [{path, size, sha256}], problems}}
${UPDATE_KEY_HELP}

A tgz is streamed from disk with its inflated size capped. An archive outside the strict profile
(docs/formats.md: regular files and folders only, names every extractor reads alike, no
feature GNU tar, bsdtar, Python, unzip and 7-Zip disagree on), or with more than one entry
extracting to seattle/seattle_repy/vesselinfo, is ambiguous: each entry and rule is named and
the exit code is 1.

Exit 0 when the node would accept the installer and its software is intact (notes allowed), 1
when the node would refuse it, files differ from the signed list, it carries unsigned code, the
signature fails, it is not signed, its update key is not trusted here, or the file is unreadable.`;

export const inspectCommand: Command = {
  help,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(
      argv,
      { json: { type: 'boolean' }, ...updateKeyOptions },
      true,
    );
    if (positionals.length !== 1) throw new UsageError('Name exactly one installer file.');
    const file = positionals[0]!;
    const knownKeys = cliUpdateKeys(values);
    let source: InstallerSource;
    try {
      source = fileSource(file);
    } catch (error) {
      throw new CibError(
        problem('cli.file.read', file, `Cannot read the installer: ${(error as Error).message}.`),
      );
    }
    const inspection = await inspectInstaller(source);
    let software;
    try {
      software = await deploymentReport(
        file,
        () => fileSha256(file),
        knownKeys,
        await checkInstallerSoftware(source, {
          knownKeys,
          now: Math.floor(Date.now() / 1000),
        }),
      );
    } catch (error) {
      // A damaged archive or one past the caps: inspect already reported why it cannot be read.
      if (!(error instanceof CibError)) throw error;
    }
    const softwareOk = software === undefined || softwareBuildable(software);
    if (values.json) {
      console.log(
        JSON.stringify(
          {
            ...inspection,
            ...(software
              ? {
                  software: {
                    summary: softwareVerdictLine(software),
                    notes: softwareNotes(software).map((note) => note.text),
                    ...software,
                  },
                }
              : {}),
          },
          null,
          2,
        ),
      );
    } else {
      console.log(`${file}: ${inspection.format} installer`);
      for (const v of inspection.vessels) {
        console.log(
          `  ${v.name}  ${String(v.percent).padStart(3)}%  ports ${v.ports[0]}-${v.ports[1]}`,
        );
        console.log(`      owner ${v.ownerFingerprint}`);
        for (const u of v.userFingerprints) console.log(`      user  ${u}`);
      }
      console.log(
        inspection.valid
          ? 'The node will accept this installer.'
          : inspection.ambiguous
            ? "AMBIGUOUS installer: extractors could leave different files on the donor's disk " +
              '(see below); do not install it.'
            : 'The node would REFUSE this installer.',
      );
      printProblems(inspection.problems, file);
      if (software || inspection.format === 'exe') printSoftware(software);
      if (software) {
        // Files are listed above; the rest (signature, key) are printed as problems.
        printProblems(
          software.problems.filter((p) => !p.code.startsWith('software.file.')),
          file,
        );
      }
    }
    return inspection.valid && softwareOk ? 0 : 1;
  },
};
