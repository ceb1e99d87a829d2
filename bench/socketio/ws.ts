/**
 * The Socket.IO comparison's push process: Socket.IO 4.8 (WebSocket transport only, no long-polling) with the
 * Redis adapter, speaking the same watch protocol as events: `watch` {id, watchToken} in, `status` out, each
 * login a room. `node dist/bench/socketio/ws.js` with PORT, REDIS_URL.
 */
import http from 'node:http';
import { createAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import { Server } from 'socket.io';
import { hashSecret, loginKey } from '../floor/logins.js';

const redisUrl = process.env.REDIS_URL!;
const cmd = new Redis(redisUrl);
const pub = new Redis(redisUrl);
const sub = new Redis(redisUrl);
const server = http.createServer((req, res) => {
  res.writeHead(req.url === '/healthz' ? 200 : 404, { 'content-type': 'application/json' });
  res.end('{}');
});
const io = new Server(server, { transports: ['websocket'], serveClient: false, adapter: createAdapter(pub, sub) });

io.on('connection', (socket) => {
  socket.once('watch', async (m: { id?: unknown; watchToken?: unknown }) => {
    if (typeof m?.id !== 'string' || typeof m.watchToken !== 'string') return void socket.disconnect(true);
    const id = m.id;
    try {
      await socket.join(id);
      const [hash, status, rev, expiresAt] = await cmd.hmget(loginKey(id), 'watchHash', 'status', 'rev', 'expiresAt');
      if (!hash || hash !== hashSecret(m.watchToken)) return void socket.disconnect(true);
      socket.emit('status', { type: 'status', id, status, rev: Number(rev), expiresAt: Number(expiresAt) });
    } catch {
      socket.disconnect(true);
    }
  });
});

server.listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
