// One clinician's browser: a cookie jar and a keep-alive connection of its own per origin, redirects followed one
// hop at a time. HTTP/1.1 is spoken directly on node:net sockets: measured on this machine, node:http's client
// costs ~0.8 ms of CPU per request and this one ~0.3 ms, and the load generator's CPU, which stands in for
// browsers on other machines, is measurement error on the machine under test.
import net from 'node:net';

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** A failed request that knows where it went (app or sandbox) and why (errno code or timeout). */
export class RequestError extends Error {
  constructor(cause, port) {
    super(cause.message);
    this.name = cause.name === 'Error' ? 'RequestError' : cause.name;
    this.code = cause.code ?? (cause.message === 'timeout' ? 'timeout' : undefined);
    this.port = port;
  }
}

/** The cookies of one browser (RFC 6265, host-only and domain cookies, no port isolation, as browsers do).
 * Secure cookies go to loopback over http too: browsers treat 127.0.0.1 as a secure context. */
export class CookieJar {
  constructor() {
    this.cookies = new Map(); // `${domain};${path};${name}` -> {name, value, domain, hostOnly, path, secure, expires}
  }

  store(url, setCookieHeaders) {
    for (const header of setCookieHeaders ?? []) {
      const [pair, ...attributes] = header.split(';');
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const cookie = {
        name: pair.slice(0, eq).trim(),
        value: pair.slice(eq + 1).trim(),
        domain: url.hostname,
        hostOnly: true,
        path: defaultPath(url.pathname),
        secure: false,
        expires: Infinity,
      };
      for (const attribute of attributes) {
        const at = attribute.indexOf('=');
        const key = (at < 0 ? attribute : attribute.slice(0, at)).trim().toLowerCase();
        const value = at < 0 ? '' : attribute.slice(at + 1).trim();
        if (key === 'path' && value.startsWith('/')) cookie.path = value;
        else if (key === 'secure') cookie.secure = true;
        else if (key === 'domain' && value) {
          cookie.domain = value.replace(/^\./, '').toLowerCase();
          cookie.hostOnly = false;
        } else if (key === 'max-age' && /^-?\d+$/.test(value)) cookie.expires = Date.now() + Number(value) * 1000;
        else if (key === 'expires' && cookie.expires === Infinity) {
          const when = Date.parse(value);
          if (!Number.isNaN(when)) cookie.expires = when;
        }
      }
      const key = `${cookie.domain};${cookie.path};${cookie.name}`;
      if (cookie.expires <= Date.now()) this.cookies.delete(key);
      else this.cookies.set(key, cookie);
    }
  }

  header(url) {
    const now = Date.now();
    const secureContext = url.protocol === 'https:' || LOOPBACK.has(url.hostname);
    const matching = [];
    for (const [key, cookie] of this.cookies) {
      if (cookie.expires <= now) {
        this.cookies.delete(key);
        continue;
      }
      const domainOk = cookie.hostOnly
        ? url.hostname === cookie.domain
        : url.hostname === cookie.domain || url.hostname.endsWith(`.${cookie.domain}`);
      if (domainOk && pathMatches(url.pathname, cookie.path) && (!cookie.secure || secureContext)) {
        matching.push(cookie);
      }
    }
    matching.sort((a, b) => b.path.length - a.path.length);
    return matching.map((cookie) => `${cookie.name}=${cookie.value}`).join('; ');
  }
}

function defaultPath(pathname) {
  const slash = pathname.lastIndexOf('/');
  return slash <= 0 ? '/' : pathname.slice(0, slash);
}

function pathMatches(requestPath, cookiePath) {
  return (
    requestPath === cookiePath ||
    (requestPath.startsWith(cookiePath) && (cookiePath.endsWith('/') || requestPath[cookiePath.length] === '/'))
  );
}

const REQUEST_ACCEPT = 'text/html,application/xhtml+xml,*/*;q=0.8';
/** Requests sent and connections opened by every browser of this process (reported with the CPU they cost). */
export const traffic = { requests: 0, connections: 0 };

/** One keep-alive HTTP/1.1 connection; one request at a time. */
class Connection {
  constructor(host, port, timeoutMs) {
    this.host = host;
    this.port = port;
    this.timeoutMs = timeoutMs;
    this.socket = null;
    this.alive = false;
    this.pending = null; // {resolve, reject}
    this.chunks = [];
    this.head = null; // the parsed status line and headers of the response being read
  }

  connect() {
    return new Promise((resolve, reject) => {
      traffic.connections += 1;
      const socket = net.connect({ host: this.host, port: this.port, noDelay: true });
      socket.setTimeout(this.timeoutMs);
      socket.on('timeout', () => socket.destroy(Object.assign(new Error('timeout'), { code: 'timeout' })));
      const failed = (error) => reject(error);
      socket.once('error', failed);
      socket.once('connect', () => {
        socket.off('error', failed);
        this.socket = socket;
        this.alive = true;
        socket.on('data', (data) => this.received(data));
        socket.on('error', (error) => this.closed(error));
        socket.on('close', () => this.closed(null));
        resolve();
      });
    });
  }

  async send(request) {
    if (this.pending) throw new Error('connection busy');
    if (!this.alive) await this.connect(); // a connection the server closed is replaced, as browsers do
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.chunks = [];
      this.head = null;
      this.socket.write(request, 'latin1');
    });
  }

  received(data) {
    this.chunks.push(data);
    if (!this.pending) return;
    const buffer = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
    this.chunks = [buffer];
    if (!this.head) {
      const end = buffer.indexOf('\r\n\r\n');
      if (end < 0) return;
      this.head = parseHead(buffer.latin1Slice(0, end), end + 4);
    }
    const body = bodyEnd(this.head, buffer);
    if (body) this.complete(buffer, body);
  }

  complete(buffer, [start, end, chunked]) {
    const { head } = this;
    const text = chunked ? dechunk(buffer, head.bodyStart) : buffer.toString('utf8', start, end);
    const { resolve } = this.pending;
    this.pending = null;
    this.chunks = [];
    this.head = null;
    if (!head.keepAlive) this.close();
    resolve({ status: head.status, headers: head.headers, text });
  }

  closed(error) {
    this.alive = false;
    if (!this.pending) return;
    const buffer = Buffer.concat(this.chunks);
    if (!error && this.head && this.head.length === null && !this.head.chunked) {
      this.complete(buffer, [this.head.bodyStart, buffer.length, false]); // a body delimited by the close
      return;
    }
    const { reject } = this.pending;
    this.pending = null;
    reject(error ?? Object.assign(new Error('socket closed before the response ended'), { code: 'ECONNRESET' }));
  }

  close() {
    this.alive = false;
    this.socket?.destroy();
  }
}

function parseHead(text, bodyStart) {
  const lines = text.split('\r\n');
  const [version, code] = lines[0].split(' ');
  const headers = { 'set-cookie': [] };
  for (let i = 1; i < lines.length; i += 1) {
    const colon = lines[i].indexOf(':');
    if (colon <= 0) continue;
    const name = lines[i].slice(0, colon).trim().toLowerCase();
    const value = lines[i].slice(colon + 1).trim();
    if (name === 'set-cookie') headers[name].push(value);
    else headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  const status = Number(code);
  const connection = (headers.connection ?? '').toLowerCase();
  const noBody = status === 204 || status === 304 || (status >= 100 && status < 200);
  return {
    status,
    headers,
    bodyStart,
    chunked: !noBody && /\bchunked\b/i.test(headers['transfer-encoding'] ?? ''),
    length: noBody ? 0 : headers['content-length'] !== undefined ? Number(headers['content-length']) : null,
    keepAlive: version === 'HTTP/1.1' ? !connection.includes('close') : connection.includes('keep-alive'),
  };
}

/** [start, end, chunked] of a complete body in `buffer`, or null while more is to come. */
function bodyEnd(head, buffer) {
  if (head.chunked) {
    let at = head.bodyStart;
    for (;;) {
      const lineEnd = buffer.indexOf('\r\n', at);
      if (lineEnd < 0) return null;
      const size = parseInt(buffer.latin1Slice(at, lineEnd), 16);
      if (size === 0) {
        const end = buffer.indexOf('\r\n\r\n', lineEnd);
        return end < 0 ? null : [head.bodyStart, end + 4, true];
      }
      at = lineEnd + 2 + size + 2;
      if (at > buffer.length) return null;
    }
  }
  if (head.length === null) return null; // read until the server closes
  return buffer.length >= head.bodyStart + head.length ? [head.bodyStart, head.bodyStart + head.length, false] : null;
}

function dechunk(buffer, start) {
  const parts = [];
  let at = start;
  for (;;) {
    const lineEnd = buffer.indexOf('\r\n', at);
    const size = parseInt(buffer.latin1Slice(at, lineEnd), 16);
    if (!size) return Buffer.concat(parts).toString('utf8');
    parts.push(buffer.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
}

export class Browser {
  constructor({ timeoutMs = 60000 } = {}) {
    this.connections = new Map(); // origin -> Connection
    this.jar = new CookieJar();
    this.timeoutMs = timeoutMs;
    this.lastPort = null; // where the last request went, to tell the app from the sandbox in errors
  }

  get(url) {
    return this.request('GET', url);
  }

  post(url, fields) {
    return this.request('POST', url, new URLSearchParams(fields).toString());
  }

  /** One request, no redirect followed; resolves to {status, url, headers, text}. */
  async request(method, address, body) {
    const url = new URL(address);
    if (url.protocol !== 'http:') throw new Error(`only http is spoken here: ${url.protocol}`);
    const port = Number(url.port || 80);
    this.lastPort = port;
    let connection = this.connections.get(url.host);
    if (!connection) {
      connection = new Connection(url.hostname.replace(/^\[|\]$/g, ''), port, this.timeoutMs);
      this.connections.set(url.host, connection);
    }
    let request = `${method} ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nAccept: ${REQUEST_ACCEPT}\r\n`;
    const cookie = this.jar.header(url);
    if (cookie) request += `Cookie: ${cookie}\r\n`;
    if (body !== undefined) {
      request += `Content-Type: application/x-www-form-urlencoded\r\nContent-Length: ${Buffer.byteLength(body)}\r\n`;
    }
    request += `\r\n${body ?? ''}`;
    let response;
    traffic.requests += 1;
    try {
      response = await connection.send(request);
    } catch (error) {
      throw new RequestError(error, port);
    }
    this.jar.store(url, response.headers['set-cookie']);
    return { ...response, url: url.href };
  }

  /** Follow redirects one hop at a time (each hop a GET, as `requests` did), `rewrite` choosing each target. */
  async follow(response, rewrite = (target) => target) {
    for (let hop = 0; hop < 10; hop += 1) {
      if (!REDIRECTS.has(response.status)) return response;
      response = await this.get(rewrite(new URL(response.headers.location, response.url).href));
    }
    throw new Error('too many redirects');
  }

  close() {
    for (const connection of this.connections.values()) connection.close();
  }
}
