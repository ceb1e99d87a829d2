import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { parseJsonText } from '../util/json-text.js';
import { ClientSchema, type ClientEntry } from './clients.js';

/**
 * OIDC_CLIENTS_FILE: `{"clients": [ … ]}`, the same fields as CONFIG_FILE's `oidc.clients`. It is the developer's
 * (or the operator's) own file: `npm start` points the http role at `.scanlogin/clients.json` and never writes
 * it; `scanlogin client add` appends to it. The http role follows it like CONFIG_FILE (a stat poll), so a client
 * added while the stack runs signs in within a second.
 */
const ClientsFileSchema = z.strictObject({ clients: z.array(ClientSchema) });

/** Where `npm start` and `scanlogin client add` keep a developer's clients, unless OIDC_CLIENTS_FILE says. */
export function devClientsPath(cwd = process.cwd()): string {
  return path.join(cwd, '.scanlogin', 'clients.json');
}

/** The clients in a clients file's text; throws one message naming the file and every problem. */
export function parseClientsFile(text: string, file: string): ClientEntry[] {
  const parsed = ClientsFileSchema.safeParse(parseJsonText(text, file));
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(top level)'}: ${i.message}`);
    throw new Error(`${file}: ${problems.join('; ')}`);
  }
  return parsed.data.clients;
}

/** The file's text, or undefined while it does not exist (no clients yet: not an error). */
export async function readClientsText(file: string): Promise<string | undefined> {
  return readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw new Error(`${file}: ${err.message}`);
  });
}
