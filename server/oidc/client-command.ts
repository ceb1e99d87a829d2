import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { z } from 'zod';
import { DEMO_CLIENT_ID } from '../config/oidc-client.js';
import { newSecret } from '../logins/ids.js';
import { type ClientEntry, clientListProblems, ClientSchema } from './clients.js';
import { devClientsPath, parseClientsFile } from './clients-file.js';

export const CLIENT_USAGE = `usage: scanlogin client add --name <name> --redirect-uri <url> [--redirect-uri <url>…] [--public]
  Registers a site as an OpenID Connect client in OIDC_CLIENTS_FILE (default .scanlogin/clients.json, the file
  npm start reads and never writes) with a generated client_id and client_secret, and prints them. A running
  npm start picks it up within a second. --public: no secret (a browser or mobile app; PKCE is then required).`;

/**
 * `scanlogin client add`: appends one client to the clients file and prints its id and secret. The id is the
 * name made into an id (`My site` → `my-site`, then `my-site-2`…), never one in use. A file that is not a valid
 * clients file is left exactly as it is (exit 2): fixing it is the developer's call, not ours. Returns the exit code.
 */
export function runClientCommand(
  argv: string[],
  env: NodeJS.ProcessEnv,
  cwd: string,
  out: (line: string) => void,
  err: (line: string) => void,
): number {
  let values: { name?: string; 'redirect-uri'?: string[]; public?: boolean };
  try {
    const parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        name: { type: 'string' },
        'redirect-uri': { type: 'string', multiple: true },
        public: { type: 'boolean' },
      },
    });
    if (parsed.positionals.join(' ') !== 'add') throw new Error('the only client command is "add"');
    values = parsed.values;
  } catch (e) {
    err(`${(e as Error).message}\n${CLIENT_USAGE}`);
    return 2;
  }
  const file = path.resolve(cwd, env.OIDC_CLIENTS_FILE || devClientsPath(cwd));
  const shown = path.relative(cwd, file).startsWith('..') ? file : path.relative(cwd, file);
  let clients: ClientEntry[];
  try {
    clients = readClients(file, shown);
  } catch (e) {
    err(`${(e as Error).message}\nNothing was changed: fix ${shown} (or move it away) and run the command again.`);
    return 2;
  }
  const name = values.name?.trim();
  const redirectUris = values['redirect-uri'] ?? [];
  if (!name || redirectUris.length === 0) {
    err(`--name and at least one --redirect-uri are required\n${CLIENT_USAGE}`);
    return 2;
  }
  const taken = new Set([DEMO_CLIENT_ID, env.OIDC_CLIENT_ID, ...clients.map((c) => c.client_id)]);
  const parsed = ClientSchema.safeParse({
    client_id: freeId(name, taken),
    ...(!values.public && { client_secret: newSecret() }),
    client_name: name,
    redirect_uris: redirectUris,
    // Where RP-initiated logout may return: the root of each redirect URI's origin, as for OIDC_CLIENT_*.
    post_logout_redirect_uris: [
      ...new Set(redirectUris.flatMap((u) => (URL.parse(u) ? [`${URL.parse(u)!.origin}/`] : []))),
    ],
  });
  if (!parsed.success) {
    err(flagProblems(parsed.error).join('\n'));
    return 2;
  }
  const client = parsed.data;
  const problems = clientListProblems([...clients, client]);
  if (problems.length) {
    err(`${shown}: ${problems.join('; ')}`);
    return 2;
  }
  writeClients(file, [...clients, client]);
  out(`Added "${name}" to ${shown}: a running npm start picks it up within a second, and every later one reads it.`);
  out(`  CLIENT_ID=${client.client_id}`);
  if (client.client_secret) out(`  CLIENT_SECRET=${client.client_secret}`);
  else out('  (a public client: no secret; PKCE S256 is required)');
  for (const uri of client.redirect_uris) out(`  redirect URI: ${uri}`);
  return 0;
}

/** The file's clients; none when it does not exist yet. Throws (naming the file) when it is not a clients file. */
function readClients(file: string, shown: string): ClientEntry[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new Error(`${shown}: ${(e as Error).message}`);
  }
  return parseClientsFile(text, shown);
}

/** Written whole and renamed into place (a running http role never reads half a file); readable by its owner only. */
function writeClients(file: string, clients: ClientEntry[]): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify({ clients }, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, file);
}

/** `My Site!` → `my-site`, or `my-site-2`, `my-site-3`… when taken; `site` when the name has no letters or digits. */
function freeId(name: string, taken: ReadonlySet<string | undefined>): string {
  const base =
    name
      .normalize('NFKD')
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 60) || 'site';
  if (!taken.has(base)) return base;
  for (let n = 2; ; n++) if (!taken.has(`${base}-${n}`)) return `${base}-${n}`;
}

/** Schema problems named by the flag that caused them. */
function flagProblems(error: z.ZodError): string[] {
  const flags: Record<string, string> = {
    redirect_uris: '--redirect-uri',
    post_logout_redirect_uris: '--redirect-uri',
    client_name: '--name',
  };
  return error.issues.map((i) => `${flags[String(i.path[0])] ?? String(i.path[0])}: ${i.message}`);
}
