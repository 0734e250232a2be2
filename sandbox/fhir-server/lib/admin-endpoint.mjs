// Admin endpoints for tests and benchmarks, outside the FHIR base, loopback callers only, never authenticated:
//   POST /admin/reset          drop every resource (and cached token answers)
//   GET|POST /admin/config     {"requireAuth": bool, "delayMs": int, "defaultCount": int} (POST changes the keys given)
//   GET /admin/stats           {"requests": n, "withAuthorization": m} FHIR requests since the last stats reset
//   POST /admin/stats/reset
//   GET /admin/introspection   {"introspections": n, "cacheHits": m, "revocations": r, "cached": c} since start
//   POST /admin/introspection/revoke   {"tokenHashes": [sha256 hex, ...]}: the authorization server's revocation
//                              notice; those tokens are refused at once (see introspection.mjs)
import { HttpError, readBody, sendJson } from './http-util.mjs';

const LOOPBACK_ADDRESSES = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);
const JSON_TYPE = 'application/json';
const MAX_DELAY_MS = 60_000;
const TOKEN_HASH = /^[0-9a-f]{64}$/;

export class AdminEndpoint {
  /**
   * @param {object} options
   * @param {import('./repository.mjs').SandboxRepository} options.store
   * @param {{requireAuth: boolean, delayMs: number, defaultCount: number, maxCount: number}} options.settings
   * @param {{requests: number, withAuthorization: number}} options.stats
   * @param {import('./introspection.mjs').TokenIntrospector | undefined} options.introspector
   * @param {(work: () => unknown) => Promise<unknown>} options.serialized runs work in the store's queue
   */
  constructor(options) {
    Object.assign(this, options);
  }

  async handle(req, res, url) {
    let status = 200;
    let body;
    try {
      if (!LOOPBACK_ADDRESSES.has(req.socket.remoteAddress)) {
        throw new HttpError(403, 'forbidden', 'Admin endpoints answer loopback callers only');
      }
      body = await this.dispatch(req, url.pathname);
    } catch (err) {
      if (!(err instanceof HttpError)) {
        throw err;
      }
      status = err.status;
      body = { error: err.message };
    }
    sendJson(res, status, body, {}, JSON_TYPE);
    return status;
  }

  async dispatch(req, pathname) {
    const route = `${req.method} ${pathname.replace(/\/+$/, '')}`;
    switch (route) {
      case 'POST /admin/reset':
        await this.serialized(() => {
          this.store.clear();
          this.introspector?.clearCache();
        });
        return { reset: true };
      case 'GET /admin/config':
        return this.config();
      case 'POST /admin/config':
        this.applyConfig(await readJsonObject(req));
        return this.config();
      case 'GET /admin/stats':
        return { ...this.stats };
      case 'GET /admin/introspection':
        return this.introspector ? this.introspector.cacheStats() : {};
      case 'POST /admin/introspection/revoke':
        return this.revoke(await readJsonObject(req));
      case 'POST /admin/stats/reset':
        this.stats.requests = 0;
        this.stats.withAuthorization = 0;
        return { ...this.stats };
      default:
        throw new HttpError(404, 'not-found', `No admin endpoint ${route}`);
    }
  }

  revoke(notice) {
    const hashes = notice.tokenHashes;
    if (!Array.isArray(hashes) || !hashes.every((hash) => typeof hash === 'string' && TOKEN_HASH.test(hash))) {
      throw new HttpError(400, 'invalid', 'tokenHashes must be a list of SHA-256 hashes (64 hex digits)');
    }
    this.introspector?.revoke(hashes);
    return { revoked: hashes.length };
  }

  config() {
    const { requireAuth, delayMs, defaultCount, maxCount } = this.settings;
    return { requireAuth, delayMs, defaultCount, maxCount };
  }

  applyConfig(changes) {
    const checks = {
      requireAuth: (value) => typeof value === 'boolean' && (!value || this.introspector !== undefined),
      delayMs: (value) => Number.isInteger(value) && value >= 0 && value <= MAX_DELAY_MS,
      defaultCount: (value) => Number.isInteger(value) && value >= 1 && value <= this.settings.maxCount,
    };
    for (const [key, value] of Object.entries(changes)) {
      if (!checks[key]) {
        throw new HttpError(400, 'invalid', `Unknown config key "${key}" (known: ${Object.keys(checks).join(', ')})`);
      }
      if (!checks[key](value)) {
        throw new HttpError(400, 'invalid', `Invalid value for "${key}"${key === 'requireAuth' ? ' (requireAuth needs --auth-base)' : ''}`);
      }
    }
    Object.assign(this.settings, changes);
  }
}

async function readJsonObject(req) {
  const raw = await readBody(req, 64 * 1024);
  let parsed;
  try {
    parsed = JSON.parse(raw.toString('utf8') || '{}');
  } catch {
    throw new HttpError(400, 'structure', 'Malformed JSON body');
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new HttpError(400, 'structure', 'The body must be a JSON object');
  }
  return parsed;
}
