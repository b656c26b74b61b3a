/**
 * Where a worker thread's module is. Compiled, it is `<name>.mjs` in dist-node/, next to the chunk
 * holding the caller (scripts/build-node.mjs builds each worker as an entry of its own). From the
 * sources (tsx, vitest) it is `<name>.ts`, which plain Node cannot load: a one-line bootstrap loads
 * it through tsx's tsImport instead (a worker ignores --import).
 */
const FROM_SOURCES = import.meta.url.endsWith('.ts');

export function workerUrl(name: string): URL {
  if (!FROM_SOURCES) return new URL(`./${name}.mjs`, import.meta.url);
  const entry = new URL(`./${name}.ts`, import.meta.url).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  const bootstrap = `import { tsImport } from ${JSON.stringify(tsx)}; await tsImport(${JSON.stringify(entry)}, ${JSON.stringify(entry)});`;
  return new URL(`data:text/javascript,${encodeURIComponent(bootstrap)}`);
}
