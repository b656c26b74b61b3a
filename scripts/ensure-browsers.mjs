// The browser tests drive three engines from Debian's packages: Chromium, Firefox ESR, and
// WebKitGTK's MiniBrowser through WebKitWebDriver under xvfb-run. Install what is missing when
// running as root (CI and this machine do); otherwise stop and say what to install. Never skip.
//
//   node scripts/ensure-browsers.mjs                 # all three (npm run test:e2e)
//   node scripts/ensure-browsers.mjs chromium        # only Chromium (npm run bench:browser)
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { installDebianPackages } from './apt-install.mjs';

/** MiniBrowser sits in the multiarch library folder, e.g. /usr/lib/x86_64-linux-gnu/…. */
function miniBrowser() {
  if (process.env.MINIBROWSER_PATH) return process.env.MINIBROWSER_PATH;
  for (const dir of existsSync('/usr/lib') ? readdirSync('/usr/lib') : []) {
    const path = `/usr/lib/${dir}/webkit2gtk-4.1/MiniBrowser`;
    if (existsSync(path)) return path;
  }
  return '/usr/lib/<arch>/webkit2gtk-4.1/MiniBrowser';
}

const ENGINES = {
  chromium: {
    packages: ['chromium'],
    paths: () => [process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'],
    version: () => execFileSync(process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', ['--version']),
  },
  firefox: {
    packages: ['firefox-esr'],
    paths: () => [process.env.FIREFOX_PATH ?? '/usr/bin/firefox-esr'],
    version: () => execFileSync(process.env.FIREFOX_PATH ?? '/usr/bin/firefox-esr', ['--version']),
  },
  webkit: {
    // webkit2gtk-driver brings libwebkit2gtk-4.1-0, which holds MiniBrowser.
    packages: ['webkit2gtk-driver', 'xvfb'],
    paths: () => [
      process.env.WEBKIT_DRIVER_PATH ?? '/usr/bin/WebKitWebDriver',
      miniBrowser(),
      '/usr/bin/xvfb-run',
    ],
    version: () =>
      `WebKitGTK ${execFileSync('dpkg-query', ['-W', '-f=${Version}', 'webkit2gtk-driver'])}`,
  },
};

const wanted = process.argv.slice(2);
for (const name of wanted)
  if (!(name in ENGINES)) {
    console.error(`Unknown engine ${name}: use ${Object.keys(ENGINES).join(', ')}.`);
    process.exit(2);
  }
const engines = wanted.length > 0 ? wanted : Object.keys(ENGINES);
const missing = () => engines.filter((name) => ENGINES[name].paths().some((p) => !existsSync(p)));

const absent = missing();
if (absent.length > 0) {
  const packages = absent.flatMap((name) => ENGINES[name].packages);
  installDebianPackages(packages, 'browser tests');
  const still = missing();
  if (still.length > 0) {
    const paths = still.flatMap((name) => ENGINES[name].paths()).filter((p) => !existsSync(p));
    console.error(`apt-get finished but ${paths.join(', ')} is still missing.`);
    process.exit(1);
  }
}
for (const name of engines) console.log(String(ENGINES[name].version()).trim());
