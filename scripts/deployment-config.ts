import { cpSync, existsSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Plugin } from 'vite';
import { loadDeploymentSettings, pageConfigOf, PROJECT_ROOT } from '../src/node/deployment.ts';

/** What the page reads at start-up from `config.json`; an operator edits it in dist/ without rebuilding. */
function pageConfig(): Record<string, unknown> {
  return pageConfigOf(loadDeploymentSettings());
}

/** Writes dist/config.json and copies the base installers into dist/; serves the same in dev. */
export function deploymentConfig(): Plugin {
  let outDir = resolve(PROJECT_ROOT, 'dist');
  return {
    name: 'cib-deployment-config',
    configResolved(config) {
      outDir = resolve(config.root, config.build.outDir);
    },
    configureServer(server) {
      server.middlewares.use('/config.json', (_req, res) => {
        res.setHeader('Content-Type', 'application/json');
        res.end(JSON.stringify(pageConfig(), null, 2));
      });
    },
    closeBundle() {
      writeFileSync(resolve(outDir, 'config.json'), JSON.stringify(pageConfig(), null, 2) + '\n');
      const bases = resolve(PROJECT_ROOT, 'base-installers');
      if (existsSync(bases)) cpSync(bases, resolve(outDir, 'base-installers'), { recursive: true });
    },
  };
}
