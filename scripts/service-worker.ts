import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { build } from 'esbuild';
import type { Plugin } from 'vite';
import { PROJECT_ROOT } from '../src/host/deployment.ts';

export const SERVICE_WORKER_FILE = 'sw.js';
const SOURCE = resolve(PROJECT_ROOT, 'src/sw/service-worker.ts');
/** Files of dist/ that are the deployment's, not the build's: config.json and the bases. */
const NOT_SHELL = new Set([SERVICE_WORKER_FILE, 'config.json', 'base-installers']);
const PLACEHOLDER = '__cib_build_id_placeholder__';

/** Every file of the built page, relative to dist/ with `/` separators, sorted. */
function shellFiles(outDir: string): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      const name = relative(outDir, path).split(sep).join('/');
      if (NOT_SHELL.has(name)) continue;
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile()) found.push(name);
    }
  };
  walk(outDir);
  return found.sort();
}

/**
 * Writes dist/sw.js, the page's service worker (src/sw/service-worker.ts, README "Offline"), with
 * the list of the shell's files and a build id: a digest of those files and of the worker's own
 * code, so any change to the page gives a new id, and with it a new cache that replaces the old
 * one. index.html gets the id as `<meta name="cib-build">`, which the worker checks before keeping
 * a fresh copy of the page.
 */
export function serviceWorker(): Plugin {
  let outDir = resolve(PROJECT_ROOT, 'dist');
  return {
    name: 'cib-service-worker',
    apply: 'build',
    configResolved(config) {
      outDir = resolve(config.root, config.build.outDir);
    },
    async closeBundle() {
      const files = shellFiles(outDir);
      if (!files.includes('index.html')) throw new Error(`${outDir} has no index.html.`);
      const bundled = await build({
        entryPoints: [SOURCE],
        bundle: true,
        write: false,
        format: 'iife',
        target: 'es2022',
        minify: true,
        legalComments: 'none',
        define: {
          __CIB_BUILD__: JSON.stringify(PLACEHOLDER),
          __CIB_SHELL__: JSON.stringify(files),
        },
      });
      const code = bundled.outputFiles[0]?.text;
      if (!code) throw new Error('esbuild wrote no service worker.');
      const digest = createHash('sha256');
      for (const file of files) {
        const bytes = readFileSync(join(outDir, file));
        digest.update(`${file}\0${createHash('sha256').update(bytes).digest('hex')}\n`);
      }
      digest.update(code);
      const id = digest.digest('hex').slice(0, 16);
      writeFileSync(join(outDir, SERVICE_WORKER_FILE), code.replaceAll(PLACEHOLDER, id));
      const indexFile = join(outDir, 'index.html');
      const html = readFileSync(indexFile, 'utf8');
      const marked = html.replace(
        /(<meta charset="UTF-8" \/>)/i,
        `$1\n    <meta name="cib-build" content="${id}" />`,
      );
      if (marked === html) throw new Error('index.html has no <meta charset> to mark the build.');
      writeFileSync(indexFile, marked);
    },
  };
}
