// The store: Medplum's MemoryRepository (resources and history in Maps) with what the sandbox needs on top:
// - every write is validated first; nothing invalid is stored;
// - numeric versions ("1", "2", ...), so ETags read W/"n"; If-Match against a stale version is refused with 412;
// - an undo journal: `withTransaction` is a savepoint, and a failure rolls back every write made inside it;
// - a reference index for fast `patient=`/`subject=` searches and for the Patient-compartment restriction;
// - search with paging links and includes (see search.mjs).
//
// Each request works on a view, `store.withContext({baseUrl, access})`: an object whose prototype is the store,
// so it shares every Map but carries the request's base URL (for links) and its access rights.
import { MemoryRepository } from '@medplum/fhir-router';
import {
  OperationOutcomeError,
  badRequest,
  deepClone,
  deepEquals,
  forbidden,
  generateId,
  notFound,
  preconditionFailed,
} from '@medplum/core';
import { runSearch } from './search.mjs';

/** Access for requests that carry no token (open mode): everything is allowed, nothing is restricted. */
export const OPEN_ACCESS = Object.freeze({
  check: () => ({ allowed: true, patient: undefined }),
});

export class SandboxRepository extends MemoryRepository {
  /**
   * @param {object} options
   * @param {Set<string>} options.resourceTypes
   * @param {import('./validation.mjs').ResourceValidator} options.validator
   * @param {import('./reference-index.mjs').ReferenceIndex} options.index
   * @param {{defaultCount: number, maxCount: number}} options.settings live search settings (changed by /admin/config)
   */
  constructor({ resourceTypes, validator, index, settings }) {
    super();
    this.resourceTypes = resourceTypes;
    this.validator = validator;
    this.index = index;
    this.settings = settings;
    // Mutable state lives in one shared object: views must never assign to their own properties.
    this.shared = { journal: undefined, depth: 0, sequence: new Map(), nextSequence: 0 };
    this.createdByUpdate = new WeakSet();
    this.context = { baseUrl: '', access: OPEN_ACCESS };
  }

  /** A view of this store for one request. */
  withContext(context) {
    const view = Object.create(this);
    view.context = { ...this.context, ...context };
    return view;
  }

  clear() {
    super.clear();
    this.index.clear();
    this.shared.sequence.clear();
  }

  // ---- writes ----

  async createResource(resource, options) {
    const result = deepClone(resource);
    if (!options?.assignedId || !result.id) {
      result.id = this.generateId();
    }
    if (this.current(result.resourceType, result.id)) {
      throw new OperationOutcomeError(badRequest(`${result.resourceType}/${result.id} already exists`));
    }
    return this.writeVersion(result);
  }

  async updateResource(resource, options) {
    if (!resource.id) {
      throw new OperationOutcomeError(badRequest('Missing id'));
    }
    const existing = this.current(resource.resourceType, resource.id);
    if (options?.ifMatch !== undefined) {
      const currentVersion = existing?.meta?.versionId;
      if (currentVersion !== options.ifMatch) {
        const state = existing ? `is at version ${currentVersion}` : 'does not exist';
        throw new OperationOutcomeError(
          precondition(`${resource.resourceType}/${resource.id} ${state}; If-Match asked for version ${options.ifMatch}`)
        );
      }
    }
    const candidate = deepClone(resource);
    if (existing && sameContent(existing, candidate)) {
      return deepClone(existing);
    }
    const stored = this.writeVersion(candidate);
    if (!existing) {
      this.createdByUpdate.add(stored);
    }
    return stored;
  }

  async deleteResource(resourceType, id) {
    const existing = this.current(resourceType, id);
    if (!existing) {
      throw new OperationOutcomeError(notFound);
    }
    this.recordUndo(resourceType, id, existing);
    this.resources.get(resourceType).delete(id);
    this.index.remove(existing);
  }

  /** True when `resource` (as returned by updateResource) was created by that update. */
  wasCreatedByUpdate(resource) {
    return this.createdByUpdate.has(resource);
  }

  writeVersion(resource) {
    const versions = this.history.get(resource.resourceType)?.get(resource.id) ?? [];
    const lastVersion = Number(versions.at(-1)?.meta?.versionId ?? 0);
    resource.meta = { ...resource.meta, versionId: String(lastVersion + 1), lastUpdated: new Date().toISOString() };
    this.validator.validate(resource);
    this.store(resource);
    return deepClone(resource);
  }

  /** Keeps `resource` (which nobody else holds) as the current version, frozen: searches hand it out uncopied. */
  store(resource) {
    deepFreeze(resource);
    const { resourceType, id } = resource;
    const current = mapIn(this.resources, resourceType);
    const histories = mapIn(this.history, resourceType);
    const previous = current.get(id);
    this.recordUndo(resourceType, id, previous);
    if (!histories.has(id)) {
      histories.set(id, []);
    }
    histories.get(id).push(resource);
    current.set(id, resource);
    if (previous) {
      this.index.remove(previous);
    }
    this.index.add(resource);
    const key = `${resourceType}/${id}`;
    if (!this.shared.sequence.has(key)) {
      this.shared.sequence.set(key, this.shared.nextSequence++);
    }
  }

  // ---- transactions (savepoints over an undo journal) ----

  async withTransaction(callback) {
    const shared = this.shared;
    const outermost = shared.depth === 0;
    if (outermost) {
      shared.journal = [];
    }
    const mark = shared.journal.length;
    shared.depth++;
    try {
      return await callback(undefined);
    } catch (err) {
      this.rollbackTo(mark);
      throw err;
    } finally {
      shared.depth--;
      if (outermost) {
        shared.journal = undefined;
      }
    }
  }

  recordUndo(resourceType, id, previous) {
    const historyLength = this.history.get(resourceType)?.get(id)?.length ?? 0;
    this.shared.journal?.push({ resourceType, id, previous, historyLength });
  }

  rollbackTo(mark) {
    const journal = this.shared.journal;
    while (journal.length > mark) {
      const { resourceType, id, previous, historyLength } = journal.pop();
      const current = mapIn(this.resources, resourceType);
      const now = current.get(id);
      if (now) {
        this.index.remove(now);
      }
      if (previous) {
        current.set(id, previous);
        this.index.add(previous);
      } else {
        current.delete(id);
      }
      const versions = this.history.get(resourceType)?.get(id);
      if (versions) {
        versions.length = historyLength;
      }
    }
  }

  // ---- reads ----

  current(resourceType, id) {
    return this.resources.get(resourceType)?.get(id);
  }

  async readResource(resourceType, id) {
    const resource = this.current(resourceType, id);
    if (!resource) {
      throw new OperationOutcomeError(notFound);
    }
    this.assertInCompartment(resource, 'r');
    return deepClone(resource);
  }

  async readHistory(resourceType, id) {
    const resource = await this.readResource(resourceType, id);
    const versions = this.history.get(resourceType)?.get(id) ?? [resource];
    return {
      resourceType: 'Bundle',
      id: generateId(),
      type: 'history',
      total: versions.length,
      entry: [...versions].reverse().map((version) => ({
        fullUrl: `${this.context.baseUrl}/${resourceType}/${id}`,
        resource: deepClone(version),
      })),
    };
  }

  async search(searchRequest) {
    return runSearch(this, searchRequest);
  }

  // ---- access (used by reads and by search.mjs) ----

  /** The patient id reads/searches of `resourceType` are confined to, or undefined when unrestricted. */
  compartmentPatient(resourceType, permission) {
    if (!this.index.hasPatientCompartment(resourceType)) {
      return undefined;
    }
    return this.context.access.check(resourceType, permission).patient;
  }

  assertInCompartment(resource, permission) {
    const patientId = this.compartmentPatient(resource.resourceType, permission);
    if (patientId && !this.index.inPatientCompartment(resource, patientId)) {
      throw new OperationOutcomeError(
        denied(`${resource.resourceType}/${resource.id} is outside the compartment of the token's patient`)
      );
    }
  }

  /** May `resource` be returned as an `_include`/`_revinclude` of the current request? */
  canInclude(resource) {
    const decision = this.context.access.check(resource.resourceType, 'r');
    if (!decision.allowed) {
      return false;
    }
    const patientId = this.compartmentPatient(resource.resourceType, 'r');
    return !patientId || this.index.inPatientCompartment(resource, patientId);
  }

  sequence(resource) {
    return this.shared.sequence.get(`${resource.resourceType}/${resource.id}`) ?? Number.MAX_SAFE_INTEGER;
  }
}

function mapIn(maps, key) {
  let map = maps.get(key);
  if (!map) {
    map = new Map();
    maps.set(key, map);
  }
  return map;
}

function withoutVersion(resource) {
  const { versionId: _versionId, lastUpdated: _lastUpdated, ...meta } = resource.meta ?? {};
  return { ...resource, meta };
}

function sameContent(stored, candidate) {
  return deepEquals(withoutVersion(stored), withoutVersion(candidate));
}

/** A 412 OperationOutcome with a message that says what did not match. */
export function precondition(text) {
  return { ...preconditionFailed, issue: [{ severity: 'error', code: 'conflict', details: { text } }] };
}

/** A 403 OperationOutcome with a message. */
export function denied(text) {
  return { ...forbidden, issue: [{ severity: 'error', code: 'forbidden', details: { text } }] };
}

/** Freezes `value` and everything in it, so a stored version can be shared with responses and never changes. */
function deepFreeze(value) {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) {
      deepFreeze(child);
    }
  }
  return value;
}
