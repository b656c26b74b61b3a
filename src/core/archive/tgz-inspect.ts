/**
 * Listing a tgz's entries with their contents, for `cib prepare-base` (which checks a rewrite
 * kept every entry) and the tests: gunzip with every member's CRC-32 checked, then the one tar
 * reader (TarScanner), pax and GNU long names applied.
 */
import { concatBytes } from '../bytes.ts';
import { gunzipChecked } from './gzip.ts';
import { TarScanner, normalizeEntryName } from './tar.ts';

export interface TgzEntry {
  path: string;
  type: string;
  mode: number;
  /** Seconds since the epoch. */
  mtime: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  size: number;
  linkname: string;
  data?: Uint8Array;
}

/** ustar typeflags by name: the strict profile lets only files (`0`) and folders (`5`) through. */
const TYPE_NAMES: Record<string, string> = { '5': 'directory' };

/** Every entry of a tgz, in archive order, after checking every gzip member's CRC-32. */
export async function readTgzEntries(base: Uint8Array): Promise<TgzEntry[]> {
  const entries: TgzEntry[] = [];
  let current: TgzEntry | undefined;
  let chunks: Uint8Array[] = [];
  const close = () => {
    if (current?.type === 'file') current.data = concatBytes(chunks);
    chunks = [];
  };
  const scanner = new TarScanner(() => {}, undefined, {
    owners: true,
    entry(info) {
      close();
      current = {
        path: info.name,
        type: TYPE_NAMES[info.typeflag] ?? 'file',
        mode: info.mode,
        mtime: info.mtime,
        uid: info.owner?.uid ?? 0,
        gid: info.owner?.gid ?? 0,
        uname: info.owner?.uname ?? '',
        gname: info.owner?.gname ?? '',
        size: info.size,
        linkname: info.linkname,
      };
      entries.push(current);
      return current.type === 'file';
    },
    data(chunk) {
      chunks.push(chunk.slice());
    },
  });
  scanner.push(gunzipChecked(base));
  scanner.finish();
  close();
  return entries;
}

/** The bytes of one file in a tgz (the last entry of that name, as tar extracts it), or undefined. */
export async function readTgzFile(base: Uint8Array, path: string): Promise<Uint8Array | undefined> {
  const wanted = normalizeEntryName(path);
  const entries = await readTgzEntries(base);
  return entries.reverse().find((e) => normalizeEntryName(e.path) === wanted && e.type === 'file')
    ?.data;
}
