/** The part of the DOM's WebSocket the login's watch uses (transport.ts); tests give an in-process fake. */

/**
 * A handler slot of a WebSocket. Declared through a method so that the DOM's WebSocket, whose handlers take
 * richer event types, fits (method parameters are compared bivariantly).
 */
type Slot<E> = { handle(ev: E): void }['handle'] | null;

/** The part of the DOM's WebSocket this module uses. */
export interface SocketLike {
  onopen: Slot<unknown>;
  onmessage: Slot<{ data: unknown }>;
  onclose: Slot<{ code: number }>;
  onerror: Slot<unknown>;
  send(data: string): void;
  close(code?: number): void;
}
