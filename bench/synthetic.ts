/**
 * The synthetic base-installer content the archive benchmarks share (README, "Benchmarks"): about
 * 32 MiB, thousands of source-like text files plus a few incompressible ones, all under `seattle/`.
 * Deterministic from the seed, so every run and every suite measures the same bytes.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeBases, type MadeBases } from '../src/core/archive/build-bases.ts';
import { generateKeyPair } from '../src/core/keygen.ts';
import {
  parsePrivateKey,
  parsePublicKey,
  type PrivateKey,
  type PublicKey,
} from '../src/core/keys.ts';
import { PROJECT_ROOT } from '../src/host/deployment.ts';
import { random } from '../tests/support/random.ts';

export interface SyntheticFile {
  path: string;
  data: Uint8Array;
  mode: number;
}

const TEXT_FILES = 3000;
const TEXT_BYTES_EACH = 8 * 1024; // about 24 MiB of text in all
const BINARY_FILES = 8;
const BINARY_BYTES_EACH = 1024 * 1024; // 8 MiB that deflate cannot shrink

const WORDS = [
  'def',
  'return',
  'import',
  'self',
  'vessel',
  'node',
  'resource',
  'key',
  'for',
  'in',
  'if',
  'else',
  'while',
  'try',
  'except',
  'raise',
  'None',
  'True',
  'False',
  'lock',
  'socket',
  'port',
  'timeout',
  'update',
  'manifest',
  'signature',
  'percent',
  'owner',
  'user',
  'install',
  'config',
  'log',
];
const DIRS = ['seattle_repy', 'seattle_repy/repy', 'seattle_repy/nodemanager', 'seattle_repy/lib'];

function sourceText(next: () => number, bytes: number): string {
  const lines: string[] = [];
  let length = 0;
  while (length < bytes) {
    const depth = next() % 3;
    const words = 3 + (next() % 8);
    let line = '    '.repeat(depth);
    for (let w = 0; w < words; w++) {
      line += (w ? ' ' : '') + WORDS[next() % WORDS.length]!;
      if (next() % 5 === 0) line += `_${next() % 1000}`;
    }
    line += next() % 4 === 0 ? ':' : ` = ${next() % 65536}`;
    lines.push(line);
    length += line.length + 1;
  }
  return lines.join('\n').slice(0, bytes);
}

export interface TreeShape {
  textFiles: number;
  /** Text files are between half of this and one and a half times it. */
  textBytesEach: number;
  binaryFiles: number;
  binaryBytesEach: number;
}

/** The archive benchmarks' 32 MiB tree. */
export const LARGE_TREE: TreeShape = {
  textFiles: TEXT_FILES,
  textBytesEach: TEXT_BYTES_EACH,
  binaryFiles: BINARY_FILES,
  binaryBytesEach: BINARY_BYTES_EACH,
};

/** About the size of a real Seattle base: some 330 files, a 600 KB tgz. */
export const SMALL_TREE: TreeShape = {
  textFiles: 328,
  textBytesEach: 4 * 1024,
  binaryFiles: 1,
  binaryBytesEach: 128 * 1024,
};

/** Every file of the synthetic tree, in a stable order; paths are below 100 bytes (plain ustar). */
export function syntheticTree(seed = 1, shape: TreeShape = LARGE_TREE): SyntheticFile[] {
  const next = random(seed);
  const encoder = new TextEncoder();
  const files: SyntheticFile[] = [];
  for (let i = 0; i < shape.textFiles; i++) {
    const dir = DIRS[i % DIRS.length]!;
    const size = shape.textBytesEach / 2 + (next() % shape.textBytesEach);
    files.push({
      path: `seattle/${dir}/module_${i}.py`,
      data: encoder.encode(sourceText(next, size)),
      mode: 0o644,
    });
  }
  for (let i = 0; i < shape.binaryFiles; i++) {
    const data = new Uint8Array(shape.binaryBytesEach);
    const words = new Uint32Array(data.buffer);
    for (let j = 0; j < words.length; j++) words[j] = next();
    files.push({ path: `seattle/seattle_repy/blob_${i}.bin`, data, mode: 0o644 });
  }
  files.push({
    path: 'seattle/install.sh',
    data: encoder.encode('#!/bin/sh\necho "synthetic base"\n'),
    mode: 0o755,
  });
  return files;
}

/**
 * The demo update key pair the committed demo bases are signed with. A deployment trusts it only
 * while every base it serves is signed by it (docs/keys.md).
 */
export function demoUpdateKeys() {
  const text = (name: string) => readFileSync(join(PROJECT_ROOT, 'demo/update-keys', name), 'utf8');
  return {
    publicKey: parsePublicKey(text('demo.publickey')).key!,
    privateKey: parsePrivateKey(text('demo.privatekey')).key!,
  };
}

export interface UpdateKeyPair {
  publicKey: PublicKey;
  privateKey: PrivateKey;
}

/**
 * A throwaway update key pair for bases that leave a demo deployment (a bench trusts it through
 * UPDATE_KEYS, as an operator trusts their own).
 */
export async function benchUpdateKeys(): Promise<UpdateKeyPair & { text: string }> {
  const pair = await generateKeyPair(1024);
  return {
    publicKey: parsePublicKey(pair.publicKey).key!,
    privateKey: parsePrivateKey(pair.privateKey).key!,
    text: pair.publicKey,
  };
}

/**
 * The synthetic tree as real bases: made by make-base (so signed, with the demo update key unless
 * `keys` is given, as every build now checks), `seattle/seattle_repy/` as the program and the rest
 * as each platform's.
 */
export function syntheticBases(
  shape: TreeShape = LARGE_TREE,
  keys: UpdateKeyPair = demoUpdateKeys(),
): MadeBases {
  const files = syntheticTree(1, shape).flatMap((f) => {
    const rest = f.path.slice('seattle/'.length);
    return rest.startsWith('seattle_repy/')
      ? [{ ...f, path: rest }]
      : ['linux', 'mac', 'windows', 'android'].map((p) => ({ ...f, path: `${p}/${rest}` }));
  });
  return makeBases({
    files,
    publicKey: keys.publicKey,
    privateKey: keys.privateKey,
    timestamp: 1_700_000_000,
    version: 'bench',
  });
}
