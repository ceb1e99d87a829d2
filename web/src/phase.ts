/**
 * The login page's phase (one discriminated union: what the page is doing now, with the data that phase has)
 * and the screen derived from it. Pure: no DOM, no timers, no network.
 *
 *   loading → pending → scanned → redeeming → confirmed
 *                     ↘ cancelled | expired | error   (each offers #refresh)
 *
 * While the service says its login store is down, a pending or scanned login is shown as `busy` (its QR masked).
 */
import type { CreatedLogin, LoginMode, ScanUser, User } from './api.js';
import type { Device } from './device.js';
import type { MessageKey } from './messages.js';
import type { TransportKind } from './transport.js';

/** A login whose QR code is on screen, with its deadline (server epoch ms, updated by every status). */
interface Shown {
  login: CreatedLogin;
  expiresAt: number;
}

export type Phase =
  /** `message`: what the wait is for, when it is not a new QR code (`busy`: retrying a 503; `direct`). */
  | { kind: 'loading'; note?: MessageKey; message?: MessageKey }
  | ({ kind: 'pending'; note?: MessageKey } & Shown)
  /** `user` arrives with the second `scanned` (once WeChat identified the phone's owner). */
  | ({ kind: 'scanned'; user?: ScanUser } & Shown)
  /** The phone confirmed; the page is spending the ticket (or asking /api/session) to sign this browser in. */
  | ({ kind: 'redeeming'; user?: ScanUser } & Shown)
  | { kind: 'confirmed'; user: User }
  /**
   * `here`: this page cancelled it ("Not you?"), not the phone. `ended`: the server ended it (its account revoked
   * the platform, …), and what the page says instead.
   */
  | { kind: 'cancelled'; qrSrc?: string; user?: ScanUser; here?: boolean; ended?: MessageKey }
  /** `scanned`: it expired while the phone was on its confirm step (the page says so, never renews it silently). */
  | { kind: 'expired'; qrSrc?: string; scanned?: boolean; user?: ScanUser | undefined }
  /** `retry: false`: a new QR code would meet the same (a page with no sign-in of its own): no #refresh. */
  | { kind: 'error'; message: MessageKey; retry?: false };

export type PhaseKind = Phase['kind'];

/** The phases whose login is still being watched (the countdown runs and may conclude the expiry locally). */
export function isWatching(p: Phase): p is Extract<Phase, { kind: 'pending' | 'scanned' }> {
  return p.kind === 'pending' || p.kind === 'scanned';
}

/** The QR code image of the phase, if one is shown (a framed login shows WeChat's page instead). */
export function qrOf(p: Phase): string | undefined {
  switch (p.kind) {
    case 'pending':
    case 'scanned':
    case 'redeeming':
      return p.login.frameUrl === undefined ? p.login.qr.svg : undefined;
    case 'cancelled':
    case 'expired':
      return p.qrSrc;
    default:
      return undefined;
  }
}

/**
 * `#login-widget[data-state]`: the phases, with `redeeming` shown as `scanned` (the QR and person stay), and `busy`
 * for a pending or scanned login while the service is down.
 */
export type WidgetState = Exclude<PhaseKind, 'redeeming'> | 'busy';

/** Modes whose scan itself identifies the person (the Official Account's scan event, the mini program's code). */
const IDENTIFIED_AT_SCAN: ReadonlySet<LoginMode> = new Set(['mp-qrcode', 'miniprogram']);

export interface Person {
  /** Absent: shown as "WeChat user" (mp-qrcode and miniprogram know only the OpenID). */
  nickname?: string;
  avatar?: string;
  /** Only for the signed-in user (not shown for the scanner before redeem). */
  openid?: string;
}

/** Everything view.ts shows, derived from the phase by screenOf(); view.ts decides nothing. */
export interface Screen {
  state: WidgetState;
  /** The heading: "Sign in with WeChat" (or "Sign in to <site>"), then "Signed in". */
  title: MessageKey;
  /** The site this sign-in is for, when the page knows it (an OpenID Connect client's name). */
  site?: string;
  /** The modes the switch offers (those the page's logins can run, page-modes.ts); hidden below two. */
  modes: readonly LoginMode[];
  /** A phone's ordinary browser: "scan from another device", with "copy link" (this URL) and "save the QR image". */
  otherDevice?: { scanUrl: string; pngSrc: string };
  /** The sign-in method (the mode switch highlights it, the subtitle names it). */
  mode: LoginMode;
  message: MessageKey;
  /** A secondary line, e.g. "a new QR code was generated". */
  note?: MessageKey;
  qrSrc?: string;
  /**
   * qrconnect: WeChat's login page to frame in the QR's place (it draws the QR and follows the scan itself; the
   * frame lands on our callback, and the page learns the outcome over its watch as in every mode).
   */
  frameSrc?: string;
  /** Server epoch ms of the deadline while the countdown is shown. */
  expiresAt?: number;
  person?: Person;
  /** Dev mode: where "Simulate phone scan" goes, while a phone can still scan. */
  simulateUrl?: string;
  /** Dev mode: the command that makes the QR scannable by a real phone (the QR holds localhost). */
  devPhoneCommand?: string;
  /** The mode switch, subtitle and QR area: everything but a signed-in user. */
  signingIn: boolean;
  /** "Live updates via polling" (#transport). */
  polling: boolean;
  /** #refresh: a new QR code, offered once nothing more can happen to this one. */
  refresh: boolean;
  /** #logout. */
  logout: boolean;
  /** #not-you: the person shown as having scanned is not the one here; cancels this login. */
  notYou: boolean;
}

export interface ScreenContext {
  mode: LoginMode;
  /** The modes the server offers, once known (until then: only the current one). */
  offered?: readonly LoginMode[] | undefined;
  device?: Device | undefined;
  /** The transport of the current watch, if any. */
  transport: TransportKind | null;
  /** The service said its login store is down, and no status came since. */
  serviceDown?: boolean;
  /** The site this sign-in is for (an interaction's client name). */
  site?: string | undefined;
}

export function screenOf(p: Phase, ctx: ScreenContext): Screen {
  // A login the service cannot serve now: nothing on screen may look usable (the QR masked, no countdown, no buttons).
  if (ctx.serviceDown && isWatching(p)) return busyScreen(p, ctx);
  const screen: Screen = {
    state: p.kind === 'redeeming' ? 'scanned' : p.kind,
    title: p.kind === 'confirmed' ? 'titleSignedIn' : ctx.site ? 'titleSite' : 'title',
    // Inside WeChat the page signs in directly, which only the oauth mode can do.
    modes: ctx.device === 'wechat' ? [ctx.mode] : (ctx.offered ?? [ctx.mode]),
    mode: ctx.mode,
    message: messageOf(p, ctx.mode),
    signingIn: p.kind !== 'confirmed',
    polling: false,
    refresh: p.kind === 'cancelled' || p.kind === 'expired' || (p.kind === 'error' && p.retry !== false),
    logout: p.kind === 'confirmed',
    // Once the person who scanned is known: with the scan itself in the Official Account and mini program modes.
    notYou: p.kind === 'scanned' && (p.user !== undefined || IDENTIFIED_AT_SCAN.has(ctx.mode)),
  };
  if (ctx.site && p.kind !== 'confirmed') screen.site = ctx.site;
  const qrSrc = qrOf(p);
  if (qrSrc !== undefined) screen.qrSrc = qrSrc;
  // Kept through scanned and redeeming (hidden under the "Scanned" panel): dropping it would reload WeChat's page.
  if ((p.kind === 'pending' || p.kind === 'scanned' || p.kind === 'redeeming') && p.login.frameUrl) {
    screen.frameSrc = p.login.frameUrl;
  }
  if ((p.kind === 'loading' || p.kind === 'pending') && p.note) screen.note = p.note;
  if (p.kind === 'pending' || p.kind === 'scanned' || p.kind === 'redeeming') {
    screen.polling = ctx.transport === 'poll';
  }
  // Once scanned, the phone is where things happen: the countdown and the simulated phone step aside.
  if (p.kind === 'pending') {
    screen.expiresAt = p.expiresAt;
    if (p.login.devMode && p.login.simulateUrl) screen.simulateUrl = p.login.simulateUrl;
    if (p.login.devMode && p.login.lanUrl) {
      screen.devPhoneCommand = `PUBLIC_URL=${p.login.lanUrl} SIM_HOST=0.0.0.0 npm start`;
    }
    if (ctx.device === 'phone') screen.otherDevice = { scanUrl: p.login.scanUrl, pngSrc: p.login.qr.png };
  }
  const person = personOf(p);
  if (person) screen.person = person;
  return screen;
}

function busyScreen(p: Extract<Phase, { kind: 'pending' | 'scanned' }>, ctx: ScreenContext): Screen {
  const screen: Screen = {
    state: 'busy',
    title: ctx.site ? 'titleSite' : 'title',
    modes: ctx.device === 'wechat' ? [ctx.mode] : (ctx.offered ?? [ctx.mode]),
    mode: ctx.mode,
    message: 'serviceDown',
    signingIn: true,
    polling: false,
    refresh: false,
    logout: false,
    notYou: false,
  };
  const qrSrc = qrOf(p);
  if (qrSrc !== undefined) screen.qrSrc = qrSrc;
  if (p.login.frameUrl) screen.frameSrc = p.login.frameUrl;
  if (ctx.site) screen.site = ctx.site;
  const person = personOf(p);
  if (person) screen.person = person;
  return screen;
}

function messageOf(p: Phase, mode: LoginMode): MessageKey {
  switch (p.kind) {
    case 'scanned':
      // Only OAuth has a step between the scan and the identity; the other modes wait for the phone's Confirm.
      return p.user || mode !== 'oauth' ? 'scanned' : 'scannedWaiting';
    case 'error':
      return p.message;
    case 'loading':
      return p.message ?? 'loading';
    case 'expired':
      return p.scanned ? 'expiredScanned' : 'expired';
    case 'cancelled':
      return p.ended ?? (p.here ? 'cancelledHere' : 'cancelled');
    default:
      return p.kind;
  }
}

function personOf(p: Phase): Person | undefined {
  switch (p.kind) {
    case 'scanned':
    case 'redeeming':
    case 'cancelled':
    case 'expired':
      return p.user && { ...p.user };
    case 'confirmed':
      return { nickname: p.user.nickname, avatar: p.user.avatar, openid: p.user.openid };
    default:
      return undefined;
  }
}
