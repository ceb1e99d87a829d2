/**
 * The floor's push process: bare node:http + bare ws + one ioredis subscriber with per-login channels. It speaks
 * scanlogin's watch protocol (one watch message, the current status at once, then every pushed status) with the
 * least work: subscribe, one read that both authorizes and answers, and each published message forwarded as is.
 * It pings every socket every 30 s as scanlogin does (the `ws` library's recommended heartbeat).
 * `node dist/bench/floor/ws.js` with PORT, REDIS_URL.
 */
import http from 'node:http';
import { Redis } from 'ioredis';
import { type WebSocket, WebSocketServer } from 'ws';
import { hashSecret, loginChannel, loginKey } from './logins.js';

const redisUrl = process.env.REDIS_URL!;
const cmd = new Redis(redisUrl);
const sub = new Redis(redisUrl);
const watchers = new Map<string, { sockets: Set<WebSocket>; subscribed: Promise<unknown> }>();
sub.on('message', (channel: string, message: string) => {
  const w = watchers.get(channel);
  if (w) for (const ws of w.sockets) ws.send(message);
});

const server = http.createServer((req, res) => {
  res.writeHead(req.url === '/healthz' ? 200 : 404, { 'content-type': 'application/json' });
  res.end('{}');
});
const wss = new WebSocketServer({ server, path: '/ws', maxPayload: 4096 });
const alive = new WeakSet<WebSocket>();

wss.on('connection', (ws) => {
  alive.add(ws);
  ws.on('pong', () => alive.add(ws));
  let channel: string | undefined;
  ws.once('message', async (data) => {
    let m: { id?: unknown; watchToken?: unknown };
    try {
      m = JSON.parse(String(data));
    } catch {
      return ws.close(4400, 'bad_request');
    }
    if (typeof m.id !== 'string' || typeof m.watchToken !== 'string') return ws.close(4400, 'bad_request');
    const id = m.id;
    const ch = (channel = loginChannel(id));
    let w = watchers.get(ch);
    if (!w) watchers.set(ch, (w = { sockets: new Set(), subscribed: sub.subscribe(ch) }));
    w.sockets.add(ws);
    try {
      await w.subscribed;
      const [hash, status, rev, expiresAt] = await cmd.hmget(loginKey(id), 'watchHash', 'status', 'rev', 'expiresAt');
      if (!hash || hash !== hashSecret(m.watchToken)) return ws.close(4403, 'forbidden');
      ws.send(`{"type":"status","id":"${id}","status":"${status}","rev":${rev},"expiresAt":${expiresAt}}`);
    } catch {
      ws.close(1011, 'redis_unavailable');
    }
  });
  ws.on('close', () => {
    if (!channel) return;
    const w = watchers.get(channel);
    if (w?.sockets.delete(ws) && w.sockets.size === 0) {
      watchers.delete(channel);
      void sub.unsubscribe(channel).catch(() => {});
    }
  });
  ws.on('error', () => {});
});

setInterval(() => {
  for (const ws of wss.clients) {
    if (!alive.has(ws)) {
      ws.terminate();
      continue;
    }
    alive.delete(ws);
    ws.ping();
  }
}, 30_000);

server.listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
