import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AuthRequest } from './oidc.js';

/** A website embedding scanlogin's QR (scanlogin.js), for the iframe journeys. */
export interface Site {
  origin: string;
  /** The site's login page embedding the QR for `redirectUri` (default: this site's /callback), in `lang` (en). */
  pageUrl(issuer: string, req: AuthRequest, redirectUri?: string, lang?: 'en' | 'zh'): string;
  stop(): Promise<void>;
}

/**
 * A site on `localhost` (another site than scanlogin's 127.0.0.1) whose login page embeds the QR with
 * `<issuer>/scanlogin.js` for `clientId`, and answers its /callback.
 */
export async function startSite(clientId = 'embed-shop'): Promise<Site> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    res.setHeader('content-type', 'text/html');
    if (url.pathname === '/callback') return void res.end('<h1 id="done">back at the site</h1>');
    const o = JSON.parse(url.searchParams.get('o') ?? '{}') as Record<string, string>;
    res.end(`<!doctype html><div id="login"></div><script src="${o.issuer}/scanlogin.js"></script>
<script>ScanLogin.mount('login', ${JSON.stringify({ ...o, issuer: undefined })});</script>`);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const origin = `http://localhost:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    pageUrl(issuer, req, redirectUri = `${origin}/callback`, lang = 'en') {
      const o = {
        issuer,
        clientId,
        redirectUri,
        state: req.state,
        nonce: req.nonce,
        codeChallenge: req.url.searchParams.get('code_challenge'),
        lang,
      };
      return `${origin}/?o=${encodeURIComponent(JSON.stringify(o))}`;
    },
    stop: () => new Promise((r) => server.close(() => r())),
  };
}
