// oidc-provider ships no type declarations: these cover only what server/oidc uses.
declare module 'oidc-provider' {
  type IncomingMessage = import('node:http').IncomingMessage;
  type ServerResponse = import('node:http').ServerResponse;

  export type AdapterPayload = Record<string, unknown> & {
    grantId?: string;
    uid?: string;
    userCode?: string;
    consumed?: unknown;
  };

  export interface Adapter {
    upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void>;
    find(id: string): Promise<AdapterPayload | undefined>;
    findByUid(uid: string): Promise<AdapterPayload | undefined>;
    findByUserCode(userCode: string): Promise<AdapterPayload | undefined>;
    consume(id: string): Promise<void>;
    destroy(id: string): Promise<void>;
    revokeByGrantId(grantId: string): Promise<void>;
  }

  export interface Account {
    accountId: string;
    claims(use: string, scope: string, claims: unknown, rejected: string[]): Promise<Record<string, unknown>>;
  }

  export interface ClientInstance {
    clientId: string;
    clientName?: string;
    redirectUris: string[];
    metadata(): Record<string, unknown>;
  }

  export interface InteractionDetails {
    uid: string;
    prompt: { name: string; reasons: string[]; details: Record<string, unknown> };
    params: Record<string, unknown> & { client_id?: string; scope?: string; redirect_uri?: string };
    session?: { accountId: string; uid: string };
    grantId?: string;
    returnTo: string;
  }

  export interface GrantInstance {
    addOIDCScope(scope: string): void;
    addOIDCClaims(claims: string[]): void;
    save(): Promise<string>;
  }

  export interface GrantModel {
    new (init: { accountId: string; clientId: string }): GrantInstance;
    find(id: string): Promise<GrantInstance | undefined>;
  }

  export interface InteractionResult {
    login?: { accountId: string; amr?: string[]; acr?: string; remember?: boolean; ts?: number };
    consent?: { grantId?: string };
    error?: string;
    error_description?: string;
  }

  export class OIDCProviderError extends Error {
    constructor(status: number, message: string);
    error: string;
    error_description?: string;
    statusCode: number;
    expose: boolean;
  }

  class InvalidGrant extends OIDCProviderError {
    constructor(detail?: string);
  }

  export const errors: {
    InvalidGrant: typeof InvalidGrant;
    OIDCProviderError: typeof OIDCProviderError;
  };

  /** Validated by oidc-provider itself at construction. */
  export type Configuration = Record<string, unknown>;

  /** A Koa application (only the members scanlogin uses). */
  export default class Provider {
    constructor(issuer: string, configuration?: Configuration);
    proxy: boolean;
    maxIpsCount: number;
    callback(): (req: IncomingMessage, res: ServerResponse) => Promise<void>;
    readonly issuer: string;
    Client: { find(id: string): Promise<ClientInstance | undefined> };
    Grant: GrantModel;
    Interaction: { find(uid: string): Promise<{ params: Record<string, unknown>; exp: number } | undefined> };
    interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<InteractionDetails>;
    interactionFinished(
      req: IncomingMessage,
      res: ServerResponse,
      result: InteractionResult,
      opts?: { mergeWithLastSubmission?: boolean },
    ): Promise<void>;
    interactionResult(
      req: IncomingMessage,
      res: ServerResponse,
      result: InteractionResult,
      opts?: { mergeWithLastSubmission?: boolean },
    ): Promise<string>;
  }
}
