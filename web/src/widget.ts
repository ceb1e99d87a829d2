/**
 * The login widget's state machine: create a login, watch it, redeem the ticket, show the user.
 *
 *   loading → pending → scanned → (redeem) → confirmed
 *                     ↘ cancelled | expired | error   (each offers #refresh)
 *
 * Every login attempt gets a generation number; results of an older attempt (a late create, a status from
 * its watch, a redeem that resolves after the user moved on) are dropped, so they never render over the
 * current one.
 */
import * as api from './api.js';
import { ApiError, type CreatedLogin, type LoginSnapshot, type User } from './api.js';
import { NETWORK_ERROR, type WatchFatalCode } from './codes.js';
import type { I18n, MessageKey } from './i18n.js';
import { LoginWatch } from './transport.js';
import { fullJitter, sleep } from './backoff.js';
import { WidgetView, type ViewModel } from './view.js';
import { abortInteraction, finishInteraction, inInteraction } from './interaction.js';

/** How long transient redeem failures are retried: the server's default ticket lifetime (TICKET_TTL). */
const REDEEM_RETRY_MS = 60_000;

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

export class LoginWidget {
  private readonly view: WidgetView;
  private vm: ViewModel = { state: 'loading', message: 'loading' };
  private generation = 0;
  private login: CreatedLogin | null = null;
  private watch: LoginWatch | null = null;
  private autoRenewalsLeft = MAX_AUTO_RENEWALS;
  /** The sign-in method chosen with the mode switch; renewals keep it. */
  private mode: api.LoginMode = 'oauth';
  /** serverTime ≈ Date.now() + skewMs, estimated from the create response's Date header. */
  private skewMs = 0;
  private ticker: ReturnType<typeof setInterval> | undefined;

  constructor(readonly i18n: I18n) {
    this.view = new WidgetView(i18n);
    this.view.refreshButton.addEventListener('click', () => void this.newLogin());
    this.view.logoutButton.addEventListener('click', () => void this.logout());
    this.view.langToggle.addEventListener('click', () => i18n.toggle());
    for (const [mode, button] of this.view.modeButtons)
      button.addEventListener('click', () => void this.switchMode(mode));
    i18n.onChange(() => this.render());
  }

  /** On load: show the signed-in user if there is one, otherwise start a login. */
  async start(): Promise<void> {
    this.render();
    await this.resume(this.generation);
  }

  /** Stops the watch and the countdown (page unload). */
  dispose(): void {
    this.generation++;
    this.watch?.stop();
    this.watch = null;
    this.stopTicker();
  }

  // ---- Transitions ---------------------------------------------------------------------------------------

  /** A click on the mode switch: a human asking, so a new login in that mode (never automatic, never a loop). */
  private async switchMode(mode: api.LoginMode): Promise<void> {
    if (mode === this.mode && (this.vm.state === 'pending' || this.vm.state === 'loading')) return;
    if (this.vm.state === 'confirmed') return;
    this.mode = mode;
    await this.newLogin();
  }

  private async newLogin(note?: MessageKey): Promise<void> {
    const gen = this.beginAttempt();
    this.set({ state: 'loading', message: 'loading', note });
    let created: api.Timed<CreatedLogin>;
    try {
      created = await api.createLogin(this.mode);
    } catch (err) {
      if (gen === this.generation)
        this.showError(err instanceof ApiError && err.code === NETWORK_ERROR ? 'errorNetwork' : 'errorGeneric');
      return;
    }
    if (gen !== this.generation) return;
    const login = created.data;
    this.login = login;
    const skew = created.serverDate !== undefined ? created.serverDate - Date.now() : 0;
    this.skewMs = Math.abs(skew) > MIN_SKEW_MS ? skew : 0;
    this.set({
      state: 'pending',
      message: 'pending',
      note,
      qrSrc: login.qr.svg,
      expiresAt: login.expiresAt,
      // Dev mode: the server names the simulated phone for this mode (OAuth pages, Official Account, mini program).
      ...(login.devMode && login.simulateUrl && { simulateUrl: login.simulateUrl }),
    });
    this.startTicker();
    const watch = new LoginWatch(
      { wsUrl: login.ws, id: login.id, watchToken: login.watchToken },
      {
        status: (s) => gen === this.generation && this.onStatus(s),
        fatal: (code) => gen === this.generation && this.onFatal(code),
        transport: (kind) => gen === this.generation && this.set({ ...this.vm, transport: kind }),
      },
    );
    this.watch = watch;
    watch.start();
  }

  private onStatus(s: LoginSnapshot): void {
    const base = { ...this.vm, expiresAt: s.expiresAt };
    switch (s.status) {
      case 'pending':
        return this.set({ ...base, state: 'pending', message: 'pending' });
      case 'scanned':
        return this.set({
          ...base,
          state: 'scanned',
          message: s.user ? 'scanned' : 'scannedWaiting',
          note: undefined,
          person: s.user ? { ...s.user } : undefined,
        });
      case 'confirmed':
        this.stopTicker();
        if (s.ticket) return void this.redeem(s.ticket);
        // A confirmed status without a ticket: redeemed elsewhere (another tab of this browser?) — ask /api/me.
        return void this.recoverSession();
      case 'cancelled':
        this.stopTicker();
        if (abortInteraction()) return;
        return this.set({ state: 'cancelled', message: 'cancelled', qrSrc: this.vm.qrSrc, person: this.vm.person });
      case 'expired':
        return this.loginLost('expired');
    }
  }

  private onFatal(code: WatchFatalCode): void {
    if (code === 'login_expired') return this.loginLost('expired');
    if (code === 'unknown_login') return this.loginLost('unknown_login');
    this.endAttempt();
    this.showError('errorForbidden');
  }

  /** The login expired or vanished: renew once automatically (see MAX_AUTO_RENEWALS), then wait for a click. */
  private loginLost(kind: 'expired' | 'unknown_login'): void {
    this.endAttempt();
    if (this.autoRenewalsLeft > 0) {
      this.autoRenewalsLeft--;
      void this.newLogin('renewed');
      return;
    }
    if (kind === 'expired') this.set({ state: 'expired', message: 'expired', qrSrc: this.vm.qrSrc });
    else this.showError('errorUnknownLogin');
  }

  private async redeem(ticket: string): Promise<void> {
    const login = this.login;
    if (!login) return;
    const gen = this.generation;
    this.set({ ...this.vm, state: 'scanned', message: 'redeeming', note: undefined, simulateUrl: undefined });
    // A network failure or 5xx (e.g. a Redis switch in progress) is retried with backoff while the ticket can
    // still be valid; a 4xx is final.
    const started = Date.now();
    for (let attempt = 0; gen === this.generation; attempt++) {
      try {
        const user = await api.redeem(login.id, login.watchToken, ticket);
        if (gen === this.generation && !finishInteraction(login)) this.showUser(user);
        return;
      } catch (err) {
        const transient = !(err instanceof ApiError) || err.status >= 500;
        if (!transient || Date.now() - started > REDEEM_RETRY_MS) break;
        await sleep(fullJitter(attempt));
      }
    }
    // e.g. 409 ticket_used: another tab may have redeemed it and our cookie is already set.
    if (gen === this.generation) await this.recoverSession();
  }

  private async recoverSession(): Promise<void> {
    const gen = this.generation;
    const user = await api.fetchMe().catch(() => null);
    if (gen !== this.generation) return;
    if (user) this.showUser(user);
    else this.showError('errorRedeem');
  }

  private async logout(): Promise<void> {
    const gen = this.beginAttempt();
    this.set({ state: 'loading', message: 'loading' });
    try {
      await api.logout();
    } catch {
      // Whatever happened, show the truth: still signed in, or not (then a new QR code).
      if (gen === this.generation) await this.resume(gen);
      return;
    }
    if (gen === this.generation) await this.newLogin();
  }

  /** Shows the session's user if the cookie is valid, otherwise starts a login. */
  private async resume(gen: number): Promise<void> {
    let user: User | null = null;
    try {
      // An interaction always asks the phone: the site is owed a fresh confirmation naming it.
      if (!inInteraction) user = await api.fetchMe();
    } catch {
      // /api/me failing is no reason not to offer a QR code; creating the login reports real outages.
    }
    if (gen !== this.generation) return;
    if (user) this.showUser(user);
    else await this.newLogin();
  }

  private showUser(user: User): void {
    this.endAttempt();
    this.set({
      state: 'confirmed',
      message: 'confirmed',
      person: { nickname: user.nickname, avatar: user.avatar, openid: user.openid },
    });
  }

  private showError(message: MessageKey): void {
    this.endAttempt();
    this.set({ state: 'error', message, qrSrc: undefined });
  }

  /** Abandons whatever the current attempt was doing and returns the new generation. */
  private beginAttempt(): number {
    this.endAttempt();
    return ++this.generation;
  }

  private endAttempt(): void {
    this.watch?.stop();
    this.watch = null;
    this.stopTicker();
  }

  // ---- Rendering and countdown --------------------------------------------------------------------------

  private set(vm: ViewModel): void {
    this.vm = { ...vm, mode: this.mode };
    this.render();
  }

  private render(): void {
    this.view.render(this.vm);
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
    const { state, expiresAt } = this.vm;
    if (expiresAt === undefined || (state !== 'pending' && state !== 'scanned')) return;
    const remaining = expiresAt - (Date.now() + this.skewMs);
    this.view.renderCountdown(remaining);
    // The server normally reports the expiry itself; this guards against a transport that went quiet.
    if (remaining < -LOCAL_EXPIRY_GRACE_MS && this.vm.message !== 'redeeming') this.loginLost('expired');
  }
}
