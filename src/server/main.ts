import cluster from 'node:cluster';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describeProblems } from '../core/problems.ts';
import { installerBuilder, startServer } from './app.ts';
import type { InstallerBuilder } from './installers.ts';
import { loadServerSettings, type ServerSettings } from './server-settings.ts';

// `npm start`: the page, the base installers and the XML-RPC shim in one process (README, "Server
// and XML-RPC shim"), or WORKERS processes sharing the port and DATA_DIR (the file store is safe
// for that).
let settings: ServerSettings;
let workers: number;
try {
  settings = loadServerSettings();
  workers = Number(process.env.WORKERS || 1);
  if (!Number.isInteger(workers) || workers < 1 || workers > 64) {
    throw new Error(`WORKERS must be a whole number from 1 to 64, not "${process.env.WORKERS}".`);
  }
} catch (error) {
  console.error(`cib server: ${(error as Error).message}`);
  process.exit(1);
}

// The bases are part of the settings: a deployment whose bases do not match their manifest stops
// here rather than failing donors one download at a time. The check (in worker threads) is kept,
// so the first download does not wait for it.
let installers: InstallerBuilder | undefined;
if (cluster.isPrimary) {
  installers = installerBuilder(settings);
  const bases = await installers.check();
  if (bases.problems.length > 0) {
    console.error(
      `cib server: BASES_DIR ${settings.basesDir}: the base installers are not usable:\n${describeProblems(bases.problems)}`,
    );
    process.exit(1);
  }
  for (const base of bases.bases) {
    if (base.software && base.software.verdict !== 'intact')
      console.error(
        `cib server: ${base.file}: ${base.software.summary} Builds from it are refused (run \`cib prepare-base\` on the bases to see why).`,
      );
  }
  if (bases.trust.demoBases) {
    console.error(
      'cib server: every base is signed by the demo update key, whose private key is public: this is a demo deployment, and the demo key is trusted for these bases only.',
    );
  }
}

function announce(origin: string, publicUrl: string): void {
  console.log(
    `Serving the builder at ${publicUrl}/ (XML-RPC at ${publicUrl}/xmlrpc/, listening on ${origin}${workers > 1 ? `, ${workers} workers` : ''})`,
  );
}

if (workers > 1 && cluster.isPrimary) {
  let stopping = false;
  for (let i = 0; i < workers; i++) cluster.fork();
  cluster.once('message', (_worker, message: { origin?: string; publicUrl?: string }) => {
    if (message.origin && message.publicUrl) announce(message.origin, message.publicUrl);
  });
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return;
    console.error(
      `cib server: worker ${worker.process.pid} ended (${signal ?? code}); starting another.`,
    );
    cluster.fork();
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      stopping = true;
      for (const worker of Object.values(cluster.workers ?? {})) worker?.kill('SIGTERM');
      setTimeout(() => process.exit(0), 5000).unref();
      cluster.on('exit', () => {
        if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
      });
    });
  }
} else {
  if (!existsSync(join(settings.distDir, 'index.html'))) {
    console.error(
      `cib server: ${settings.distDir} has no built page; run \`npm run build\` first.`,
    );
  }
  const running = await startServer(settings, installers ? { installers } : {});
  if (cluster.isWorker) process.send?.({ origin: running.origin, publicUrl: running.publicUrl });
  else announce(running.origin, running.publicUrl);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      // In-flight calls finish (their records become durable) before the process exits.
      running.server.close(() => process.exit(0));
      running.server.closeIdleConnections();
      setTimeout(() => process.exit(0), 5000).unref();
    });
  }
}
