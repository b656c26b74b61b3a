/**
 * CRC-32 (ISO 3309, polynomial 0xEDB88320, reflected, pre- and post-inverted) as gzip (RFC 1952
 * §8) and zip (APPNOTE 4.4.7) use it, from SheetJS's `crc-32` (slicing by 16; measured faster
 * here than a hand-written slicing-by-8 table: 32 ms against 53 ms for 32 MiB).
 */
import CRC32 from 'crc-32';

/** Continues a CRC-32 over `data`: start with 0, pass the previous result to continue. */
export function crc32(data: Uint8Array, previous = 0): number {
  return CRC32.buf(data, previous | 0) >>> 0;
}
