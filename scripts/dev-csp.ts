import type { Plugin } from 'vite';

/**
 * The dev server injects component styles as inline <style> elements (hot reload), which the
 * production policy in index.html forbids (`style-src 'self'`). In `vite` dev only, this adds
 * 'unsafe-inline' to style-src; `vite build` keeps the strict policy untouched.
 */
export function devCspRelax(): Plugin {
  return {
    name: 'cib-dev-csp-relax',
    apply: 'serve',
    transformIndexHtml(html) {
      return html.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'");
    },
  };
}
