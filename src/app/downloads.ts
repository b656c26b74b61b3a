/** Key bundles (docs/formats.md#keys) and saving files; JSZip and file-saver load only when first needed. */

export interface KeyHolder {
  name: string;
  publicKey: string;
  privateKey?: string;
}

export const PUBLIC_KEYS_ZIP = 'public_keys.zip';
export const PRIVATE_KEYS_ZIP = 'private_keys.zip';
const PUBLIC_FOLDER = 'public_keys';
const PRIVATE_FOLDER = 'private_keys';

async function zipOf(folder: string, files: { name: string; text: string }[]): Promise<Blob> {
  const { default: JSZip } = await import('jszip');
  const zip = new JSZip();
  const dir = zip.folder(folder);
  if (!dir) throw new Error(`Could not create the folder ${folder}/ in the zip file.`);
  for (const file of files) dir.file(file.name, file.text);
  return zip.generateAsync({ type: 'blob', compression: 'DEFLATE', mimeType: 'application/zip' });
}

/** `public_keys.zip`: `public_keys/<name>.publickey` for every user. */
export function publicKeysZip(holders: readonly KeyHolder[]): Promise<Blob> {
  return zipOf(
    PUBLIC_FOLDER,
    holders.map((h) => ({ name: `${h.name}.publickey`, text: h.publicKey })),
  );
}

/** `private_keys.zip`: `private_keys/<name>.privatekey` for every key generated here. */
export function privateKeysZip(holders: readonly KeyHolder[]): Promise<Blob> {
  const files = holders.flatMap((h) =>
    h.privateKey ? [{ name: `${h.name}.privatekey`, text: h.privateKey }] : [],
  );
  return zipOf(PRIVATE_FOLDER, files);
}

/** Hands a finished file to the browser's download machinery. */
export async function saveFile(data: Blob | Uint8Array, fileName: string): Promise<void> {
  const { saveAs } = await import('file-saver');
  const blob =
    data instanceof Blob
      ? data
      : new Blob([data as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' });
  saveAs(blob, fileName);
}

/** Loads the saving code ahead of the first click, so that click only has to save. */
export function prepareSaving(): void {
  void import('file-saver').catch(() => undefined);
}
