import js from '@eslint/js';
import ts from 'typescript-eslint';
import svelte from 'eslint-plugin-svelte';
import boundaries from 'eslint-plugin-boundaries';
import globals from 'globals';
import { builtinModules } from 'node:module';

/**
 * The layers (README.md, "Layout"): each folder and the folders it may import from. Anything else
 * of ours, by a static import, an export or a dynamic `import()`, is refused. Node's built-ins are
 * refused where `node` is false: those layers run in the browser too.
 */
const LAYERS = {
  core: { mayImport: [], node: false },
  host: { mayImport: ['core'], node: true },
  worker: { mayImport: ['core'], node: false },
  sw: { mayImport: ['core'], node: false },
  cli: { mayImport: ['core', 'host'], node: true },
  server: { mayImport: ['core', 'host'], node: true },
  app: { mayImport: ['core', 'worker'], node: false },
  // Tests, benchmarks and scripts sit outside the product: they may use it, it never uses them.
  tests: {
    mayImport: ['core', 'host', 'worker', 'sw', 'cli', 'server', 'app', 'scripts'],
    node: true,
  },
  bench: {
    mayImport: ['core', 'host', 'worker', 'cli', 'server', 'app', 'test-support'],
    node: true,
  },
  scripts: { mayImport: ['core', 'host', 'cli'], node: true },
};
const PLACES = [
  ...['core', 'host', 'worker', 'sw', 'cli', 'server', 'app'].map((type) => ({
    type,
    pattern: `src/${type}`,
  })),
  { type: 'test-support', pattern: 'tests/support' },
  { type: 'tests', pattern: 'tests' },
  { type: 'bench', pattern: 'bench' },
  { type: 'scripts', pattern: 'scripts' },
];
const nodeBuiltins = [...new Set(builtinModules.flatMap((name) => [name, `node:${name}`]))];

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
  {
    files: ['src/**/*.{ts,svelte,mjs}', 'tests/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.{ts,mjs}'],
    plugins: { boundaries },
    settings: {
      'boundaries/elements': PLACES,
      'boundaries/dependency-nodes': ['import', 'export', 'dynamic-import'],
    },
    rules: {
      'boundaries/dependencies': [
        'error',
        {
          default: 'allow',
          policies: Object.entries(LAYERS).map(([type, { mayImport }]) => ({
            from: { element: { type } },
            disallow: {
              to: {
                element: {
                  types: {
                    noneOf: [type, ...(type === 'tests' ? ['test-support'] : []), ...mayImport],
                  },
                },
              },
            },
            message: `${type} may import only from ${[type, ...mayImport].join(', ')} (the layers in README.md, "Layout").`,
          })),
        },
      ],
    },
  },
  ...Object.entries(LAYERS)
    .filter(([, { node }]) => !node)
    .map(([type]) => ({
      files: [`src/${type}/**/*.{ts,svelte}`],
      rules: {
        'no-restricted-imports': [
          'error',
          {
            paths: nodeBuiltins.map((name) => ({
              name,
              message: `${type} runs in the browser too: no Node built-ins (README.md, "Layout").`,
            })),
          },
        ],
      },
    })),
  {
    // Globals are declared with `var` (the core's platform, src/core/platform.d.ts).
    files: ['**/*.d.ts'],
    rules: { 'no-var': 'off' },
  },
  {
    // The core runs unchanged in the page, a worker, Node and the server: no Node built-ins, no DOM.
    files: ['src/core/**/*.ts'],
    languageOptions: { globals: { ...globals['shared-node-browser'] } },
    rules: {
      'no-restricted-globals': ['error', 'window', 'document', 'process', 'Buffer', 'localStorage'],
    },
  },
);
