/**
 * The platform the core may use: what browsers' pages and workers and Node.js 20 all provide, and
 * nothing more. The core's compiler settings (src/core/tsconfig.json) give it the ES libraries
 * only, no DOM and no Node types, so a use of `navigator`, `fetch`, `caches`, `self` or a Node
 * built-in in the core fails to compile. A new need is declared here, after checking that every
 * place the core runs has it (README.md, "Layout").
 */

interface TextDecoder {
  decode(input?: Uint8Array): string;
}
declare var TextDecoder: {
  new (label?: string, options?: { fatal?: boolean; ignoreBOM?: boolean }): TextDecoder;
};

interface TextEncoder {
  encode(input?: string): Uint8Array<ArrayBuffer>;
}
declare var TextEncoder: { new (): TextEncoder };

interface ReadableStreamReadResult<R> {
  done: boolean;
  value: R;
}
interface ReadableStreamDefaultReader<R> {
  read(): Promise<{ done: false; value: R } | { done: true; value?: undefined }>;
  cancel(reason?: unknown): Promise<void>;
  releaseLock(): void;
}
interface ReadableStreamDefaultController<R> {
  enqueue(chunk: R): void;
  close(): void;
  error(reason?: unknown): void;
}
interface ReadableStream<R = unknown> {
  getReader(): ReadableStreamDefaultReader<R>;
  pipeThrough<T>(transform: {
    readable: ReadableStream<T>;
    writable: WritableStream<R>;
  }): ReadableStream<T>;
  cancel(reason?: unknown): Promise<void>;
}
declare var ReadableStream: {
  new <R = unknown>(source?: {
    start?(controller: ReadableStreamDefaultController<R>): void | Promise<void>;
    pull?(controller: ReadableStreamDefaultController<R>): void | Promise<void>;
    cancel?(reason?: unknown): void | Promise<void>;
  }): ReadableStream<R>;
};

interface WritableStreamDefaultWriter<W> {
  write(chunk: W): Promise<void>;
  close(): Promise<void>;
  abort(reason?: unknown): Promise<void>;
  releaseLock(): void;
}
interface WritableStream<W = unknown> {
  getWriter(): WritableStreamDefaultWriter<W>;
}

interface TransformStreamDefaultController<O> {
  enqueue(chunk: O): void;
  error(reason?: unknown): void;
  terminate(): void;
}
interface TransformStream<I = unknown, O = unknown> {
  readonly readable: ReadableStream<O>;
  readonly writable: WritableStream<I>;
}
declare var TransformStream: {
  new <I = unknown, O = unknown>(transformer?: {
    start?(controller: TransformStreamDefaultController<O>): void | Promise<void>;
    transform?(chunk: I, controller: TransformStreamDefaultController<O>): void | Promise<void>;
    flush?(controller: TransformStreamDefaultController<O>): void | Promise<void>;
  }): TransformStream<I, O>;
};

/** Native inflate (gzip and raw deflate); docs/formats.md says where the core relies on it. */
interface DecompressionStream {
  readonly readable: ReadableStream<Uint8Array<ArrayBuffer>>;
  readonly writable: WritableStream<Uint8Array<ArrayBuffer>>;
}
declare var DecompressionStream: {
  new (format: 'gzip' | 'deflate' | 'deflate-raw'): DecompressionStream;
};

/** A file's bytes, read as a stream (a dropped file in the page, a file on disk in Node). */
interface Blob {
  readonly size: number;
  slice(start?: number, end?: number): Blob;
  stream(): ReadableStream<Uint8Array<ArrayBuffer>>;
  arrayBuffer(): Promise<ArrayBuffer>;
}

/** The members of a JSON Web Key the key generator reads (RFC 7517, 7518 section 6.3). */
interface JsonWebKey {
  kty?: string;
  n?: string;
  e?: string;
  d?: string;
  p?: string;
  q?: string;
}

interface CryptoKey {
  readonly type: string;
}
interface CryptoKeyPair {
  privateKey: CryptoKey;
  publicKey: CryptoKey;
}
interface SubtleCrypto {
  digest(algorithm: 'SHA-1' | 'SHA-256', data: Uint8Array<ArrayBuffer>): Promise<ArrayBuffer>;
  generateKey(
    algorithm: {
      name: 'RSASSA-PKCS1-v1_5';
      modulusLength: number;
      publicExponent: Uint8Array;
      hash: 'SHA-256';
    },
    extractable: boolean,
    usages: ('sign' | 'verify')[],
  ): Promise<CryptoKeyPair>;
  exportKey(format: 'jwk', key: CryptoKey): Promise<JsonWebKey>;
}
interface Crypto {
  /** Missing on pages served over plain http from a non-local host. */
  readonly subtle?: SubtleCrypto;
  getRandomValues<T extends Uint8Array>(array: T): T;
}
declare var crypto: Crypto | undefined;

declare function setTimeout(handler: () => void, milliseconds?: number): unknown;
