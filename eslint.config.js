import js from '@eslint/js';
import ts from 'typescript-eslint';
import svelte from 'eslint-plugin-svelte';
import globals from 'globals';

const nodeBuiltins = [
  'node:*',
  'fs',
  'path',
  'os',
  'crypto',
  'child_process',
  'stream',
  'http',
  'url',
];

export default ts.config(
  {
    ignores: [
      'dist/',
      'dist-node/',
      'node_modules/',
      'test-results/',
      'playwright-report/',
      'data/',
      '.tmp/',
    ],
  },
  js.configs.recommended,
  ...ts.configs.recommended,
  ...svelte.configs.recommended,
  {
    languageOptions: { globals: { ...globals.browser, ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
    },
  },
  {
    // The bin is CommonJS, so the command line starts without Node's ES module loader.
    files: ['bin/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    files: ['**/*.svelte', '**/*.svelte.ts'],
    languageOptions: { parserOptions: { parser: ts.parser } },
  },
  // Layers: core imports nothing of ours; node, worker and sw (the service worker) import only
  // core; cli, server and app sit on top. Each folder may not reach the ones listed for it.
  layer('src/core/**/*.ts', ['host', 'worker', 'cli', 'server', 'app'], nodeBuiltins),
  layer('src/host/**/*.ts', ['worker', 'cli', 'server', 'app']),
  layer('src/worker/**/*.ts', ['host', 'cli', 'server', 'app'], nodeBuiltins),
  layer('src/sw/**/*.ts', ['host', 'worker', 'cli', 'server', 'app'], nodeBuiltins),
  layer('src/cli/**/*.ts', ['worker', 'server', 'app']),
  layer('src/server/**/*.{ts,mjs}', ['worker', 'cli', 'app']),
  layer('src/app/**/*.{ts,svelte}', ['host', 'cli', 'server'], nodeBuiltins),
  {
    // The core runs unchanged in the page, a worker, Node and the server: no Node built-ins, no DOM.
    files: ['src/core/**/*.ts'],
    languageOptions: { globals: { ...globals['shared-node-browser'] } },
    rules: {
      'no-restricted-globals': ['error', 'window', 'document', 'process', 'Buffer', 'localStorage'],
    },
  },
);

/** `files` may import none of the `forbidden` src/ folders, nor (when given) Node built-ins. */
function layer(files, forbidden, builtins = []) {
  return {
    files: [files],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: `^(\\.\\./)+(${forbidden.join('|')})/`,
              message: `${files.split('/')[1]} sits below ${forbidden.join(', ')}: see the layers in README.md.`,
            },
            ...builtins.map((group) => ({
              group: [group],
              message: `${files.split('/')[1]} runs in the browser too: no Node built-ins.`,
            })),
          ],
        },
      ],
    },
  };
}
