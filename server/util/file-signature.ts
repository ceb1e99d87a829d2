import { stat } from 'node:fs/promises';

/**
 * What changes when a file is replaced or rewritten (inode, size, mtime); 'missing' when absent. Files that are
 * followed by polling this (key files, the clients file) are re-read only when it changes.
 */
export async function statSignature(file: string): Promise<string> {
  const st = await stat(file).catch(() => undefined);
  return st ? `${st.ino}:${st.size}:${st.mtimeMs}` : 'missing';
}
