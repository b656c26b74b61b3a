import { defineConfig } from 'vitest/config';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { deploymentConfig } from './scripts/deployment-config.ts';
import { devCspRelax } from './scripts/dev-csp.ts';
import { serviceWorker } from './scripts/service-worker.ts';

// Relative base and hash routing let dist/ be served from any static host or sub-path.
export default defineConfig({
  base: './',
  plugins: [svelte(), deploymentConfig(), devCspRelax(), serviceWorker()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
  },
  worker: {
    format: 'es',
  },
  test: {
    include: ['tests/**/*.test.ts'],
    globalSetup: ['tests/support/global-setup.ts'],
    exclude: ['tests/e2e/**', 'node_modules/**'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
