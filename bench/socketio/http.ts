/**
 * The Socket.IO comparison's HTTP process: the floor's create and scan (bench/floor/logins.ts), except that the
 * scan's new status goes out through @socket.io/redis-emitter to the login's room instead of a PUBLISH in the
 * script. `node dist/bench/socketio/http.js` with PORT, REDIS_URL, PUBLIC_URL, WS_URL, TTL_MS.
 */
import { Emitter } from '@socket.io/redis-emitter';
import { Redis } from 'ioredis';
import { loginsServer } from '../floor/logins.js';

const env = (k: string): string => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is required`);
  return v;
};

const emitter = new Emitter(new Redis(env('REDIS_URL')));
const { server } = loginsServer({
  redisUrl: env('REDIS_URL'),
  publicUrl: env('PUBLIC_URL'),
  wsUrl: env('WS_URL'),
  ttlMs: Number(env('TTL_MS')),
  emit: (id, message) => emitter.to(id).emit('status', JSON.parse(message)),
});
server.keepAliveTimeout = 60_000;
server.listen(Number(env('PORT')), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
