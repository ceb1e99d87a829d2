/** The floor's HTTP process: `node dist/bench/floor/http.js` with PORT, REDIS_URL, PUBLIC_URL, WS_URL, TTL_MS. */
import { loginsServer } from './logins.js';

const env = (k: string): string => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is required`);
  return v;
};

const { server } = loginsServer({
  redisUrl: env('REDIS_URL'),
  publicUrl: env('PUBLIC_URL'),
  wsUrl: env('WS_URL'),
  ttlMs: Number(env('TTL_MS')),
});
server.keepAliveTimeout = 60_000;
server.listen(Number(env('PORT')), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
