import { AppError } from '../../errors.js';
import { newLoginId } from '../../logins/ids.js';
import type { HttpDeps } from '../deps.js';
import { requireString } from '../body.js';
import { loginCreationLimit } from '../rate-limit.js';
import { isLoopbackUrl, lanUrlFor } from '../../dev/lan.js';

/** What `POST /api/logins` answers (201). */
export type CreatedLogin = Record<string, unknown> & { id: string; watchToken: string };

/**
 * `POST /api/logins` without its framing: the body already read as a JSON object, the client's IP and User-Agent
 * in; the login created, its answer out. Served by the hot lane (hot/lane.ts) and by the Koa API router, which
 * frame it the same way (status 201, `Cache-Control: no-store`, errors through `errorAnswer`).
 */
export function loginCreator(
  deps: HttpDeps,
): (body: Record<string, unknown>, ip: string, ua: string) => Promise<CreatedLogin> {
  const { config, store, modes } = deps;
  // Paths handed to the page (QR images) are absolute on this origin, so they carry BASE_PATH.
  const base = config.basePath;
  const limitCreation = loginCreationLimit(deps.link, config.loginRateLimit);
  return async (body, ip, ua) => {
    await limitCreation(ip);
    const modeName = body.mode === undefined ? 'oauth' : requireString(body, 'mode', 32);
    const mode = modes.get(modeName);
    // A login for an OpenID Connect sign-in carries its client's name, so the phone can say where it logs in.
    const oidc =
      body.interaction === undefined
        ? undefined
        : await requireOidc(deps).describeInteraction(
            requireString(body, 'interaction', 200),
            body.authorize === undefined ? undefined : requireString(body, 'authorize', 4096),
          );
    // The account the login runs for: the site's (its OIDC client names one), else the deployment's own.
    const account = await deps.accounts.forMode(mode.name, oidc?.account);
    const id = newLoginId();
    const prepared = await mode.prepare({ id, expiresAt: store.now() + store.loginTtlMs, account });
    const { record, watchToken } = await store.create({
      id,
      mode: mode.name,
      scanUrl: prepared.scanUrl,
      ua,
      ip,
      ...(prepared.modeData && { modeData: prepared.modeData }),
      ...(oidc && {
        oidc: { uid: oidc.uid, clientName: oidc.clientName, ...(oidc.binding && { binding: oidc.binding }) },
      }),
      ...(oidc?.account && { account: oidc.account }),
    });
    // A platform account's logins end at once if it revokes its authorization (platform/account-logins.ts).
    await account.trackLogin?.(record.id, record.expiresAt);
    return {
      id: record.id,
      watchToken,
      status: record.status,
      expiresAt: record.expiresAt,
      scanUrl: record.scanUrl,
      qr: { svg: `${base}/api/logins/${record.id}/qr.svg`, png: `${base}/api/logins/${record.id}/qr.png` },
      ws: config.wsPublicUrl,
      ...(mode.frameUrl && { frameUrl: mode.frameUrl(record) }),
      devMode: config.devMode,
      ...(config.devMode && mode.devPhoneUrl && { simulateUrl: mode.devPhoneUrl(record, config.wechat.openBase) }),
      // A real phone cannot open a loopback QR: the PUBLIC_URL to restart with (the page's dev hint shows it).
      ...(config.devMode && isLoopbackUrl(record.scanUrl) && { lanUrl: lanUrlFor(config.publicUrl) }),
    };
  };
}

function requireOidc(deps: HttpDeps): NonNullable<HttpDeps['oidc']> {
  if (!deps.oidc) throw new AppError('bad_request', 'this server is not an OpenID Connect provider');
  return deps.oidc;
}
