/**
 * The login whose QR code is on screen, with everything that lives and dies with it: its watch (transport.ts),
 * the countdown's clock, and what the service and this page said about it. The widget (widget.ts) makes one per
 * login and stops it when the page moves on; a stopped attempt reports nothing more.
 */
import type { Api, CreatedLogin } from './api.js';
import { Countdown } from './countdown.js';
import { LoginWatch, type TransportKind, type WatchDeps, type WatchEvents } from './transport.js';

/** If the server has not reported the expiry this long after the deadline, the page concludes it locally. */
export const LOCAL_EXPIRY_GRACE_MS = 5000;

export class Attempt {
  /** The watch's transport, once it has one (the page says "live updates via polling"). */
  transport: TransportKind | null = null;
  /** The service said its login store is down and no status came since: the QR is shown as unusable. */
  serviceDown = false;
  /** This login lived through an outage of the service (it may be gone once the service is back). */
  outage = false;
  /** This page cancelled the login itself ("Not you?"): its cancellation is not the phone's refusal. */
  cancelledHere = false;
  private readonly countdown: Countdown;
  private watch: LoginWatch | null = null;
  private stopped = false;

  /** `serverDate`: the create response's Date header, for the countdown; `tick` runs every second until stop(). */
  constructor(
    readonly login: CreatedLogin,
    serverDate: number | undefined,
    tick: () => void,
  ) {
    this.countdown = new Countdown(tick);
    this.countdown.calibrate(serverDate);
  }

  /** Starts the countdown and the watch; `events` are called only while this attempt runs. */
  start(events: WatchEvents, deps: { openSocket: WatchDeps['openSocket']; getLogin: Api['getLogin'] }): void {
    const live =
      <A extends unknown[]>(fn: ((...args: A) => void) | undefined) =>
      (...args: A) => {
        if (!this.stopped) fn?.(...args);
      };
    this.countdown.start();
    const { id, watchToken, ws } = this.login;
    this.watch = new LoginWatch(
      { wsUrl: ws, id, watchToken },
      {
        status: live(events.status),
        fatal: live(events.fatal),
        transport: live((kind: TransportKind) => {
          this.transport = kind;
          events.transport?.(kind);
        }),
        service: live(events.service),
      },
      deps,
    );
    this.watch.start();
  }

  /** Time left until `deadline` (server epoch ms), by the server's clock. */
  remaining(deadline: number): number {
    return this.countdown.remaining(deadline);
  }

  /** The login reached an end the page shows without a countdown (confirmed, cancelled). */
  stopCountdown(): void {
    this.countdown.stop();
  }

  stop(): void {
    this.stopped = true;
    this.watch?.stop();
    this.countdown.stop();
  }
}
