/**
 * The floor's logins: what a bare implementation of scanlogin's create and scan needs, and nothing more. Also
 * the HTTP side of the Socket.IO comparison, which differs only in how the scan's new state is sent out.
 * A login is a hash with the same fields scanlogin keeps for a pending login; scanning is one Lua script that
 * checks (exists, pending, not past its deadline), writes and — for the floor — publishes the page's status
 * message ready-made on the login's own channel.
 */
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import { Redis } from 'ioredis';

export const loginKey = (id: string): string => `floor:login:${id}`;
export const loginChannel = (id: string): string => `floor:ev:${id}`;
export const hashSecret = (s: string): string => createHash('sha256').update(s).digest('base64url');

const CREATE = `
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('PEXPIREAT', KEYS[1], ARGV[1])
return 1`;

// KEYS: login, channel. ARGV: now ms, phone hash, '1' to publish. Returns {'ok', statusMessage} or {errorCode}.
const SCAN = `
local st = redis.call('HMGET', KEYS[1], 'status', 'rev', 'expiresAt', 'id')
if not st[1] then return {'unknown_login'} end
if st[1] ~= 'pending' then return {'invalid_transition'} end
if tonumber(ARGV[1]) >= tonumber(st[3]) then return {'login_expired'} end
local rev = tostring(tonumber(st[2]) + 1)
redis.call('HSET', KEYS[1], 'status', 'scanned', 'rev', rev, 'phoneHash', ARGV[2], 'changedAt', ARGV[1],
  'scannedAt', ARGV[1])
local msg = '{"type":"status","id":"' .. st[4] .. '","status":"scanned","rev":' .. rev .. ',"expiresAt":' ..
  st[3] .. '}'
if ARGV[3] == '1' then redis.call('PUBLISH', KEYS[2], msg) end
return {'ok', msg}`;

type Scripts = Redis & {
  floorCreate(key: string, expireAt: number, ...fields: string[]): Promise<number>;
  floorScan(key: string, channel: string, now: number, phoneHash: string, publish: string): Promise<string[]>;
};

export interface LoginsServerOptions {
  redisUrl: string;
  publicUrl: string;
  wsUrl: string;
  ttlMs: number;
  /** Sends the scan's status message out; without it the script PUBLISHes it on the login's channel. */
  emit?: (id: string, message: string) => void;
}

/** POST /api/logins, GET /l/:id (the scan) and GET /healthz on node:http. */
export function loginsServer(opts: LoginsServerOptions): { server: http.Server; redis: Redis } {
  const redis = new Redis(opts.redisUrl) as Scripts;
  redis.defineCommand('floorCreate', { numberOfKeys: 1, lua: CREATE });
  redis.defineCommand('floorScan', { numberOfKeys: 2, lua: SCAN });
  const authorize = new URL('/connect/oauth2/authorize', 'https://open.weixin.qq.com');
  const server = http.createServer((req, res) => {
    const url = req.url ?? '';
    const fail = (status: number, code: string) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: code }));
    };
    if (req.method === 'POST' && url === '/api/logins') {
      req.resume();
      req.on('end', async () => {
        const id = randomBytes(18).toString('base64url');
        const watchToken = randomBytes(24).toString('base64url');
        const now = Date.now();
        const expiresAt = now + opts.ttlMs;
        const scanUrl = `${opts.publicUrl}/l/${id}`;
        try {
          await redis.floorCreate(loginKey(id), expiresAt + 60_000, ...fields(id, now, expiresAt, watchToken, scanUrl));
        } catch {
          return fail(503, 'redis_unavailable');
        }
        res.writeHead(201, { 'content-type': 'application/json', 'cache-control': 'no-store' });
        res.end(JSON.stringify({ id, watchToken, scanUrl, ws: opts.wsUrl, status: 'pending', expiresAt }));
      });
      return;
    }
    if (req.method === 'GET' && url.startsWith('/l/')) {
      const id = url.slice(3);
      if (!/MicroMessenger/i.test(req.headers['user-agent'] ?? '')) return fail(400, 'not_wechat');
      const phone = randomBytes(24).toString('base64url');
      redis.floorScan(loginKey(id), loginChannel(id), Date.now(), hashSecret(phone), opts.emit ? '0' : '1').then(
        ([code, message]) => {
          if (code !== 'ok') return fail(code === 'unknown_login' ? 404 : 409, code!);
          opts.emit?.(id, message!);
          authorize.search = `appid=wx0&redirect_uri=${encodeURIComponent(`${opts.publicUrl}/cb`)}&state=${id}`;
          res.writeHead(302, {
            location: `${authorize.href}#wechat_redirect`,
            'set-cookie': `phone=${phone}; Path=/; HttpOnly; SameSite=Lax`,
          });
          res.end();
        },
        () => fail(503, 'redis_unavailable'),
      );
      return;
    }
    if (url === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"ok":true}');
      return;
    }
    fail(404, 'not_found');
  });
  return { server, redis };
}

function fields(id: string, now: number, expiresAt: number, token: string, scanUrl: string): string[] {
  return [
    ...['v', '1', 'id', id, 'mode', 'oauth', 'status', 'pending', 'rev', '1'],
    ...['createdAt', String(now), 'expiresAt', String(expiresAt), 'watchHash', hashSecret(token), 'scanUrl', scanUrl],
  ];
}
