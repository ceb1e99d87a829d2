import net from 'node:net';

/**
 * A TCP middlebox in front of one server that can silently re-dial: `redial()` replaces every upstream connection
 * with a fresh one while the client's socket stays open — what a connection-pooling load balancer or a restarted
 * sidecar does. The client sees no error and no close, but the server sees a new connection without the old one's
 * state: a subscriber's subscriptions are gone and nothing says so (the silent case a probe must catch).
 */
export interface RedialProxy {
  readonly port: number;
  /** Re-dials every upstream; resolves once each new upstream is connected. */
  redial(): Promise<void>;
  close(): Promise<void>;
}

export async function startRedialProxy(upstreamPort: number): Promise<RedialProxy> {
  const pairs = new Set<{ client: net.Socket; upstream: net.Socket }>();
  const dial = (pair: { client: net.Socket; upstream: net.Socket }) =>
    new Promise<void>((resolve) => {
      const upstream = net.connect(upstreamPort, '127.0.0.1', () => resolve());
      pair.upstream = upstream;
      upstream.on('data', (d) => pair.client.write(d));
      upstream.on('error', () => pair.client.destroy());
      upstream.on('close', () => {
        if (pair.upstream === upstream) pair.client.destroy();
      });
    });
  const server = net.createServer((client) => {
    const pair = { client, upstream: undefined as unknown as net.Socket };
    pairs.add(pair);
    client.pause();
    void dial(pair).then(() => client.resume());
    client.on('data', (d) => pair.upstream.write(d));
    client.on('error', () => {});
    client.on('close', () => {
      pairs.delete(pair);
      pair.upstream?.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    port: (server.address() as net.AddressInfo).port,
    async redial() {
      await Promise.all(
        [...pairs].map(async (pair) => {
          const old = pair.upstream;
          pair.client.pause();
          await dial(pair);
          old.destroy();
          pair.client.resume();
        }),
      );
    },
    async close() {
      for (const p of pairs) {
        p.client.destroy();
        p.upstream?.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
