import { describe, expect, it } from 'vitest';
import { type ClientEntry, ClientRegistry } from '../../server/oidc/clients.js';

const client = (id: string, uri = `http://127.0.0.1:9/${id}`): ClientEntry => ({
  client_id: id,
  client_secret: `${id}-secret-0123456789`,
  redirect_uris: [uri],
});

describe('ClientRegistry: every source side by side', () => {
  const env = { source: 'the environment (OIDC_CLIENT_ID)', client: client('env-site') };
  const shop = { source: 'Example Shop (DEMO_CLIENT_SECRET)', client: client('example-shop') };

  it('holds the environment, the shop, CONFIG_FILE and the clients file at once', () => {
    const r = new ClientRegistry([env, shop]);
    expect(r.update([client('from-config')])).toBeUndefined();
    expect(r.update([client('my-site')], '.scanlogin/clients.json')).toBeUndefined();
    expect(r.ids()).toEqual(['env-site', 'example-shop', 'from-config', 'my-site']);
    expect(r.get('example-shop')?.redirect_uris).toEqual(['http://127.0.0.1:9/example-shop']);
    // Replacing one file's list leaves the others' clients alone.
    expect(r.update([], '.scanlogin/clients.json')).toBeUndefined();
    expect(r.ids()).toEqual(['env-site', 'example-shop', 'from-config']);
  });

  it('refuses a list that reuses an id of another source, names that source, and keeps the list in force', () => {
    const r = new ClientRegistry([env, shop]);
    r.update([client('my-site')], '.scanlogin/clients.json');
    const refused = r.update([client('my-site'), client('example-shop')], '.scanlogin/clients.json');
    // Its own list is replaced whole, so my-site is no conflict; example-shop is the shop's.
    expect(refused).toBe(
      '.scanlogin/clients.json: client_id example-shop is registered by Example Shop (DEMO_CLIENT_SECRET) already',
    );
    expect(r.lastError).toBe(refused);
    expect(r.ids()).toEqual(['env-site', 'example-shop', 'my-site']);
    expect(r.update([client('from-config'), client('my-site')])).toMatch(
      /^oidc\.clients: client_id my-site is registered by \.scanlogin\/clients\.json already$/,
    );
    // Fixing the file clears its error only.
    expect(r.update([client('my-site')], '.scanlogin/clients.json')).toBeUndefined();
    expect(r.lastError).toMatch(/^oidc\.clients:/);
  });
});

describe('ClientRegistry: a deployment with no WeChat app of its own', () => {
  it('refuses a site that names no account (it could run no login), and keeps the list in force', () => {
    const r = new ClientRegistry([], { accountRequired: true });
    expect(r.update([{ ...client('bound'), account: 'wx1a2b3c4d5e6f7081' }])).toBeUndefined();
    const refused = r.update([{ ...client('bound'), account: 'wx1a2b3c4d5e6f7081' }, client('unbound')]);
    expect(refused).toMatch(/^oidc\.clients: unbound: must name its WeChat account \(`account`\)/);
    expect(r.ids()).toEqual(['bound']);
    // A deployment with an app of its own serves such a site with it.
    expect(new ClientRegistry().update([client('unbound')])).toBeUndefined();
  });
});
