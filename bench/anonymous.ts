/**
 * What one anonymous request makes Redis keep, and for how long: the provider's `/authorize` (a sign-in request)
 * and `/oidc/logout` with no session, against the reference of creating a login (`POST /api/logins`, the other
 * thing anyone may do without a secret). Bytes are Redis' own `MEMORY USAGE` of every key the requests left,
 * divided by the requests; the lifetime is the longest TTL among those keys.
 */
import http from 'node:http';
import { Redis } from 'ioredis';
import { DEV_DEFAULTS, loadConfig } from '../server/config.js';
import { silentLogger } from '../server/log.js';
import { startRedisServer } from '../server/dev/redis-server.js';
import { runHttp } from '../server/roles/http.js';
import { freePort } from '../server/util/free-port.js';

export interface KeptRow {
  request: string;
  /** The answers' status codes, by count. */
  statuses: Record<string, number>;
  /** Bytes Redis keeps per request (MEMORY USAGE of the keys left, ÷ requests). */
  bytesPerRequest: number;
  /** The longest TTL among the keys left (s); 0 when nothing was kept. */
  keptForS: number;
  /** bytesPerRequest ÷ a login's. */
  ratioToLogin: number;
}

const REDIRECT = 'http://site.example/callback';
const PKCE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM';

function request(port: number, method: string, path: string, body?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = body ? { 'content-type': 'application/json' } : {};
    const req = http.request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Every key with its MEMORY USAGE and TTL. */
async function snapshot(raw: Redis): Promise<Map<string, { bytes: number; ttl: number }>> {
  const out = new Map<string, { bytes: number; ttl: number }>();
  let cursor = '0';
  do {
    const [next, keys] = await raw.scan(cursor, 'COUNT', 1000);
    cursor = next;
    for (const k of keys) out.set(k, { bytes: (await raw.memory('USAGE', k)) ?? 0, ttl: await raw.ttl(k) });
  } while (cursor !== '0');
  return out;
}

export async function benchAnonymous(n = 300): Promise<KeptRow[]> {
  const redis = await startRedisServer();
  const raw = new Redis(redis.url);
  const port = await freePort();
  const config = loadConfig({
    REDIS_URL: redis.url,
    ...DEV_DEFAULTS,
    HOST: '127.0.0.1',
    HTTP_PORT: String(port),
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    LOG_LEVEL: 'silent',
    // Measured, not limited: the per-address limits would refuse most of the requests from this one address.
    LOGIN_RATE_LIMIT: '0',
    OIDC_RATE_LIMIT: '0',
    OIDC_CLIENT_ID: 'bench-site',
    OIDC_CLIENT_SECRET: 'bench-secret-0123456789abcdef',
    OIDC_REDIRECT_URIS: REDIRECT,
  });
  const role = await runHttp(config, silentLogger());
  const authorize = (state: string) =>
    `/authorize?${new URLSearchParams({
      client_id: 'bench-site',
      redirect_uri: REDIRECT,
      response_type: 'code',
      scope: 'openid profile',
      state,
      nonce: 'n'.repeat(32),
      code_challenge: PKCE,
      code_challenge_method: 'S256',
    })}`;
  const cases: [string, string, string, string?][] = [
    ['POST /api/logins (reference)', 'POST', '/api/logins', '{}'],
    ['GET /authorize, a 32-character state', 'GET', authorize('s'.repeat(32))],
    ['GET /authorize, the longest state taken (512)', 'GET', authorize('s'.repeat(512))],
    ['GET /authorize, a 15,000-character state', 'GET', authorize('s'.repeat(15_000))],
    ['GET /oidc/logout, no cookie, a short state', 'GET', '/oidc/logout?state=abc'],
    ['GET /oidc/logout, no cookie, a 15,000-character state', 'GET', `/oidc/logout?state=${'s'.repeat(15_000)}`],
  ];
  const rows: KeptRow[] = [];
  try {
    let loginBytes = 0;
    for (const [name, method, path, body] of cases) {
      const before = await snapshot(raw);
      const statuses: Record<string, number> = {};
      for (let i = 0; i < n; i++) {
        const status = String(await request(port, method, path, body));
        statuses[status] = (statuses[status] ?? 0) + 1;
      }
      const after = await snapshot(raw);
      let bytes = 0;
      let ttl = 0;
      for (const [k, v] of after) {
        // Keys this case left: new ones (a rate-limit log or a node registration that only changed is not).
        if (before.has(k) || k.includes(':nodes:')) continue;
        bytes += v.bytes;
        ttl = Math.max(ttl, v.ttl);
      }
      const perRequest = bytes / n;
      if (!loginBytes) loginBytes = perRequest;
      rows.push({
        request: name,
        statuses,
        bytesPerRequest: perRequest,
        keptForS: ttl,
        ratioToLogin: perRequest / loginBytes,
      });
      await raw.flushdb(); // this private redis-server only
    }
  } finally {
    raw.disconnect();
    await role.stop();
    await redis.stop();
  }
  return rows;
}
