/** A started role: whoever started it stops it (idempotent, drains then forces). */
export interface Running {
  stop(): Promise<void>;
}
