// The archive tests compare the builder's reader with the real extractors (tests/differential,
// docs/formats.md "Strict archive profile"): GNU tar, bsdtar, unzip, 7-Zip and Python's tarfile
// and zipfile, plus zip to make archives and bubblewrap to confine the extractors. Install what is
// missing when running as root (CI and this machine); otherwise stop and say what to install.
// Never skip them.
import { spawnSync } from 'node:child_process';
import { installDebianPackages } from './apt-install.mjs';

const TOOLS = [
  { command: 'tar', args: ['--version'], expect: /GNU tar/, pkg: 'tar' },
  { command: 'bsdtar', args: ['--version'], expect: /libarchive/, pkg: 'libarchive-tools' },
  { command: 'unzip', args: ['-v'], expect: /UnZip/, pkg: 'unzip' },
  { command: 'zip', args: ['-v'], expect: /Zip/, pkg: 'zip' },
  { command: '7z', args: ['i'], expect: /7-Zip/, pkg: 'p7zip-full' },
  { command: 'bwrap', args: ['--version'], expect: /bubblewrap/, pkg: 'bubblewrap' },
];

function works({ command, args, expect }) {
  const run = spawnSync(command, args, { encoding: 'utf8' });
  return run.error === undefined && expect.test(`${run.stdout}${run.stderr}`);
}

const missing = TOOLS.filter((tool) => !works(tool));
if (missing.length) {
  const packages = missing.map((tool) => tool.pkg);
  installDebianPackages(packages, 'archive tests');
  const still = missing.filter((tool) => !works(tool));
  if (still.length) {
    console.error(`apt-get finished but ${still.map((t) => t.command).join(', ')} still fail.`);
    process.exit(1);
  }
}

// Python's tarfile extraction filters ('data', 'fully_trusted'): Python 3.12, or 3.8.17, 3.9.17,
// 3.10.12, 3.11.4 and later. apt cannot add them to an older python3.
const python = spawnSync(
  'python3',
  ['-c', 'import sys, tarfile; tarfile.data_filter; print(sys.version.split()[0])'],
  {
    encoding: 'utf8',
  },
);
if (python.status !== 0) {
  console.error(
    'The archive tests need python3 with tarfile extraction filters (Python 3.12+, or 3.11.4+, ' +
      '3.10.12+, 3.9.17+, 3.8.17+); the python3 on PATH has none. Put a newer python3 first on PATH.',
  );
  process.exit(1);
}
console.log(
  `Extractors: GNU tar, bsdtar, unzip, zip, 7z, bubblewrap, Python ${python.stdout.trim()} tarfile filters.`,
);
