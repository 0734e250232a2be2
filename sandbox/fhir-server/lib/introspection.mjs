// Checks bearer tokens at the authorization server's RFC 7662 introspection endpoint (client_secret_basic).
// Answers are cached for one second, keyed by a hash of the token, so a revoked or expired token stops working
// within a second; `exp` is also checked locally on every use.
import { createHash } from 'node:crypto';

const CACHE_MILLISECONDS = 1000;
const CACHE_LIMIT = 1000;
const TIMEOUT_MILLISECONDS = 5000;

export class IntrospectionError extends Error {}

export class TokenIntrospector {
  /**
   * @param {string} authBase the authorization server's base URL
   * @param {{id: string, secret: string} | undefined} client this resource server's credentials
   */
  constructor(authBase, client) {
    this.endpoint = `${authBase.replace(/\/+$/, '')}/introspect`;
    this.client = client;
    this.cache = new Map();
  }

  clearCache() {
    this.cache.clear();
  }

  /** @returns {Promise<object>} the introspection response; `active` is false for unknown, revoked or expired tokens */
  async introspect(token) {
    const key = createHash('sha256').update(token).digest('hex');
    const now = Date.now();
    let cached = this.cache.get(key);
    if (!cached || cached.until < now) {
      cached = { answer: await this.ask(token), until: now + CACHE_MILLISECONDS };
      if (this.cache.size >= CACHE_LIMIT) {
        this.cache.clear();
      }
      this.cache.set(key, cached);
    }
    const answer = cached.answer;
    if (answer.active === true && typeof answer.exp === 'number' && answer.exp * 1000 <= now) {
      return { active: false };
    }
    return answer;
  }

  async ask(token) {
    const headers = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
    if (this.client) {
      const credentials = `${encodeURIComponent(this.client.id)}:${encodeURIComponent(this.client.secret)}`;
      headers.authorization = `Basic ${Buffer.from(credentials).toString('base64')}`;
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
