// Batch and transaction Bundles.
//
// Medplum's batch processor does the per-entry work (ordering, urn:uuid fullUrl → reference rewriting, conditional
// create and update, searches). Its own transaction mode caps transactions at 50 updates and at 8 entries when any
// entry is conditional, and the in-memory repository cannot roll back. So a transaction runs here as a batch inside
// a store savepoint: if any entry fails, every write is undone and the failing entry's OperationOutcome is the
// answer. Nothing is partially written.
import { OperationOutcomeError, getStatus } from '@medplum/core';
import { processBatch } from '@medplum/fhir-router';
import { HttpError, operationOutcome, statusLine } from './http-util.mjs';

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

class TransactionFailed extends Error {
  constructor(index, response) {
    super(`transaction entry ${index} failed`);
    this.index = index;
    this.response = response;
  }
}

/**
 * @param {object} options
 * @param {import('./repository.mjs').SandboxRepository} options.view the request's store view
 * @param {import('@medplum/fhir-router').FhirRouter} options.router
 * @param {object} options.bundle the posted Bundle
 * @param {(entry: object, route: object | undefined) => HttpError | undefined} options.authorize per-entry check
 * @returns {Promise<{status: number, body: object}>}
 */
export async function processBundle({ view, router, bundle, authorize }) {
  if (bundle?.resourceType !== 'Bundle') {
    throw new HttpError(400, 'invalid', 'POST to the FHIR base needs a Bundle of type batch or transaction');
  }
  if (bundle.type !== 'batch' && bundle.type !== 'transaction') {
    throw new HttpError(400, 'invalid', `Bundle.type must be batch or transaction (got ${bundle.type})`);
  }
  const entries = (bundle.entry ?? []).map((entry) => withLocalUrl(entry, view.context.baseUrl));
  const refusals = entries.map((entry) => refusal(entry, router, authorize));
  if (bundle.type === 'transaction') {
    return runTransaction(view, router, entries, refusals);
  }
  return runBatch(view, router, entries, refusals);
}

async function runTransaction(view, router, entries, refusals) {
  const refusedAt = refusals.findIndex(Boolean);
  if (refusedAt >= 0) {
    const refused = refusals[refusedAt];
    throw new HttpError(refused.status, 'forbidden', `${describe(entries, refusedAt)}: ${refused.message}`);
  }
  assertUniqueTargets(entries);
  if (entries.length === 0) {
    return { status: 200, body: responseBundle('transaction-response', []) };
  }
  try {
    const response = await view.withTransaction(async () => {
      const result = await runEntries(view, router, entries);
      const failedAt = result.entry.findIndex((entry) => entryStatus(entry) >= 400);
      if (failedAt >= 0) {
        throw new TransactionFailed(failedAt, result.entry[failedAt]);
      }
      return result;
    });
    const entry = response.entry.map((responseEntry, i) => decorate(view, entries[i], responseEntry));
    return { status: 200, body: responseBundle('transaction-response', entry) };
  } catch (err) {
    if (!(err instanceof TransactionFailed)) {
      throw err;
    }
    const outcome = cleanOutcome(err.response.response?.outcome ?? operationOutcome('exception', 'Entry failed'));
    outcome.issue = [
      ...outcome.issue,
      {
        severity: 'information',
        code: 'informational',
        diagnostics: `${describe(entries, err.index)} failed; the transaction was rolled back and nothing was stored`,
      },
    ];
    return { status: entryStatus(err.response), body: outcome };
  }
}

async function runBatch(view, router, entries, refusals) {
  const allowed = entries.map((_, i) => i).filter((i) => !refusals[i]);
  const processed = allowed.length ? await runEntries(view, router, allowed.map((i) => entries[i])) : { entry: [] };
  const responses = new Map(allowed.map((entryIndex, position) => [entryIndex, processed.entry[position]]));
  const results = entries.map((entry, i) => {
    const refused = refusals[i];
    if (refused) {
      return { response: { status: statusLine(refused.status), outcome: refused.outcome } };
    }
    return decorate(view, entry, responses.get(i));
  });
  return { status: 200, body: responseBundle('batch-response', results) };
}

async function runEntries(view, router, entries) {
  const request = {
    method: 'POST',
    url: '',
    pathname: '',
    body: undefined,
    params: {},
    query: {},
    headers: {},
    config: { transactions: false },
  };
  try {
    return await processBatch(request, view, router, { resourceType: 'Bundle', type: 'batch', entry: entries });
  } catch (err) {
    if (err instanceof OperationOutcomeError) {
      throw new HttpError(getStatus(err.outcome), 'invalid', err.message);
    }
    throw err;
  }
}

/** Entries may name the server's own base in absolute URLs; Medplum's router expects relative ones. */
function withLocalUrl(entry, baseUrl) {
  const url = entry?.request?.url;
  if (typeof url !== 'string') {
    return entry;
  }
  let local = url.startsWith(`${baseUrl}/`) ? url.slice(baseUrl.length + 1) : url;
  local = local.replace(/^\/+/, '');
  return local === url ? entry : { ...entry, request: { ...entry.request, url: local } };
}

function refusal(entry, router, authorize) {
  const method = entry?.request?.method;
  const url = entry?.request?.url;
  if (!method || typeof url !== 'string') {
    return undefined; // Medplum answers these with a per-entry 400
  }
  const route = router.find(method, url);
  if (route?.data?.interaction === 'batch') {
    return new HttpError(400, 'not-supported', 'Nested batch or transaction Bundles are not supported');
  }
  return route ? authorize(route) : undefined;
}

function assertUniqueTargets(entries) {
  const seen = new Set();
  entries.forEach((entry, i) => {
    const targets = new Set();
    if (entry?.fullUrl) {
      targets.add(entry.fullUrl);
    }
    const { method, url } = entry?.request ?? {};
    if (method && method !== 'POST' && method !== 'GET' && typeof url === 'string' && !url.includes('?')) {
      targets.add(url);
    }
    for (const target of targets) {
      if (seen.has(target)) {
        throw new HttpError(400, 'invalid', `${describe(entries, i)}: ${target} appears more than once in the transaction`);
      }
      seen.add(target);
    }
  });
}

/** Adds ETag, Last-Modified and Location to successful entries, 201 to PUTs that created, outcomes to failures. */
function decorate(view, requestEntry, responseEntry) {
  const method = requestEntry?.request?.method;
  const resource = responseEntry?.resource;
  let status = entryStatus(responseEntry);
  if (method === 'PUT' && status === 200 && resource && view.wasCreatedByUpdate(resource)) {
    status = 201;
  }
  const response = { status: statusLine(status) };
  if (status >= 400) {
    response.outcome = cleanOutcome(responseEntry?.response?.outcome ?? operationOutcome('exception', 'Entry failed'));
    return { response };
  }
  const versionId = resource?.meta?.versionId;
  if (versionId && resource.resourceType !== 'Bundle') {
    response.etag = `W/"${versionId}"`;
    response.lastModified = resource.meta.lastUpdated;
    if (WRITE_METHODS.has(method)) {
      response.location = `${resource.resourceType}/${resource.id}/_history/${versionId}`;
    }
  }
  return { ...(resource ? { resource } : {}), response };
}

function entryStatus(responseEntry) {
  return Number.parseInt(responseEntry?.response?.status ?? '500', 10);
}

function cleanOutcome(outcome) {
  const { id: _id, ...rest } = outcome;
  return { ...rest, issue: [...(rest.issue ?? [])] };
}

function describe(entries, index) {
  const request = entries[index]?.request;
  return `Bundle.entry[${index}] (${request?.method ?? '?'} ${request?.url ?? '?'})`;
}

function responseBundle(type, entry) {
  return { resourceType: 'Bundle', type, entry };
}
