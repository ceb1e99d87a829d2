import { existsSync, linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import { parseJsonText } from '../util/json-text.js';

/** A private signing key as a JWK (RSA: what `RS256`, the id_token default every client supports, needs). */
export type SigningJwk = JWK & { kid: string; kty: 'RSA'; d: string };

export interface SigningKeys {
  readonly keys: readonly SigningJwk[];
  /** Where they came from: a file path, or "ephemeral" (development without a key file). */
  readonly source: string;
}

/**
 * Reads a JWKS file (`{"keys":[…]}`, private RSA keys). The first key signs; every key stays published in
 * `/oidc/jwks`, so tokens signed by a key that moved to second place keep verifying until they expire:
 * rotation is "add the new key first, keep the old one second, remove it a token lifetime later".
 * Throws one message naming the file and each problem.
 */
export async function readJwksFile(file: string): Promise<SigningKeys> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`${file}: cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const json = parseJsonText(text, file);
  const list = (json as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(list) || list.length === 0)
    throw new Error(`${file}: expected {"keys":[…]} with at least one key`);
  const problems: string[] = [];
  const keys: SigningJwk[] = [];
  const kids = new Set<string>();
  for (const [i, raw] of list.entries()) {
    const k = raw as JWK;
    if (k?.kty !== 'RSA' || typeof k.n !== 'string' || typeof k.d !== 'string') {
      problems.push(`keys[${i}]: must be a private RSA key (kty "RSA" with "n" and "d")`);
      continue;
    }
    if (Buffer.from(k.n, 'base64url').length < 256) problems.push(`keys[${i}]: RSA keys must be at least 2048 bits`);
    if (k.use !== undefined && k.use !== 'sig') problems.push(`keys[${i}]: "use" must be "sig"`);
    const kid = k.kid ?? (await calculateJwkThumbprint(k));
    if (kids.has(kid)) problems.push(`keys[${i}]: kid ${kid} appears twice`);
    kids.add(kid);
    keys.push({ ...k, kid, kty: 'RSA', d: k.d, use: 'sig', alg: 'RS256' } as SigningJwk);
  }
  if (problems.length) throw new Error(`${file}: ${problems.join('; ')}`);
  return { keys, source: file };
}

/** A new 2048-bit RSA signing key with a kid. */
export async function generateSigningKey(): Promise<SigningJwk> {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true, modulusLength: 2048 });
  const jwk = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint(jwk);
  return { ...jwk, kid, use: 'sig', alg: 'RS256' } as SigningJwk;
}

/**
 * A signing key file at `file` unless one is there: `npm start`'s `.scanlogin/dev-jwks.json`, and `scanlogin keys FILE`
 * (the compose files' key volume). Generated once and kept (mode 0600), so tokens and clients' cached keys survive
 * restarts and every process reading the file signs alike. Written beside the target and linked into place: a
 * second writer racing this one finds the first one's complete file and keeps it, never a half-written one.
 */
export async function ensureJwksFile(file: string): Promise<'created' | 'kept'> {
  if (existsSync(file)) return 'kept';
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify({ keys: [await generateSigningKey()] }, null, 2)}\n`, { mode: 0o600 });
  try {
    linkSync(tmp, file);
    return 'created';
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return 'kept';
    throw err;
  } finally {
    unlinkSync(tmp);
  }
}

/** `npm start`: the development JWKS (see ensureJwksFile). Returns the file's path. */
export async function ensureDevJwks(file: string): Promise<string> {
  await ensureJwksFile(file);
  return file;
}
