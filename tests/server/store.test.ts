import { execFile } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { buildId } from '../../src/core/buildid.ts';
import type { ResolvedConfig } from '../../src/core/build-config.ts';
import { CibError } from '../../src/core/problems.ts';
import {
  FileBuildStore,
  MAX_RECORD_BYTES,
  RECORD_FORMAT,
  type BuildRecord,
} from '../../src/server/store.ts';
import { ROOT } from './helpers.ts';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cib-store-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function recordOf(owner: string, key = '3 1000003'): BuildRecord {
  const resolved: ResolvedConfig = {
    vessels: [{ percentage: 80, owner, users: [] }],
    publicKeys: { [owner]: key },
    reservedShare: 20,
    reservedKey: '5 77777',
  };
  const id = buildId(resolved);
  return { format: RECORD_FORMAT, build_id: id, resolved };
}

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name));
}

describe('FileBuildStore', () => {
  it('writes one content-addressed JSON file per build and reads it back', async () => {
    const dir = tempDir();
    const store = new FileBuildStore(dir);
    const record = recordOf('alice');
    await store.put(record.build_id, record);
    const file = join(dir, 'builds', record.build_id.slice(0, 2), `${record.build_id}.json`);
    expect(filesUnder(dir)).toEqual([file]);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(record);
    expect(await store.get(record.build_id)).toEqual(record);
    expect(await new FileBuildStore(dir).get(record.build_id)).toEqual(record);
  });

  it('leaves an intact record in place when the same build is stored again, only touching it', async () => {
    const dir = tempDir();
    const store = new FileBuildStore(dir);
    const record = recordOf('alice');
    await store.put(record.build_id, record);
    const file = join(dir, 'builds', record.build_id.slice(0, 2), `${record.build_id}.json`);
    const before = statSync(file);
    await Promise.all([
      store.put(record.build_id, record),
      new FileBuildStore(dir).put(record.build_id, record),
    ]);
    const after = statSync(file);
    expect(after.ino).toBe(before.ino);
    expect(after.mtimeMs).toBeGreaterThanOrEqual(before.mtimeMs);
  });

  it('rewrites a damaged record when the same build is stored again', async () => {
    const dir = tempDir();
    const store = new FileBuildStore(dir);
    const record = recordOf('alice');
    const file = join(dir, 'builds', record.build_id.slice(0, 2), `${record.build_id}.json`);
    await store.put(record.build_id, record);
    const whole = readFileSync(file, 'utf8');
    // Truncated, then the same length with one key digit changed: both are caught when read.
    for (const damaged of [whole.slice(0, 40), whole.replace('1000003', '1000005')]) {
      writeFileSync(file, damaged);
      await expect(store.get(record.build_id)).rejects.toMatchObject({
        code: 'store.record.corrupt',
      });
      await store.put(record.build_id, record);
      expect(readFileSync(file, 'utf8')).toBe(whole);
      expect(await store.get(record.build_id)).toEqual(record);
    }
  });

  it(`refuses to store a record over ${MAX_RECORD_BYTES} bytes and never reads one whole`, async () => {
    const dir = tempDir();
    const store = new FileBuildStore(dir);
    const huge = recordOf('alice', `3 1${'0'.repeat(MAX_RECORD_BYTES)}3`);
    await expect(store.put(huge.build_id, huge)).rejects.toMatchObject({
      code: 'store.record.too-large',
    });
    expect(filesUnder(dir)).toEqual([]);
    const record = recordOf('bob');
    await store.put(record.build_id, record);
    const file = join(dir, 'builds', record.build_id.slice(0, 2), `${record.build_id}.json`);
    writeFileSync(file, ' '.repeat(MAX_RECORD_BYTES + 1));
    await expect(store.get(record.build_id)).rejects.toMatchObject({
      code: 'store.record.corrupt',
    });
  });

  it('removes temp files a crash left at start, never those of a write in progress', async () => {
    const dir = tempDir();
    const shard = join(dir, 'builds', 'ab');
    mkdirSync(shard, { recursive: true });
    const dead = join(shard, '.tmp-999999999-aaaaaa-x');
    const oldOwn = join(shard, `.tmp-${process.pid}-bbbbbb-x`);
    const liveOwn = join(shard, `.tmp-${process.pid}-cccccc-x`);
    for (const file of [dead, oldOwn, liveOwn]) writeFileSync(file, '{"partial');
    const hourAgo = new Date(Date.now() - 3_600_000);
    utimesSync(oldOwn, hourAgo, hourAgo);
    const store = new FileBuildStore(dir);
    try {
      expect(await store.prestart()).toBe(2);
    } finally {
      await store.close();
    }
    expect(filesUnder(dir)).toEqual([liveOwn]);
  });

  it('stores a batch of concurrent puts completely, leaving no temp files', async () => {
    const dir = tempDir();
    const store = new FileBuildStore(dir);
    const records = Array.from({ length: 300 }, (_, i) => recordOf(`user${i}`));
    await Promise.all(records.map((r) => store.put(r.build_id, r)));
    expect(filesUnder(dir).length).toBe(300);
    expect(filesUnder(dir).every((f) => f.endsWith('.json') && !f.includes('.tmp'))).toBe(true);
    for (const r of records) expect(await store.get(r.build_id)).toEqual(r);
  });

  it('refuses malformed ids before touching the file system', async () => {
    const dir = join(tempDir(), 'data');
    const store = new FileBuildStore(dir);
    for (const id of [
      '../../etc/passwd',
      '..',
      'A'.repeat(40),
      'a'.repeat(39),
      `${'a'.repeat(39)}/`,
    ]) {
      await expect(store.get(id)).rejects.toThrow(CibError);
      await expect(store.put(id, recordOf('alice'))).rejects.toThrow(CibError);
    }
    expect(existsSync(dir)).toBe(false);
  });

  it('answers undefined for an unknown build and refuses a corrupt record', async () => {
    const dir = tempDir();
    const store = new FileBuildStore(dir);
    const record = recordOf('alice');
    expect(await store.get(record.build_id)).toBeUndefined();
    await store.put(record.build_id, record);
    writeFileSync(
      join(dir, 'builds', record.build_id.slice(0, 2), `${record.build_id}.json`),
      '{"format"',
    );
    await expect(store.get(record.build_id)).rejects.toMatchObject({
      code: 'store.record.corrupt',
    });
  });

  it('is shared safely by several processes writing the same builds at once', async () => {
    const dir = tempDir();
    const script = join(dir, 'writer.mts');
    writeFileSync(
      script,
      `import { buildId } from ${JSON.stringify(join(ROOT, 'src/core/buildid.ts'))};
import { FileBuildStore, RECORD_FORMAT } from ${JSON.stringify(join(ROOT, 'src/server/store.ts'))};
const store = new FileBuildStore(process.argv[2]);
await Promise.all(Array.from({ length: 200 }, (_, i) => {
  const resolved = { vessels: [{ percentage: 80, owner: 'user' + i, users: [] }], publicKeys: { ['user' + i]: '3 1000003' }, reservedShare: 20, reservedKey: '5 77777' };
  const id = buildId(resolved);
  return store.put(id, { format: RECORD_FORMAT, build_id: id, resolved });
}));
`,
    );
    const run = promisify(execFile);
    const tsx = join(ROOT, 'node_modules/.bin/tsx');
    await Promise.all([1, 2, 3].map(() => run(tsx, [script, join(dir, 'data')])));
    const files = filesUnder(join(dir, 'data'));
    expect(files.length).toBe(200);
    const store = new FileBuildStore(join(dir, 'data'));
    for (let i = 0; i < 200; i++) {
      const expected = recordOf(`user${i}`);
      expect(await store.get(expected.build_id)).toEqual(expected);
    }
  });
});
