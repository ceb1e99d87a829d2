import { WebSocket } from 'ws';

export interface WsMessage {
  type: string;
  [key: string]: unknown;
}

/** A browser-like watcher: collects every message and the close code. */
export class WatchClient {
  readonly messages: WsMessage[] = [];
  closeCode: number | undefined;
  readonly socket: WebSocket;
  readonly opened: Promise<void>;
  readonly closed: Promise<number>;

  /**
   * `headers`: extra upgrade request headers (e.g. X-Forwarded-For, as a proxy would add); `localAddress`: the
   * source address to connect from (another loopback address plays another client).
   */
  constructor(url: string, headers?: Record<string, string>, opts: { localAddress?: string } = {}) {
    this.socket = new WebSocket(url, { ...(headers && { headers }), ...opts });
    this.opened = new Promise((resolve, reject) => {
      this.socket.once('open', () => resolve());
      this.socket.once('error', reject);
    });
    this.socket.on('message', (data) => this.messages.push(JSON.parse(String(data)) as WsMessage));
    this.closed = new Promise((resolve) => this.socket.once('close', (code) => resolve((this.closeCode = code))));
  }

  static async watch(
    url: string,
    id: string,
    watchToken: string,
    headers?: Record<string, string>,
    opts: { localAddress?: string } = {},
  ): Promise<WatchClient> {
    const c = new WatchClient(url, headers, opts);
    await c.opened;
    c.send({ type: 'watch', id, watchToken });
    return c;
  }

  send(msg: unknown): void {
    this.socket.send(typeof msg === 'string' ? msg : JSON.stringify(msg));
  }

  /** Waits until a message matching `pred` has arrived; `timeoutMs` (default 20 s) only limits a hang. */
  async next(pred: (m: WsMessage) => boolean, timeoutMs = 20_000): Promise<WsMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages.find(pred);
      if (found) return found;
      if (Date.now() > deadline)
        throw new Error(`no matching message within ${timeoutMs} ms; got ${JSON.stringify(this.messages)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  statuses(): string[] {
    return this.messages.filter((m) => m.type === 'status').map((m) => m.status as string);
  }

  close(): void {
    this.socket.close();
  }
}
