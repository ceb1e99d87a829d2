import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { readBody } from '../../server/util/read-body.js';

// readBody on a real node:http server: whole bodies in any number of chunks, the limit (declared or streamed), and
// a client that goes away mid-body — each settles the promise exactly once.
describe('readBody', () => {
  let server: http.Server | undefined;
  afterEach(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

  /** A server whose every request's readBody outcome (with limit 32) is reported through `outcomes`. */
  async function serve(): Promise<{ port: number; outcomes: Promise<string>[] }> {
    const outcomes: Promise<string>[] = [];
    server = http.createServer((req, res) => {
      const read = readBody(req, 32);
      outcomes.push(read.catch((err: { code?: string; message: string }) => `error ${err.code ?? err.message}`));
      read.then(
        (text) => res.end(`got ${text.length}`),
        () => res.writeHead(400).end(),
      );
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    return { port: (server.address() as AddressInfo).port, outcomes };
  }

  /** Sends raw bytes, in the pieces given, a few ms apart; resolves with what the server answered. */
  function raw(port: number, pieces: (string | Buffer)[], end = true): Promise<string> {
    return new Promise((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      let answer = '';
      socket.on('data', (d) => (answer += d.toString()));
      socket.on('close', () => resolve(answer));
      socket.on('error', () => resolve(answer));
      (async () => {
        for (const p of pieces) {
          socket.write(p);
          await new Promise((r) => setTimeout(r, 10));
        }
        if (end) setTimeout(() => socket.end(), 50);
        else socket.destroy();
      })();
    });
  }

  it('reads a body sent in pieces, an empty body, and UTF-8 split inside a character', async () => {
    const { port, outcomes } = await serve();
    const head = (n: number) => `POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${n}\r\nConnection: close\r\n\r\n`;
    expect(await raw(port, [head(7), '{"a"', ':1}'])).toContain('got 7');
    expect(await raw(port, [head(0)])).toContain('got 0');
    const word = Buffer.from('登录', 'utf8'); // 6 bytes, cut inside the first character
    expect(await raw(port, [head(6), word.subarray(0, 2), word.subarray(2)])).toContain('got 2');
    expect(await Promise.all(outcomes)).toEqual(['{"a":1}', '', '登录']);
  });

  it('refuses more than the limit, declared or streamed (chunked), and a body cut short', async () => {
    const { port, outcomes } = await serve();
    await raw(port, ['POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 33\r\nConnection: close\r\n\r\n', 'x'.repeat(33)]);
    const chunked = 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n';
    await raw(port, [chunked, '14\r\n' + 'y'.repeat(20) + '\r\n', '14\r\n' + 'z'.repeat(20) + '\r\n', '0\r\n\r\n']);
    await raw(port, ['POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 20\r\n\r\n', 'only ten b'], false);
    expect(await Promise.all(outcomes)).toEqual([
      'error payload_too_large',
      'error payload_too_large',
      'error ECONNRESET', // node's own error for a request cut short ("aborted")
    ]);
  });
});
