/**
 * The layers (README.md, "Layout") hold by the tools, not by review: each escape below is a
 * file placed in a layer (virtually, never written into src/) and refused by ESLint's layer rule
 * or by that layer's own compiler settings.
 */
import { dirname, join } from 'node:path';
import { ESLint } from 'eslint';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/host/deployment.ts';

const eslint = new ESLint({ cwd: PROJECT_ROOT });

/** ESLint's messages for `code` as if it were the file `path` (relative to the project). */
async function lint(path: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: join(PROJECT_ROOT, path) });
  return (result?.messages ?? []).map((m) => `${m.ruleId}: ${m.message}`);
}

/**
 * The compiler's errors for `code` as the file `path`, checked with the settings of the layer
 * whose tsconfig.json is nearest (as `tsc -b` checks that layer).
 */
function compile(path: string, code: string): string[] {
  const file = join(PROJECT_ROOT, path);
  const configPath = ts.findConfigFile(dirname(file), ts.sys.fileExists)!;
  const config = ts.getParsedCommandLineOfConfigFile(
    configPath,
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: () => {},
    },
  )!;
  const host = ts.createCompilerHost({ ...config.options, noEmit: true });
  const read = host.readFile.bind(host);
  const exists = host.fileExists.bind(host);
  host.readFile = (name) => (name === file ? code : read(name));
  host.fileExists = (name) => name === file || exists(name);
  const program = ts.createProgram({
    rootNames: [...config.fileNames, file],
    options: { ...config.options, noEmit: true, composite: false, emitDeclarationOnly: false },
    host,
    // The layer's references: a file of another layer is seen only through them.
    projectReferences: config.projectReferences ?? [],
  });
  const source = program.getSourceFile(file)!;
  return ts
    .getPreEmitDiagnostics(program, source)
    .map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
}

describe('the import rule', () => {
  it.each([
    [
      'src/core/escape.ts',
      "import { x } from '../../bench/synthetic.ts';",
      'core may import only from core',
    ],
    [
      'src/core/escape.ts',
      "import { x } from '../../tests/support/tools.ts';",
      'core may import only from core',
    ],
    [
      'src/core/escape.ts',
      "import { x } from '../../scripts/deployment-config.ts';",
      'core may import only from core',
    ],
    [
      'src/core/escape.ts',
      "export const m = () => import('../host/files.ts');",
      'core may import only from core',
    ],
    [
      'src/core/escape.ts',
      "export { x } from '../worker/keygen.ts';",
      'core may import only from core',
    ],
    [
      'src/worker/escape.ts',
      "const m = await import('../host/hash.ts');",
      'worker may import only from worker, core',
    ],
    [
      'src/server/escape.ts',
      "import { x } from '../cli/kept-checks.ts';",
      'server may import only from server, core, host',
    ],
    [
      'src/app/escape.ts',
      "import { x } from '../server/app.ts';",
      'app may import only from app, core, worker',
    ],
    [
      'tests/core/escape.test.ts',
      "import { x } from '../../bench/synthetic.ts';",
      'tests may import only from tests',
    ],
  ])('refuses %s: %s', async (path, code, message) => {
    expect((await lint(path, code)).join('\n')).toContain(message);
  });

  it.each(['zlib', 'worker_threads', 'util', 'node:util', 'fs/promises', 'v8'])(
    'refuses the Node built-in %s in the core, the worker, the service worker and the page',
    async (name) => {
      for (const layer of ['core', 'worker', 'sw', 'app']) {
        const messages = await lint(`src/${layer}/escape.ts`, `import '${name}';`);
        expect(messages.join('\n')).toContain(
          `${layer} runs in the browser too: no Node built-ins`,
        );
      }
    },
  );

  it('lets each layer import what it sits on', async () => {
    expect(
      await lint(
        'src/cli/ok.ts',
        "import { x } from '../host/files.ts';\nimport { y } from '../core/bytes.ts';\nvoid x; void y;",
      ),
    ).toEqual([]);
    expect(
      await lint(
        'src/app/ok.ts',
        "import type { X } from '../worker/protocol.ts';\nexport type Y = X;",
      ),
    ).toEqual([]);
    expect(
      await lint(
        'bench/ok.ts',
        "import { random } from '../tests/support/random.ts';\nvoid random;",
      ),
    ).toEqual([]);
  });
});

describe("each layer's compiler settings", () => {
  it.each([
    'navigator.userAgent',
    'fetch("x")',
    'self',
    'caches',
    'document.title',
    'process.env',
    'Buffer.from("")',
  ])(
    'refuses %s in the core, which has the ES libraries and its declared platform only',
    (expression) => {
      const errors = compile('src/core/escape.ts', `export const x = ${expression};`);
      expect(errors.join('\n')).toMatch(/Cannot find name/);
    },
  );

  it('refuses a Node built-in in the core even where ESLint is not run', () => {
    const errors = compile(
      'src/core/escape.ts',
      "import { inflateSync } from 'node:zlib';\nexport const f = inflateSync;",
    );
    expect(errors.join('\n')).toMatch(/Cannot find module 'node:zlib'/);
  });

  it('refuses the DOM in the workers, which have the WebWorker library', () => {
    for (const layer of ['worker', 'sw'])
      expect(
        compile(`src/${layer}/escape.ts`, 'export const t = document.title;').join('\n'),
      ).toMatch(/Cannot find name 'document'/);
  });

  it('accepts what the core declares it may use', () => {
    expect(
      compile(
        'src/core/ok.ts',
        'export const x = new TextEncoder().encode("a"); export const y = globalThis.crypto?.subtle;',
      ),
    ).toEqual([]);
  });
});
