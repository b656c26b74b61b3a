// Installs Debian packages the tests need, as the test setup does when it runs as root (CI and
// this machine); anyone else is told the command and the run stops. Never a skip.
import { execFileSync } from 'node:child_process';

/** Installs `packages` with apt-get, or exits 1 saying what `purpose` needs and how to get it. */
export function installDebianPackages(packages, purpose) {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot) {
    console.error(
      `The ${purpose} need Debian's ${packages.join(', ')}. Install them: sudo apt-get install ${packages.join(' ')}`,
    );
    process.exit(1);
  }
  console.log(`Installing Debian ${packages.join(', ')} for the ${purpose}…`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  try {
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
    execFileSync('apt-get', ['install', '-y', '-qq', ...packages], { stdio: 'inherit', env });
  } catch {
    console.error(`Installing failed. Install them by hand: apt-get install ${packages.join(' ')}`);
    process.exit(1);
  }
}
