/**
 * A scan-bench child holding up to ~5,000 page sockets from one local address (127.0.0.x): the watcher side of
 * the scan bench, out of the bench process so that the servers are measured from outside and no process runs
 * out of file descriptors. Driven over IPC:
 *   {cmd:'watch', kind, url, localAddress, logins:[{i,id,watchToken}]} → {type:'ready', watching, failed,
 *     failedLogins, error?}
 *     each socket sends its watch message and counts once its first status ("pending") arrives;
 *   {cmd:'report'} → {type:'report', got:[[i, ms]...], confirmed:[[i, ms]...]}: when each login's "scanned" and
 *     "confirmed" pushes arrived (CLOCK_MONOTONIC ms, comparable with the bench's clock);
 *   {cmd:'pings'} → {type:'pings', last, rounds}: when a server ping last arrived (ms, or null), to time the scans
 *     clear of the server's heartbeat round, and when each round began;
 *   {cmd:'close'} → closes every socket, {type:'closed'}.
 * `kind` 'ws' speaks scanlogin's protocol (scanlogin and the floor), 'sio' the Socket.IO events.
 */
import { io, type Socket } from 'socket.io-client';
import { WebSocket } from 'ws';

interface Login {
  i: number;
  id: string;
  watchToken: string;
}
type Msg =
  | { cmd: 'watch'; kind: 'ws' | 'sio'; url: string; localAddress: string; logins: Login[] }
  | { cmd: 'report' }
  | { cmd: 'pings' }
  | { cmd: 'close' };

const CONCURRENCY = 64;
const nowMs = (): number => Number(process.hrtime.bigint()) / 1e6;
const got: [number, number][] = [];
const confirmed: [number, number][] = [];
let lastPing: number | null = null;
/** When each heartbeat round began here (the first ping after a quiet 5 s). */
const rounds: number[] = [];
function onPing(): void {
  const now = nowMs();
  if (lastPing === null || now - lastPing > 5000) rounds.push(now);
  lastPing = now;
}
const closers: (() => void)[] = [];
const send = (m: unknown) => process.send!(m);

function onStatus(login: Login, status: unknown, first: () => void): void {
  if (status === 'scanned') got.push([login.i, nowMs()]);
  else if (status === 'confirmed') confirmed.push([login.i, nowMs()]);
  else if (status === 'pending') first();
}

function watchWs(url: string, localAddress: string, login: Login): Promise<void> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { localAddress, perMessageDeflate: false });
    closers.push(() => ws.terminate());
    ws.on('ping', onPing);
    ws.once('open', () => ws.send(JSON.stringify({ type: 'watch', id: login.id, watchToken: login.watchToken })));
    ws.on('message', (data) => onStatus(login, (JSON.parse(String(data)) as { status?: string }).status, resolve));
    ws.once('error', reject);
    ws.once('close', (code) => reject(new Error(`closed ${code}`)));
  });
}

function watchSio(url: string, localAddress: string, login: Login): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket: Socket = io(url, {
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      localAddress,
    } as Parameters<typeof io>[1]);
    closers.push(() => socket.disconnect());
    socket.once('connect', () => socket.emit('watch', { id: login.id, watchToken: login.watchToken }));
    socket.on('status', (m: { status?: string }) => onStatus(login, m.status, resolve));
    socket.once('connect_error', reject);
    socket.once('disconnect', (why) => reject(new Error(`disconnected: ${why}`)));
  });
}

async function watchAll(m: Extract<Msg, { cmd: 'watch' }>): Promise<void> {
  let next = 0;
  let watching = 0;
  const errors: string[] = [];
  const failedLogins: number[] = [];
  const one = m.kind === 'sio' ? watchSio : watchWs;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < m.logins.length) {
        const login = m.logins[next++]!;
        try {
          await one(m.url, m.localAddress, login);
          watching++;
        } catch (err) {
          errors.push(String(err));
          failedLogins.push(login.i);
        }
      }
    }),
  );
  send({ type: 'ready', watching, failed: errors.length, failedLogins, ...(errors[0] && { error: errors[0] }) });
}

process.on('message', (m: Msg) => {
  if (m.cmd === 'watch') void watchAll(m);
  else if (m.cmd === 'report') send({ type: 'report', got, confirmed });
  else if (m.cmd === 'pings') send({ type: 'pings', last: lastPing, rounds });
  else if (m.cmd === 'close') {
    for (const close of closers.splice(0)) close();
    got.length = 0;
    confirmed.length = 0;
    send({ type: 'closed' });
  }
});
process.on('disconnect', () => process.exit(0));
