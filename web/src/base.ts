/**
 * Where the app is mounted. The server puts `<base href="<BASE_PATH>/">` first in the page's head
 * (server/http/static.ts), and the page is served at `<base>/`, `<base>/interaction/<uid>` and `<base>/authorize`:
 * every path the page fetches, posts to or navigates to is resolved against that base, never against `/`.
 */
export function appRoot(doc: Document): URL {
  // No <base> element (a copy of the page served by something else): the app is at the origin's root.
  return doc.querySelector('base[href]') ? new URL(doc.baseURI) : new URL('/', doc.baseURI);
}

/** An app path such as `/api/me` as a URL under `root`. */
export function appUrl(root: URL, path: string): string {
  return new URL(path.replace(/^\/+/, ''), root).href;
}

/** `pathname` relative to `root`, with a leading slash (`/interaction/x`); undefined when outside it. */
export function appPath(root: URL, pathname: string): string | undefined {
  return pathname.startsWith(root.pathname) ? `/${pathname.slice(root.pathname.length)}` : undefined;
}
