/**
 * The login widget's controller: it moves the page through its phases (phase.ts) — create a login, watch it,
 * redeem the ticket, show the user — and hands the derived screen to the view. No DOM here: the view, the
 * API (over fetch) and the socket are passed in.
 *
 * Every login attempt gets a generation number; results of an older attempt (a late create, a status from
 * its watch, a redeem that resolves after the user moved on) are dropped, so they never render over the
 * current one.
 */
import {
  type Api,
  ApiError,
  type CreatedLogin,
  type LoginMode,
  type LoginSnapshot,
  type SignedIn,
  type Timed,
} from './api.js';
import { fullJitter, sleep } from './backoff.js';
import { CREATE_ERROR_MESSAGES, type WatchFatalCode } from './codes.js';
import type { Device, SameDevice } from './device.js';
import type { MessageKey } from './messages.js';
import { isWatching, type Phase, qrOf, type Screen, screenOf } from './phase.js';
import { signIn } from './sign-in.js';
import { LoginWatch, type TransportKind, type WatchDeps } from './transport.js';

/**
 * Automatic QR renewals allowed per page load.
 *
 * This is the bug scanlogin exists to end: login pages that, on every expiry, silently created a new login,
 * whose expiry created another, forever — in every forgotten background tab — filling Redis and burning
 * the WeChat quota while nobody was looking. One renewal covers the common "it expired while I reached for
 * my phone" case; after that the page stops and waits for a human to click #refresh. User clicks do not
 * refill this budget.
 */
const MAX_AUTO_RENEWALS = 1;

/** If the server has not reported the expiry this long after the deadline, the page concludes it locally. */
const LOCAL_EXPIRY_GRACE_MS = 5000;

/** Server Date headers have 1 s resolution; only a larger difference is treated as real clock skew. */
const MIN_SKEW_MS = 2000;

/**
 * A 503 (`redis_unavailable`, `shutting_down`) is a server that will be back: the page says "busy, retrying" and
 * retries creating the login on its own, with full-jitter backoff (1 s base, 30 s cap) — this many times (a few
 * minutes), after which a human click decides. No login exists while it retries, so nothing piles up in Redis.
 */
const BUSY_RETRIES = 8;
const BUSY_BASE_MS = 1000;
const BUSY_CAP_MS = 30_000;

/** Where the widget shows itself (view.ts in the page). */
export interface View {
  render(screen: Screen): void;
  /** Updates only the countdown line (called every second while it is shown). */
  renderCountdown(remainingMs: number): void;
}

/**
 * The page as an OpenID Connect interaction (interaction.ts): a site is waiting for this login. Absent on the
 * plain login page.
 */
export interface Interaction {
  /** Extra fields of `POST /api/logins`, so the login names the site (the phone's confirm page shows it). */
  readonly loginFields: Readonly<Record<string, string>>;
  /** After a sign-in: hand the login to the site. True when the page is leaving (it shows nothing more). */
  finish(login: CreatedLogin): boolean;
  /** After the phone refused: `access_denied` at the site. True when the page is leaving. */
  abort(): boolean;
}

export interface WidgetDeps {
  api: Api;
  view: View;
  openSocket: WatchDeps['openSocket'];
  interaction?: Interaction | undefined;
  /** Where the page runs (device.ts); default a computer. */
  device?: Device | undefined;
  /** Inside WeChat: the memory of the OAuth round trip that signs this browser in without a QR code. */
  sameDevice?: SameDevice | undefined;
}

export class LoginWidget {
  private phase: Phase = { kind: 'loading' };
  private generation = 0;
  private watch: LoginWatch | null = null;
  private transport: TransportKind | null = null;
  private autoRenewalsLeft = MAX_AUTO_RENEWALS;
  /** The sign-in method chosen with the mode switch; renewals keep it. */
  private mode: LoginMode = 'oauth';
  /** The modes the server offers (GET /api/config), once known. */
  private offered: readonly LoginMode[] | undefined;
  /** serverTime ≈ Date.now() + skewMs, estimated from the create response's Date header. */
  private skewMs = 0;
  private ticker: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly deps: WidgetDeps) {}

  /** On load: show the signed-in user if there is one, otherwise start a login. */
  async start(): Promise<void> {
    this.render();
    void this.loadConfig();
    // Back from WeChat's OAuth in this very browser: redeem the login it confirmed.
    const back = this.sameDevice()?.take();
    if (back) return this.returned(back);
    await this.resume(this.generation);
  }

  /** Stops the watch and the countdown (page unload). */
  dispose(): void {
    this.generation++;
    this.endAttempt();
  }

  /** A click on #refresh: a new QR code. */
  refresh(): Promise<void> {
    return this.newLogin();
  }

  /** A click on the mode switch: a human asking, so a new login in that mode (never automatic, never a loop). */
  async switchMode(mode: LoginMode): Promise<void> {
    const { kind } = this.phase;
    if (mode === this.mode && (kind === 'pending' || kind === 'loading')) return;
    if (kind === 'confirmed') return;
    this.mode = mode;
    await this.newLogin();
  }

  /**
   * A click on #not-you: the person shown as having scanned is not the one here (a bystander who opened the QR
   * first, or a relayed QR). The login is cancelled on the server; the watch then shows `cancelled` (or, for a
   * site's interaction, `access_denied` there). A failure leaves the phase as it is: the phone can still cancel.
   */
  async notYou(): Promise<void> {
    const p = this.phase;
    if (p.kind !== 'scanned') return;
    await this.deps.api.cancel(p.login.id, p.login.watchToken).catch(() => undefined);
  }

  /** A click on #logout: end the session, then offer a new QR code. */
  async logout(): Promise<void> {
    const gen = this.beginAttempt();
    this.enter({ kind: 'loading' });
    try {
      await this.deps.api.logout();
    } catch {
      // Whatever happened, show the truth: still signed in, or not (then a new QR code).
      if (gen === this.generation) await this.resume(gen);
      return;
    }
    if (gen === this.generation) await this.newLogin();
  }

  // ---- Transitions ---------------------------------------------------------------------------------------

  private async newLogin(note?: MessageKey): Promise<void> {
    const gen = this.beginAttempt();
    this.enter({ kind: 'loading', note });
    let created: Timed<CreatedLogin>;
    for (let attempt = 0; ; attempt++) {
      try {
        created = await this.deps.api.createLogin(this.mode, this.deps.interaction?.loginFields);
        break;
      } catch (err) {
        if (gen !== this.generation) return;
        const busy = err instanceof ApiError && err.status === 503;
        if (busy && attempt < BUSY_RETRIES) {
          this.enter({ kind: 'loading', note, message: 'busy' });
          await sleep(fullJitter(attempt, BUSY_BASE_MS, BUSY_CAP_MS));
          if (gen !== this.generation) return;
          continue;
        }
        const said = err instanceof ApiError ? CREATE_ERROR_MESSAGES.get(err.code) : undefined;
        return this.showError(said ?? (busy ? 'errorBusy' : 'errorGeneric'));
      }
    }
    if (gen !== this.generation) return;
    const login = created.data;
    const same = this.sameDevice();
    if (same) return this.goDirect(gen, login, same);
    const skew = created.serverDate !== undefined ? created.serverDate - Date.now() : 0;
    this.skewMs = Math.abs(skew) > MIN_SKEW_MS ? skew : 0;
    this.enter({ kind: 'pending', login, expiresAt: login.expiresAt, note });
    this.startTicker();
    const watch = new LoginWatch(
      { wsUrl: login.ws, id: login.id, watchToken: login.watchToken },
      {
        status: (s) => gen === this.generation && this.onStatus(s),
        fatal: (code) => gen === this.generation && this.onFatal(code),
        transport: (kind) => gen === this.generation && this.onTransport(kind),
      },
      { openSocket: this.deps.openSocket, getLogin: this.deps.api.getLogin },
    );
    this.watch = watch;
    watch.start();
  }

  private onStatus(s: LoginSnapshot): void {
    const p = this.phase;
    if (!isWatching(p)) return;
    const shown = { login: p.login, expiresAt: s.expiresAt };
    switch (s.status) {
      case 'pending':
        return this.enter({ kind: 'pending', ...shown, note: p.kind === 'pending' ? p.note : undefined });
      case 'scanned':
        return this.enter({ kind: 'scanned', ...shown, user: s.user && { ...s.user } });
      case 'confirmed':
        this.stopTicker();
        return void this.finish({ ...shown, user: p.kind === 'scanned' ? p.user : undefined }, s.ticket);
      case 'cancelled':
        this.stopTicker();
        if (this.deps.interaction?.abort()) return;
        return this.enter({ kind: 'cancelled', qrSrc: qrOf(p), user: p.kind === 'scanned' ? p.user : undefined });
      case 'expired':
        return this.loginLost('expired');
    }
  }

  /**
   * confirmed → redeeming → signed in: the one path from a login the phone confirmed to a signed-in page.
   * `ticket` is absent when the confirmation was redeemed elsewhere (signIn() then asks /api/me).
   */
  private async finish(shown: Omit<Extract<Phase, { kind: 'redeeming' }>, 'kind'>, ticket?: string): Promise<void> {
    const gen = this.generation;
    this.enter({ kind: 'redeeming', ...shown });
    const signedIn = await signIn(this.deps.api, shown.login, ticket, () => gen === this.generation);
    if (gen !== this.generation) return;
    if (signedIn && this.deps.interaction?.finish(shown.login)) return; // the site takes over
    if (signedIn) this.signedIn(signedIn);
    else this.showError('errorRedeem');
  }

  private onFatal(code: WatchFatalCode): void {
    if (code === 'login_expired') return this.loginLost('expired');
    if (code === 'unknown_login') return this.loginLost('unknown_login');
    this.showError('errorForbidden');
  }

  private onTransport(kind: TransportKind): void {
    this.transport = kind;
    this.render();
  }

  /**
   * Inside WeChat: no QR code — the server binds this browser as the phone and hands back WeChat's authorize URL;
   * WeChat's OAuth confirms the login at its callback and sends the browser back here, to returned().
   */
  private async goDirect(gen: number, login: CreatedLogin, same: SameDevice): Promise<void> {
    this.enter({ kind: 'loading', message: 'direct' });
    let url: string;
    try {
      ({ url } = await this.deps.api.startDirect(login.id, login.watchToken));
    } catch {
      if (gen === this.generation) this.showError('errorGeneric');
      return;
    }
    if (gen === this.generation) same.leave(login, url);
  }

  /** Back from the same-device OAuth round trip: redeem what it confirmed, or say how it ended. */
  private async returned(login: CreatedLogin): Promise<void> {
    const gen = this.beginAttempt();
    const shown = { login, expiresAt: login.expiresAt };
    this.enter({ kind: 'redeeming', ...shown });
    let snap: LoginSnapshot;
    try {
      snap = await this.deps.api.getLogin(login.id, login.watchToken);
    } catch {
      // The login is gone or unreadable: whatever happened, a session may exist (or a new login starts).
      if (gen === this.generation) await this.resume(gen);
      return;
    }
    if (gen !== this.generation) return;
    if (snap.status === 'confirmed') return this.finish({ ...shown, user: snap.user }, snap.ticket);
    if (snap.status === 'cancelled' && this.deps.interaction?.abort()) return;
    // Refused at WeChat, or back from the consent page without deciding: a click starts again.
    this.enter(snap.status === 'expired' ? { kind: 'expired' } : { kind: 'cancelled', user: snap.user });
  }

  private sameDevice(): SameDevice | undefined {
    return this.deps.device === 'wechat' ? this.deps.sameDevice : undefined;
  }

  /** The modes the server offers, for the switch; a failure keeps only the current mode on show. */
  private async loadConfig(): Promise<void> {
    try {
      this.offered = (await this.deps.api.fetchConfig()).modes;
      this.render();
    } catch {
      // The switch then shows only the current mode, which works regardless; a reload asks again.
    }
  }

  /**
   * The login expired or vanished: renew once automatically (see MAX_AUTO_RENEWALS), then wait for a click.
   * Never under a person who scanned it: the phone is on its confirm step, so the page says the code expired.
   */
  private loginLost(kind: 'expired' | 'unknown_login'): void {
    const scanned = this.phase.kind === 'scanned' ? this.phase : undefined;
    this.endAttempt();
    if (scanned && kind === 'expired') {
      this.enter({ kind: 'expired', qrSrc: qrOf(scanned), scanned: true, user: scanned.user });
      return;
    }
    if (this.autoRenewalsLeft > 0) {
      this.autoRenewalsLeft--;
      void this.newLogin('renewed');
      return;
    }
    if (kind === 'expired') this.enter({ kind: 'expired', qrSrc: qrOf(this.phase) });
    else this.showError('errorUnknownLogin');
  }

  /** Shows the session's user if the cookie is valid, otherwise starts a login. */
  private async resume(gen: number): Promise<void> {
    let session: SignedIn | null = null;
    try {
      // An interaction always asks the phone: the site is owed a fresh confirmation naming it.
      if (!this.deps.interaction) session = await this.deps.api.fetchMe();
    } catch {
      // /api/me failing is no reason not to offer a QR code; creating the login reports real outages.
    }
    if (gen !== this.generation) return;
    if (session) this.signedIn(session);
    else await this.newLogin();
  }

  private signedIn(session: SignedIn): void {
    this.endAttempt();
    this.enter({ kind: 'confirmed', user: session.user });
  }

  private showError(message: MessageKey): void {
    this.endAttempt();
    this.enter({ kind: 'error', message });
  }

  /** Abandons whatever the current attempt was doing and returns the new generation. */
  private beginAttempt(): number {
    this.endAttempt();
    return ++this.generation;
  }

  private endAttempt(): void {
    this.watch?.stop();
    this.watch = null;
    this.transport = null;
    this.stopTicker();
  }

  // ---- Rendering and countdown --------------------------------------------------------------------------

  private enter(phase: Phase): void {
    this.phase = phase;
    this.render();
  }

  private render(): void {
    const ctx = { mode: this.mode, transport: this.transport, offered: this.offered, device: this.deps.device };
    this.deps.view.render(screenOf(this.phase, ctx));
    this.tick();
  }

  private startTicker(): void {
    this.stopTicker();
    this.ticker = setInterval(() => this.tick(), 1000);
  }

  private stopTicker(): void {
    if (this.ticker !== undefined) clearInterval(this.ticker);
    this.ticker = undefined;
  }

  private tick(): void {
    const p = this.phase;
    if (!isWatching(p) && p.kind !== 'redeeming') return;
    const remaining = p.expiresAt - (Date.now() + this.skewMs);
    this.deps.view.renderCountdown(remaining);
    // The server normally reports the expiry itself; this guards against a transport that went quiet.
    if (isWatching(p) && remaining < -LOCAL_EXPIRY_GRACE_MS) this.loginLost('expired');
  }
}
