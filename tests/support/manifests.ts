/**
 * A test deployment's `manifest.json` brought in line with the bases now in its folder, after a
 * test has put another base in one's place: each entry's size and SHA-256 from the file itself,
 * and, where a test says so, another layout (docs/formats.md, "Base installers").
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function restampManifest(dir: string, layouts: Record<string, string> = {}): void {
  const path = join(dir, 'manifest.json');
  const manifest = JSON.parse(readFileSync(path, 'utf8')) as {
    bases: { file: string; size: number; sha256: string; layout?: string }[];
  };
  for (const entry of manifest.bases) {
    const bytes = readFileSync(join(dir, entry.file));
    entry.size = bytes.length;
    entry.sha256 = createHash('sha256').update(bytes).digest('hex');
    const layout = layouts[entry.file];
    if (layout !== undefined) entry.layout = layout;
  }
  writeFileSync(path, JSON.stringify(manifest));
}
