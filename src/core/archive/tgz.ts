/**
 * gzip-compressed tar installers (linux, mac): writing bases in the append-ready layout, turning
 * any tgz into that layout, and adding `seattle/seattle_repy/vesselinfo`
 * (docs/formats.md#append-ready-tgz). The work is split in three: the layout itself and its
 * detection (tgz-layout.ts), customising whole or streamed (tgz-stream.ts), and listing entries
 * (tgz-inspect.ts); this module is their one public face.
 */
export { VESSELINFO_PATH } from './vesselinfo-entries.ts';
export {
  BASE_LEVEL,
  GENERIC_LEVEL,
  VESSELINFO_MODE,
  isAppendReady,
  makeAppendReady,
  writeAppendReadyTgz,
  type TgzEntryInput,
} from './tgz-layout.ts';
export {
  GenericCustomizer,
  customizeTgz,
  customizeTgzParts,
  customizeTgzStream,
  type CustomizeTgzOptions,
} from './tgz-stream.ts';
export { readTgzEntries, readTgzFile, type TgzEntry } from './tgz-inspect.ts';
