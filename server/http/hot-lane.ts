import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import Cookies from 'cookies';
import type { HttpDeps } from './deps.js';
import { errorAnswer } from './errors.js';
import { jsonObject, requireJsonType } from './body.js';
import { frameSourcesOf, securityHeaderList } from './security-headers.js';
import { logAccess, requestIdOf } from './access-log.js';
import { loginCreator } from './routes/create-login.js';
import { LOGIN_ID_RE } from '../logins/ids.js';
import { OAuthPhone } from '../modes/oauth/phone.js';
import { OAUTH_MODE } from '../modes/oauth/mode.js';
import { clientIp, trustedProxies } from '../util/client-ip.js';
import { readBody } from '../util/read-body.js';

/** What a hot route answers: status, its own header lines (name, value, name, value, …) and body. */
interface Answer {
  status: number;
  head: string[];
  body: string;
}

/**
 * A request the lane takes: its route pattern (the metrics label, as Koa's router names it) and its handler, given
 * the request's path and the Set-Cookie sink every answer (an error's too) carries.
 */
interface HotRoute {
  route: string;
  handle(req: IncomingMessage, ip: string, path: string, setCookie: SetCookieLines): Promise<Answer>;
}

/**
 * The `Set-Cookie` lines the `cookies` jar writes for one answer, kept here (the jar asks only for
 * getHeader/setHeader) so the head goes out in one `writeHead`: node validates and stores every setHeader call.
 */
class SetCookieLines {
  lines: string[] = [];
  getHeader(name: string): string[] | undefined {
    return name.toLowerCase() === 'set-cookie' ? this.lines : undefined;
  }
  setHeader(name: string, value: string | readonly string[]): void {
    if (name.toLowerCase() !== 'set-cookie') throw new Error(`hot lane: unexpected header ${name}`);
    this.lines = typeof value === 'string' ? [value] : [...value];
  }
}

const JSON_TYPE = 'application/json; charset=utf-8';
const HTML_TYPE = 'text/html; charset=utf-8';

/**
 * The hot lane: the two requests every login makes — `POST /api/logins` (the page creates it) and `GET /l/:id`
 * with a well-formed id (the phone scans it) — answered on node:http in front of Koa; every other request, and
 * any other method on these paths, goes to `koa` untouched.
 *
 * Why by hand: on these two requests Koa's own per-request work (its context objects, compose, the cookie and
 * header helpers, the response handling, a redirect body nobody reads) cost more CPU than the login work itself:
 * the scan took 1.9× the CPU of a bare node:http floor, against a bound of 1.5×, and a Koa app with only the
 * essential middleware measured no better (bench/RESULTS.md, the hot lane). The lane does the same steps in the same
 * order and shares every part that decides something: the route logic
 * (`loginCreator`, `OAuthPhone.scan`, which the Koa routes also call), errors (`errorAnswer`), the security
 * headers, the request id and access line, the client IP, the short wait for a reconnecting Redis, and the
 * metrics. test/integration/hot-lane.test.ts sends the same requests, good and bad, to the lane and to the Koa routes and
 * compares the answers.
 */
export function hotLane(deps: HttpDeps, koa: RequestListener): RequestListener {
  const { config, link, logger, metrics } = deps;
  const base = config.basePath;
  const https = config.publicUrl.startsWith('https:');
  const securityHead = securityHeaderList({ https, frameSources: frameSourcesOf(config) }).flat();
  const trusted = trustedProxies(config.trustProxy);
  const createLogin = loginCreator(deps);
  const phone = deps.modes.find(OAUTH_MODE) ? new OAuthPhone(deps) : undefined;
  const createPath = `${base}/api/logins`;
  const scanPrefix = `${base}/l/`;

  const create: HotRoute = {
    route: '/api/logins',
    async handle(req, ip) {
      requireJsonType(req.headers['content-type']);
      const body = jsonObject(await readBody(req));
      const created = await createLogin(body, ip, req.headers['user-agent'] ?? '');
      return {
        status: 201,
        head: ['Cache-Control', 'no-store', 'Content-Type', JSON_TYPE],
        body: JSON.stringify(created),
      };
    },
  };
  const scan: HotRoute = {
    route: '/l/:id',
    async handle(req, _ip, path, setCookie) {
      // Koa's jar is the same `cookies` object; a https PUBLIC_URL marks it secure there too (app.ts).
      const jar = new Cookies(req, setCookie as unknown as ServerResponse, { secure: https });
      const answer = await phone!.scan(jar, path.slice(scanPrefix.length), req.headers['user-agent']);
      if ('html' in answer) return { status: 200, head: ['Content-Type', HTML_TYPE], body: answer.html };
      // Koa's redirect would add a "Redirecting to …" body: WeChat's browser follows the Location and drops it.
      return { status: 302, head: ['Location', answer.redirect], body: '' };
    },
  };

  function routeOf(req: IncomingMessage, path: string): HotRoute | undefined {
    if (req.method === 'POST' && path === createPath) return create;
    const isScan = phone && req.method === 'GET' && path.startsWith(scanPrefix);
    return isScan && LOGIN_ID_RE.test(path.slice(scanPrefix.length)) ? scan : undefined;
  }

  async function serve(req: IncomingMessage, res: ServerResponse, path: string, hot: HotRoute): Promise<void> {
    const started = performance.now();
    const reqId = requestIdOf(req);
    const ip = clientIp(req.socket.remoteAddress, header(req, 'x-forwarded-for'), trusted);
    const setCookie = new SetCookieLines();
    let answer: Answer;
    try {
      // As app.ts: during a brief Redis reconnect wait for it (at most 150 ms), then go on and answer what comes.
      if (link.status !== 'ready') await link.ready();
      answer = await hot.handle(req, ip, path, setCookie);
    } catch (err) {
      const error = errorAnswer(err, path.slice(base.length), logger.child({ reqId }), metrics);
      const json = error.type === 'json';
      answer = {
        status: error.status,
        head: [...error.headers.flat(), 'Content-Type', json ? JSON_TYPE : HTML_TYPE],
        body: error.type === 'json' ? JSON.stringify(error.body) : error.body,
      };
    }
    // A scan's new cookie goes out on a 5xx too (the script may have run): whatever the jar wrote, on any answer.
    for (const line of setCookie.lines) answer.head.push('Set-Cookie', line);
    // The whole head in one writeHead (node's fast path: no per-header setHeader).
    res.writeHead(answer.status, [
      'X-Request-Id',
      reqId,
      ...securityHead,
      ...answer.head,
      'Content-Length',
      String(Buffer.byteLength(answer.body)),
    ]);
    res.end(answer.body);
    const ms = performance.now() - started;
    if (logger.isLevelEnabled('info')) {
      logAccess(logger, { reqId, method: req.method ?? '', path, ip, status: answer.status, ms });
    }
    metrics?.requestAnswered(hot.route, req.method ?? '', answer.status, ms / 1000);
  }

  return (req, res) => {
    const url = req.url ?? '';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const hot = routeOf(req, path);
    if (!hot) return koa(req, res);
    serve(req, res, path, hot).catch((err: unknown) => {
      // Only a broken socket gets here (the answer is already decided): nothing left to tell the client.
      logger.warn({ err, path }, 'hot lane: answer not sent');
      res.destroy();
    });
  };
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}
