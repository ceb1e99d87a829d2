import net from 'node:net';

/** Asks the OS for a currently free TCP port on 127.0.0.1 (for child processes that cannot take port 0). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * A free port that is none of `avoid`: ports other processes were told to bind but may not have bound yet (the
 * OS would happily hand one of them out again in between).
 */
export async function freePortExcept(avoid: readonly number[]): Promise<number> {
  for (;;) {
    const port = await freePort();
    if (!avoid.includes(port)) return port;
  }
}

/** `n` distinct free ports, none of `avoid`: the ports of a set of processes started together. */
export async function freePortsExcept(n: number, avoid: readonly number[]): Promise<number[]> {
  const taken = [...avoid];
  const ports: number[] = [];
  while (ports.length < n) {
    const port = await freePortExcept(taken);
    taken.push(port);
    ports.push(port);
  }
  return ports;
}
