// The FHIR REST endpoint under /fhir: content negotiation, bearer-token checks and scope enforcement, then
// Medplum's router on a per-request store view; batch and transaction Bundles go to bundles.mjs.
// Requests that touch the store run one at a time (a promise queue), so a transaction never interleaves with
// another request; the configured delay is applied outside the queue.
import { OperationOutcomeError, getStatus, isOk } from '@medplum/core';
import { processBundle } from './bundles.mjs';
import { HttpError, assertAcceptsJson, parseJsonBody, readBody, sendJson } from './http-util.mjs';
import { IntrospectionError } from './introspection.mjs';
import { OPEN_ACCESS, denied } from './repository.mjs';
import { INTERACTION_PERMISSION, tokenAccess } from './scopes.mjs';

const BODY_LIMIT_BYTES = 64 * 1024 * 1024;
const ROUTED_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];
const LOOPBACK_HOST = /^(127\.0\.0\.1|localhost|\[::1\]):\d+$/;
const REALM = 'sandbox-fhir';
const SMART_CONFIGURATION_TIMEOUT_MILLISECONDS = 5000;

export class FhirEndpoint {
  /**
   * @param {object} options
   * @param {import('./repository.mjs').SandboxRepository} options.store
   * @param {import('@medplum/fhir-router').FhirRouter} options.router
   * @param {{requireAuth: boolean, delayMs: number}} options.settings live settings (changed by /admin/config)
   * @param {{requests: number, withAuthorization: number}} options.stats
   * @param {import('./introspection.mjs').TokenIntrospector | undefined} options.introspector
   * @param {import('./capability.mjs').CapabilityBuilder} options.capability
   * @param {string | undefined} options.authBase
   * @param {string} options.defaultBaseUrl
   */
  constructor(options) {
    Object.assign(this, options);
    this.queue = Promise.resolve();
  }

  /** Answers one request under /fhir; returns the HTTP status sent. */
  async handle(req, res, url) {
    const answer = await this.answer(req, url);
    sendJson(res, answer.status, answer.body, answer.headers, answer.contentType);
    return answer.status;
  }

  async answer(req, url) {
    this.stats.requests++;
    if (req.headers.authorization) {
      this.stats.withAuthorization++;
    }
    let answer;
    try {
      answer = await this.dispatch(req, url, this.baseUrlFor(req));
    } catch (err) {
      answer = errorReply(err);
    }
    if (this.settings.delayMs > 0) {
      await new Promise((resolve) => setTimeout(resolve, this.settings.delayMs));
    }
    return answer;
  }

  async dispatch(req, url, baseUrl) {
    assertAcceptsJson(req, url);
    const path = url.pathname.replace(/^\/fhir\/*/, '');
    if (path === 'metadata' || path === '.well-known/smart-configuration') {
      if (req.method !== 'GET') {
        throw new HttpError(405, 'not-supported', `${req.method} is not allowed on /fhir/${path}`, { allow: 'GET' });
      }
      return path === 'metadata' ? this.metadata(baseUrl) : this.smartConfiguration();
    }
    const access = await this.authenticate(req);
    const relativeUrl = path + url.search;
    const route = ROUTED_METHODS.includes(req.method) ? this.router.find(req.method, relativeUrl) : undefined;
    if (!route || route.data?.interaction === 'operation') {
      throw this.noRoute(req.method, relativeUrl);
    }
    const { resourceType } = route.params;
    if (resourceType && !this.store.resourceTypes.has(resourceType)) {
      throw new HttpError(404, 'not-supported', `Unknown resource type: ${resourceType}`);
    }
    const body = await this.readRequestBody(req, route);
    const view = this.store.withContext({ baseUrl, access });
    if (route.data.interaction === 'batch') {
      const authorize = (entryRoute) => authorizationError(access, entryRoute);
      const result = await this.serialized(() => processBundle({ view, router: this.router, bundle: body, authorize }));
      return { status: result.status, body: result.body };
    }
    const refused = authorizationError(access, route);
    if (refused) {
      throw refused;
    }
    return this.route(req, view, relativeUrl, route, body);
  }

  async route(req, view, relativeUrl, route, body) {
    const ifMatch = req.headers['if-match'];
    if (ifMatch !== undefined && !/^(W\/)?"[^"]+"$/.test(ifMatch.trim())) {
      throw new HttpError(400, 'invalid', `If-Match must be an ETag such as W/"1" (got ${ifMatch})`);
    }
    if (route.data.interaction === 'create' && body && typeof body === 'object') {
      delete body.id; // the server assigns ids on create
    }
    const request = {
      method: req.method,
      url: relativeUrl,
      pathname: '',
      body,
      params: {},
      query: {},
      headers: req.headers,
      config: { transactions: false },
    };
    const [outcome, resource] = await this.serialized(() => this.router.handleRequest(request, view));
    let status = getStatus(outcome);
    if (!isOk(outcome)) {
      return { status, body: withoutId(outcome) };
    }
    const headers = {};
    if (resource?.meta?.versionId && resource.resourceType !== 'Bundle') {
      const { versionId, lastUpdated } = resource.meta;
      headers.etag = `W/"${versionId}"`;
      headers['last-modified'] = new Date(lastUpdated).toUTCString();
      if (req.method === 'PUT' && view.wasCreatedByUpdate(resource)) {
        status = 201;
      }
      if (status === 201) {
        headers.location = `${view.context.baseUrl}/${resource.resourceType}/${resource.id}/_history/${versionId}`;
      }
    }
    if (/return=minimal/.test(req.headers.prefer ?? '') && req.method !== 'GET') {
      return { status, headers, body: undefined };
    }
    return { status, headers, body: resource ?? withoutId(outcome) };
  }

  async readRequestBody(req, route) {
    const raw = await readBody(req, BODY_LIMIT_BYTES);
    if (!['POST', 'PUT', 'PATCH'].includes(req.method)) {
      return undefined;
    }
    const isSearch = route.data.interaction === 'search-type';
    if (raw.length === 0) {
      if (isSearch) {
        return {};
      }
      throw new HttpError(400, 'required', `${req.method} needs a FHIR JSON body`);
    }
    return parseJsonBody(req, raw, { allowForm: isSearch, allowJsonPatch: req.method === 'PATCH' });
  }

  async authenticate(req) {
    if (!this.settings.requireAuth) {
      return OPEN_ACCESS;
    }
    const header = req.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) {
      throw new HttpError(401, 'login', 'A bearer token is required', { 'www-authenticate': `Bearer realm="${REALM}"` });
    }
    if (!this.introspector) {
      throw new HttpError(503, 'exception', 'Authentication is required but no authorization server is configured');
    }
    let token;
    try {
      token = await this.introspector.introspect(match[1]);
    } catch (err) {
      if (err instanceof IntrospectionError) {
        throw new HttpError(503, 'transient', `Cannot check the token: ${err.message}`);
      }
      throw err;
    }
    if (token.active !== true) {
      const challenge = `Bearer realm="${REALM}", error="invalid_token", error_description="inactive, expired or revoked"`;
      throw new HttpError(401, 'login', 'The bearer token is not active', { 'www-authenticate': challenge });
    }
    return tokenAccess(token.scope, typeof token.patient === 'string' ? token.patient : undefined);
  }

  async metadata(baseUrl) {
    const smartConfiguration = this.authBase ? await this.fetchSmartConfiguration().catch(() => undefined) : undefined;
    return { status: 200, body: this.capability.build(baseUrl, { authServer: Boolean(this.authBase), smartConfiguration }) };
  }

  async smartConfiguration() {
    if (!this.authBase) {
      throw new HttpError(404, 'not-found', 'No authorization server is configured for this FHIR server');
    }
    try {
      return { status: 200, body: await this.fetchSmartConfiguration(), contentType: 'application/json' };
    } catch (err) {
      throw new HttpError(503, 'transient', `The authorization server's SMART configuration is unavailable: ${err.message}`);
    }
  }

  async fetchSmartConfiguration() {
    const response = await fetch(`${this.authBase}/.well-known/smart-configuration`, {
      headers: { accept: 'application/json' },
      signal: AbortSignal.timeout(SMART_CONFIGURATION_TIMEOUT_MILLISECONDS),
    });
    if (!response.ok) {
      throw new Error(`HTTP ${response.status}`);
    }
    return response.json();
  }

  noRoute(method, relativeUrl) {
    const allowed = ROUTED_METHODS.filter((other) => {
      const route = this.router.find(other, relativeUrl);
      return route && route.data?.interaction !== 'operation';
    });
    if (allowed.length > 0) {
      return new HttpError(405, 'not-supported', `${method} is not allowed here`, { allow: allowed.join(', ') });
    }
    return new HttpError(404, 'not-found', `No FHIR interaction at /fhir/${relativeUrl.split('?')[0]}`);
  }

  /** Runs `work` after every earlier store operation has finished. */
  serialized(work) {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** The FHIR base as the client addressed it (loopback names only), for fullUrls and paging links. */
  baseUrlFor(req) {
    const host = req.headers.host ?? '';
    return LOOPBACK_HOST.test(host) ? `http://${host}/fhir` : this.defaultBaseUrl;
  }
}

/** The 403 for an interaction the access does not allow, or undefined. */
function authorizationError(access, route) {
  if (access === OPEN_ACCESS) {
    return undefined;
  }
  const interaction = route.data?.interaction;
  const permission = INTERACTION_PERMISSION[interaction];
  const resourceType = route.params?.resourceType;
  if (!permission || !resourceType) {
    return interaction === 'batch' ? undefined : new HttpError(403, 'forbidden', `Interaction ${interaction} is not allowed`);
  }
  const decision = access.check(resourceType, permission);
  if (decision.allowed) {
    return undefined;
  }
  const error = new HttpError(403, 'forbidden', `Forbidden: ${decision.reason}`);
  error.outcome = withoutId(denied(`Forbidden: ${decision.reason}`));
  return error;
}

function errorReply(err) {
  if (err instanceof HttpError) {
    return { status: err.status, body: err.outcome, headers: err.headers };
  }
  if (err instanceof OperationOutcomeError) {
    return { status: getStatus(err.outcome), body: withoutId(err.outcome) };
  }
  // The stack without its first line: where it failed, never the message (which may quote request data).
  const where = String(err?.stack ?? '').split('\n').slice(1, 6).map((line) => line.trim());
  process.stderr.write(`${JSON.stringify({ event: 'error', error: err?.name ?? 'Error', where })}\n`);
  return {
    status: 500,
    body: { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'exception', details: { text: 'Internal server error' } }] },
  };
}

function withoutId(outcome) {
  const { id: _id, ...rest } = outcome;
  return rest;
}
