// Checks bearer tokens at the authorization server's RFC 7662 introspection endpoint (client_secret_basic), and
// caches the answers the way real resource servers do, so a burst of requests with one token costs one round trip:
//   - keyed by a SHA-256 hash of the token (the token itself is never kept as a key nor logged);
//   - an active answer is kept until the token's `exp`, at most MAX_CACHE_MILLISECONDS (a safety net should a
//     revocation notice ever be lost); `exp` is also checked locally on every use;
//   - an inactive answer is kept for INACTIVE_CACHE_MILLISECONDS (a token never becomes active again);
//   - concurrent requests with one token share a single in-flight introspection;
//   - revocation takes effect at once: the authorization server posts the hashes of revoked tokens to
//     /admin/introspection/revoke (see admin-endpoint.mjs) before it answers the revoking client, and `revoke()`
//     drops those answers and remembers the hashes, so an introspection already in flight cannot bring them back.
import { createHash } from 'node:crypto';

const MAX_CACHE_MILLISECONDS = 60_000;
const INACTIVE_CACHE_MILLISECONDS = 1000;
const CACHE_LIMIT = 10_000;
const TIMEOUT_MILLISECONDS = 5000;

export class IntrospectionError extends Error {}

/** The cache key of a token: its SHA-256, hex (what the authorization server sends in revocation notices). */
export function tokenHash(token) {
  return createHash('sha256').update(token).digest('hex');
}

export class TokenIntrospector {
  /**
   * @param {string} authBase the authorization server's base URL
   * @param {{id: string, secret: string} | undefined} client this resource server's credentials
   */
  constructor(authBase, client) {
    this.endpoint = `${authBase.replace(/\/+$/, '')}/introspect`;
    this.authorization = client ? basicAuthorization(client) : undefined;
    this.cache = new Map(); // hash -> {answer: Promise<object>, until: ms}
    this.revoked = new Map(); // hash -> ms until which the hash is refused without asking
    this.stats = { introspections: 0, cacheHits: 0, revocations: 0 };
  }

  clearCache() {
    this.cache.clear();
    this.revoked.clear();
  }

  /** Forgets the answers for these token hashes and refuses them from now on (a revocation notice). */
  revoke(hashes) {
    const now = Date.now();
    const until = now + MAX_CACHE_MILLISECONDS;
    if (this.revoked.size >= CACHE_LIMIT) {
      this.evictExpired(now);
    }
    for (const hash of hashes) {
      this.cache.delete(hash);
      this.revoked.set(hash, until);
      this.stats.revocations++;
    }
  }

  cacheStats() {
    return { ...this.stats, cached: this.cache.size };
  }

  /** @returns {Promise<object>} the introspection response; `active` is false for unknown, revoked or expired tokens */
  async introspect(token) {
    const key = tokenHash(token);
    const now = Date.now();
    const revokedUntil = this.revoked.get(key);
    if (revokedUntil !== undefined) {
      if (revokedUntil >= now) {
        return { active: false };
      }
      this.revoked.delete(key);
    }
    let cached = this.cache.get(key);
    if (cached && cached.until >= now) {
      this.stats.cacheHits++;
    } else {
      cached = this.remember(key, token, now);
    }
    const answer = await cached.answer;
    if (this.revoked.has(key)) {
      return { active: false }; // revoked while this introspection was in flight
    }
    if (answer.active === true && typeof answer.exp === 'number' && answer.exp * 1000 <= Date.now()) {
      return { active: false };
    }
    return answer;
  }

  remember(key, token, now) {
    if (this.cache.size >= CACHE_LIMIT) {
      this.evictExpired(now);
    }
    // Until the answer arrives, the entry holds the pending promise: concurrent requests share it.
    const entry = { answer: this.ask(token), until: now + TIMEOUT_MILLISECONDS };
    this.cache.set(key, entry);
    entry.answer.then(
      (answer) => {
        if (this.cache.get(key) === entry) {
          entry.until = cacheUntil(answer, Date.now());
        }
      },
      () => {
        if (this.cache.get(key) === entry) {
          this.cache.delete(key); // a failed introspection is never cached
        }
      },
    );
    return entry;
  }

  evictExpired(now) {
    for (const [key, entry] of this.cache) {
      if (entry.until < now) {
        this.cache.delete(key);
      }
    }
    for (const [key, until] of this.revoked) {
      if (until < now) {
        this.revoked.delete(key);
      }
    }
    if (this.cache.size >= CACHE_LIMIT) {
      this.cache.clear();
    }
    if (this.revoked.size >= CACHE_LIMIT) {
      this.revoked.clear(); // a revoked token only loses its shortcut: the authorization server still says inactive
    }
  }

  async ask(token) {
    this.stats.introspections++;
    const headers = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
    if (this.authorization) {
      headers.authorization = this.authorization;
    }
    let response;
    try {
      response = await fetch(this.endpoint, {
        method: 'POST',
        headers,
        body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
        signal: AbortSignal.timeout(TIMEOUT_MILLISECONDS),
      });
    } catch (err) {
      throw new IntrospectionError(`introspection endpoint unreachable (${err.name})`);
    }
    if (!response.ok) {
      throw new IntrospectionError(`introspection endpoint answered HTTP ${response.status}`);
    }
    try {
      const answer = await response.json();
      return answer && typeof answer === 'object' ? answer : { active: false };
    } catch {
      throw new IntrospectionError('introspection endpoint answered with malformed JSON');
    }
  }
}

/** How long an answer may be reused: an active one until its `exp` (capped), an inactive one briefly. */
function cacheUntil(answer, now) {
  if (answer.active !== true) {
    return now + INACTIVE_CACHE_MILLISECONDS;
  }
  const cap = now + MAX_CACHE_MILLISECONDS;
  return typeof answer.exp === 'number' ? Math.min(answer.exp * 1000, cap) : now + INACTIVE_CACHE_MILLISECONDS;
}

function basicAuthorization(client) {
  const credentials = `${encodeURIComponent(client.id)}:${encodeURIComponent(client.secret)}`;
  return `Basic ${Buffer.from(credentials).toString('base64')}`;
}
