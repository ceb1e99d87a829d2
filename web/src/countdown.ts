/** The QR code's countdown: the page's clock corrected by the server's, and a one-second tick while it runs. */

/** Server Date headers have 1 s resolution; only a larger difference is treated as real clock skew. */
const MIN_SKEW_MS = 2000;

export class Countdown {
  /** serverTime ≈ Date.now() + skewMs, estimated from the create response's Date header. */
  private skewMs = 0;
  private ticker: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly tick: () => void) {}

  /** Takes the server's clock from a response's Date header (server epoch ms), when there is one. */
  calibrate(serverDate: number | undefined): void {
    const skew = serverDate !== undefined ? serverDate - Date.now() : 0;
    this.skewMs = Math.abs(skew) > MIN_SKEW_MS ? skew : 0;
  }

  /** Time left until `deadline` (server epoch ms), by the server's clock. */
  remaining(deadline: number): number {
    return deadline - (Date.now() + this.skewMs);
  }

  start(): void {
    this.stop();
    this.ticker = setInterval(this.tick, 1000);
  }

  stop(): void {
    if (this.ticker !== undefined) clearInterval(this.ticker);
    this.ticker = undefined;
  }
}
