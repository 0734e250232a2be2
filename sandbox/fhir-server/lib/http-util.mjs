// Small HTTP helpers: bodies, JSON responses, OperationOutcomes, content negotiation.

export const FHIR_JSON = 'application/fhir+json';
const JSON_MEDIA_TYPES = new Set([FHIR_JSON, 'application/json', 'application/json+fhir']);
const ACCEPTABLE = new Set([...JSON_MEDIA_TYPES, '*/*', 'application/*']);
const JSON_FORMATS = new Set(['json', ...JSON_MEDIA_TYPES]);
const STATUS_TEXT = {
  200: 'OK',
  201: 'Created',
  204: 'No Content',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  409: 'Conflict',
  410: 'Gone',
  412: 'Precondition Failed',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Entity',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** An error that becomes an HTTP response carrying an OperationOutcome. */
export class HttpError extends Error {
  constructor(status, code, text, headers = {}) {
    super(text);
    this.status = status;
    this.outcome = operationOutcome(code, text);
    this.headers = headers;
  }
}

export function operationOutcome(code, text, severity = 'error') {
  return { resourceType: 'OperationOutcome', issue: [{ severity, code, details: { text } }] };
}

/** "201 Created", as Bundle.entry.response.status shows it. */
export function statusLine(status) {
  return STATUS_TEXT[status] ? `${status} ${STATUS_TEXT[status]}` : String(status);
}

export async function readBody(req, limitBytes) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > limitBytes) {
      throw new HttpError(413, 'too-costly', `Request body larger than ${limitBytes} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

export function mediaType(header) {
  return (header ?? '').split(';')[0].trim().toLowerCase();
}

/** Parses a FHIR JSON body; 415 for other media types, 400 for malformed JSON. */
export function parseJsonBody(req, body, { allowForm = false, allowJsonPatch = false } = {}) {
  const type = mediaType(req.headers['content-type']);
  if (allowForm && type === 'application/x-www-form-urlencoded') {
    return Object.fromEntries(groupParams(new URLSearchParams(body.toString('utf8'))));
  }
  const jsonPatch = allowJsonPatch && type === 'application/json-patch+json';
  if (!JSON_MEDIA_TYPES.has(type) && !jsonPatch) {
    throw new HttpError(415, 'not-supported', `Content-Type must be ${FHIR_JSON} (got "${type || 'none'}")`);
  }
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new HttpError(400, 'structure', `Malformed JSON body: ${err.message}`);
  }
}

function groupParams(params) {
  const grouped = new Map();
  for (const [key, value] of params) {
    grouped.set(key, grouped.has(key) ? [].concat(grouped.get(key), value) : value);
  }
  return grouped;
}

/** Throws 406 unless the client accepts JSON (Accept header and `_format`). */
export function assertAcceptsJson(req, url) {
  const format = url.searchParams.get('_format');
  if (format && !JSON_FORMATS.has(format.toLowerCase())) {
    throw new HttpError(406, 'not-supported', `Only JSON is served (_format=${format})`);
  }
  const accept = req.headers.accept;
  if (!accept) {
    return;
  }
  const ranges = accept.split(',').map(mediaType);
  if (!ranges.some((range) => ACCEPTABLE.has(range))) {
    throw new HttpError(406, 'not-supported', `Only ${FHIR_JSON} is served (Accept: ${accept})`);
  }
}

export function sendJson(res, status, body, headers = {}, contentType = `${FHIR_JSON}; charset=utf-8`) {
  if (body === undefined) {
    res.writeHead(status, headers);
    res.end();
    return;
  }
  const payload = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { ...headers, 'content-type': contentType, 'content-length': payload.length });
  res.end(payload);
}
