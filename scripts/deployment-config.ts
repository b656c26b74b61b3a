import { cpSync, existsSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Plugin } from 'vite';
import { demoBasesOf } from '../src/host/demo-bases.ts';
import { loadDeploymentSettings, pageConfigOf, PROJECT_ROOT } from '../src/host/deployment.ts';

/**
 * What the page reads at start-up from `config.json`; an operator edits it in dist/ without
 * rebuilding. `demoBases` comes from the bases being deployed (docs/keys.md): the demo update key
 * is listed only when every one of them is signed by it.
 */
async function pageConfig(basesDir: string): Promise<Record<string, unknown>> {
  return pageConfigOf(loadDeploymentSettings(), await demoBasesOf(basesDir));
}

/** Writes dist/config.json and copies the base installers into dist/; serves the same in dev. */
export function deploymentConfig(): Plugin {
  let outDir = resolve(PROJECT_ROOT, 'dist');
  const sourceBases = resolve(PROJECT_ROOT, 'base-installers');
  return {
    name: 'cib-deployment-config',
    configResolved(config) {
      outDir = resolve(config.root, config.build.outDir);
    },
    configureServer(server) {
      server.middlewares.use('/config.json', (_req, res, next) => {
        pageConfig(sourceBases).then((config) => {
          res.setHeader('Content-Type', 'application/json');
          res.end(JSON.stringify(config, null, 2));
        }, next);
      });
    },
    async closeBundle() {
      // Only after a build wrote the page (vitest runs the plugins without one).
      if (!existsSync(resolve(outDir, 'index.html'))) return;
      const bases = resolve(outDir, 'base-installers');
      if (existsSync(sourceBases)) cpSync(sourceBases, bases, { recursive: true });
      const config = await pageConfig(bases);
      writeFileSync(resolve(outDir, 'config.json'), JSON.stringify(config, null, 2) + '\n');
    },
  };
}
