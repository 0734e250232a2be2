// FHIR search over the in-memory store: parameter checks, index-backed candidates, matching with @medplum/core,
// `_sort`, `_count`/`_offset` paging with Bundle.link (self, first, previous, next, last), `_include` and
// `_revinclude`. The same code answers top-level searches and searches inside a batch, so both page alike.
import {
  OperationOutcomeError,
  Operator,
  badRequest,
  evalFhirPathTyped,
  formatSearchQuery,
  generateId,
  matchesSearchRequest,
  splitSearchOnComma,
  toPeriod,
  toTypedValue,
} from '@medplum/core';
import { searchParameter } from './definitions.mjs';
import { normalizeReference } from './reference-index.mjs';

const SUPPORTED_OPERATORS = {
  token: [Operator.EQUALS, Operator.NOT, Operator.MISSING],
  reference: [Operator.EQUALS, Operator.NOT, Operator.MISSING],
  string: [Operator.EQUALS, Operator.CONTAINS, Operator.EXACT, Operator.MISSING],
  uri: [Operator.EQUALS, Operator.MISSING],
  date: [
    Operator.EQUALS,
    Operator.NOT_EQUALS,
    Operator.LESS_THAN,
    Operator.GREATER_THAN,
    Operator.LESS_THAN_OR_EQUALS,
    Operator.GREATER_THAN_OR_EQUALS,
    Operator.STARTS_AFTER,
    Operator.ENDS_BEFORE,
    Operator.APPROXIMATELY,
    Operator.MISSING,
  ],
};
const MAX_INCLUDE_ROUNDS = 4;

/** The search parameter types this server answers (number, quantity, composite and special are refused). */
export const SUPPORTED_PARAMETER_TYPES = Object.keys(SUPPORTED_OPERATORS);

/**
 * Runs `request` against `store` (a SandboxRepository view) and returns a searchset Bundle.
 * @param {import('./repository.mjs').SandboxRepository} store
 * @param {import('@medplum/core').SearchRequest} request as parsed by @medplum/core
 */
export function runSearch(store, request) {
  const search = prepareSearch(store, request);
  let matches = findMatches(store, search.resourceType, search.filters);
  if (search.sortRules?.length) {
    matches = sortResources(matches, search.resourceType, search.sortRules);
  }
  const total = matches.length;
  const page = search.count > 0 ? matches.slice(search.offset, search.offset + search.count) : [];
  const baseUrl = store.context.baseUrl;
  const entry = page.map((resource) => searchEntry(baseUrl, resource, 'match'));
  entry.push(...findIncluded(store, search, page).map((resource) => searchEntry(baseUrl, resource, 'include')));
  return {
    resourceType: 'Bundle',
    id: generateId(),
    meta: { lastUpdated: new Date().toISOString() },
    type: 'searchset',
    ...(search.total === 'none' ? {} : { total }),
    link: pagingLinks(baseUrl, search, total),
    ...(entry.length ? { entry } : {}),
  };
}

/** Checks every parameter (a clear 400 instead of a silently empty result) and fills in paging defaults. */
function prepareSearch(store, request) {
  const { resourceType } = request;
  if (request.types?.length || !store.resourceTypes.has(resourceType)) {
    throw new OperationOutcomeError(
      badRequest(`Search one resource type at a time (unknown or unsupported type: ${resourceType})`)
    );
  }
  const filters = (request.filters ?? []).map((filter) => prepareFilter(resourceType, filter));
  for (const rule of request.sortRules ?? []) {
    if (!searchParameter(resourceType, rule.code)) {
      throw new OperationOutcomeError(badRequest(`Unknown _sort parameter "${rule.code}" for ${resourceType}`));
    }
  }
  for (const target of [...(request.include ?? []), ...(request.revInclude ?? [])]) {
    if (searchParameter(target.resourceType, target.searchParam)?.type !== 'reference') {
      throw new OperationOutcomeError(
        badRequest(`Unknown include "${target.resourceType}:${target.searchParam}": not a reference parameter`)
      );
    }
  }
  const { defaultCount, maxCount } = store.settings;
  const count = request.count ?? defaultCount;
  const offset = request.offset ?? 0;
  if (!Number.isInteger(count) || count < 0 || !Number.isInteger(offset) || offset < 0) {
    throw new OperationOutcomeError(badRequest('_count and _offset must be non-negative integers'));
  }
  return { ...request, filters, count: Math.min(count, maxCount), offset };
}

function prepareFilter(resourceType, filter) {
  const param = searchParameter(resourceType, filter.code);
  if (!param) {
    throw new OperationOutcomeError(badRequest(`Unknown search parameter "${filter.code}" for ${resourceType}`));
  }
  const operators = SUPPORTED_OPERATORS[param.type];
  if (!operators) {
    throw new OperationOutcomeError(
      badRequest(`Search parameter "${filter.code}" (${param.type}) is not supported by this server`)
    );
  }
  if (!operators.includes(filter.operator)) {
    throw new OperationOutcomeError(
      badRequest(`Modifier or prefix "${filter.operator}" is not supported for "${filter.code}" (${param.type})`)
    );
  }
  if (param.type !== 'reference' || filter.operator === Operator.MISSING) {
    return filter;
  }
  const values = splitSearchOnComma(filter.value).flatMap((value) => referenceValues(value, param.target ?? []));
  return { ...filter, value: values.join(',') };
}

/** `123` → `Patient/123` (every target type), absolute URLs → `Type/id`. */
function referenceValues(value, targets) {
  const normalized = normalizeReference(value);
  if (normalized.includes('/') || normalized.includes(':')) {
    return [normalized];
  }
  return targets.length ? targets.map((target) => `${target}/${normalized}`) : [normalized];
}

/**
 * The stored resources of `resourceType` that match every filter and the caller's compartment restriction, in
 * creation order. Index-backed filters (`_id`, `patient`, `subject`, compartment parameters) choose candidates;
 * the rest are matched by @medplum/core.
 */
export function findMatches(store, resourceType, filters) {
  const stored = store.resources.get(resourceType);
  if (!stored?.size) {
    return [];
  }
  const index = store.index;
  let candidates;
  const intersect = (ids) => {
    candidates = candidates ? new Set([...candidates].filter((id) => ids.has(id))) : ids;
  };
  const residual = [];
  for (const filter of filters) {
    const values = splitSearchOnComma(filter.value);
    if (filter.operator === Operator.EQUALS && filter.code === '_id') {
      intersect(new Set(values));
    } else if (filter.operator === Operator.EQUALS && index.isIndexed(resourceType, filter.code)) {
      intersect(index.lookup(resourceType, filter.code, values));
    } else {
      residual.push(filter);
    }
  }
  const patientId = store.compartmentPatient(resourceType, 's');
  if (patientId) {
    intersect(index.compartmentMembers(resourceType, patientId));
  }
  let resources;
  if (candidates) {
    resources = [...candidates]
      .map((id) => stored.get(id))
      .filter(Boolean)
      .sort((a, b) => store.sequence(a) - store.sequence(b));
  } else {
    resources = [...stored.values()];
  }
  if (residual.length === 0) {
    return resources;
  }
  const residualRequest = { resourceType, filters: residual };
  return resources.filter((resource) => matchesSearchRequest(resource, residualRequest));
}

function sortResources(resources, resourceType, sortRules) {
  const params = sortRules.map((rule) => searchParameter(resourceType, rule.code));
  const keyed = resources.map((resource) => ({
    resource,
    keys: params.map((param, i) => sortKey(resource, param, sortRules[i].descending)),
  }));
  keyed.sort((a, b) => {
    for (let i = 0; i < sortRules.length; i++) {
      const order = compareKeys(a.keys[i], b.keys[i]);
      if (order !== 0) {
        return sortRules[i].descending ? -order : order;
      }
    }
    return 0; // Array.prototype.sort is stable: ties keep creation order, so paging stays deterministic
  });
  return keyed.map((item) => item.resource);
}

function sortKey(resource, param, descending) {
  const values = evalFhirPathTyped(param.expression, [toTypedValue(resource)]);
  const keys = values.map((typedValue) => scalarKey(typedValue, param.type, descending)).filter((k) => k !== undefined);
  if (keys.length === 0) {
    return undefined;
  }
  keys.sort(compareKeys);
  return descending ? keys[keys.length - 1] : keys[0];
}

function scalarKey(typedValue, paramType, descending) {
  const value = typedValue.value;
  if (value === undefined || value === null) {
    return undefined;
  }
  switch (paramType) {
    case 'date': {
      const period = toPeriod(value);
      return descending ? (period?.end ?? period?.start) : (period?.start ?? period?.end);
    }
    case 'number':
      return typeof value === 'number' ? value : undefined;
    case 'token':
      if (typeof value !== 'object') {
        return String(value);
      }
      return value.coding?.[0]?.code ?? value.code ?? value.value ?? value.text;
    case 'reference':
      return typeof value === 'object' ? value.reference : String(value);
    default:
      if (typeof value === 'string') {
        return value.toLowerCase();
      }
      return (value.family ?? value.text ?? value.display ?? JSON.stringify(value)).toString().toLowerCase();
  }
}

/** Orders present values before missing ones, whatever the direction asked for. */
function compareKeys(a, b) {
  if (a === b) {
    return 0;
  }
  if (a === undefined) {
    return 1;
  }
  if (b === undefined) {
    return -1;
  }
  return a < b ? -1 : 1;
}

function findIncluded(store, search, page) {
  if (!page.length || (!search.include?.length && !search.revInclude?.length)) {
    return [];
  }
  const seen = new Set(page.map((resource) => `${resource.resourceType}/${resource.id}`));
  const included = [];
  const add = (resource) => {
    const key = `${resource.resourceType}/${resource.id}`;
    if (!seen.has(key) && store.canInclude(resource)) {
      seen.add(key);
      included.push(resource);
      return true;
    }
    return false;
  };
  let frontier = page;
  for (let round = 0; round < MAX_INCLUDE_ROUNDS && frontier.length; round++) {
    const next = [];
    const iterate = round > 0;
    for (const target of search.include ?? []) {
      if (iterate && target.modifier !== Operator.ITERATE) {
        continue;
      }
      for (const resource of frontier.filter((r) => r.resourceType === target.resourceType)) {
        for (const found of referencedResources(store, resource, target)) {
          if (add(found)) {
            next.push(found);
          }
        }
      }
    }
    for (const target of search.revInclude ?? []) {
      if (iterate && target.modifier !== Operator.ITERATE) {
        continue;
      }
      const references = frontier.map((resource) => `${resource.resourceType}/${resource.id}`);
      const filter = { code: target.searchParam, operator: Operator.EQUALS, value: references.join(',') };
      for (const found of findMatches(store, target.resourceType, [filter])) {
        if (add(found)) {
          next.push(found);
        }
      }
    }
    frontier = next;
  }
  return included;
}

function referencedResources(store, resource, target) {
  const param = searchParameter(resource.resourceType, target.searchParam);
  const typedValues = evalFhirPathTyped(param.expression, [toTypedValue(resource)]);
  const found = [];
  for (const typedValue of typedValues) {
    const reference = typedValue.value?.reference;
    if (typeof reference !== 'string') {
      continue;
    }
    const [type, id] = normalizeReference(reference).split('/');
    if (id && (!target.targetType || target.targetType === type)) {
      const referenced = store.resources.get(type)?.get(id);
      if (referenced) {
        found.push(referenced);
      }
    }
  }
  return found;
}

/** Stored versions are deep-frozen (repository.mjs), so entries share them instead of copying each one. */
function searchEntry(baseUrl, resource, mode) {
  return {
    fullUrl: `${baseUrl}/${resource.resourceType}/${resource.id}`,
    resource,
    search: { mode },
  };
}

function pagingLinks(baseUrl, search, total) {
  const { count, offset } = search;
  const url = (pageOffset) =>
    `${baseUrl}/${search.resourceType}${formatSearchQuery({
      resourceType: search.resourceType,
      filters: search.filters,
      sortRules: search.sortRules,
      include: search.include,
      revInclude: search.revInclude,
      total: search.total,
      count,
      offset: pageOffset,
    })}`;
  const links = [{ relation: 'self', url: url(offset) }];
  if (count === 0) {
    return links;
  }
  const lastOffset = total > 0 ? Math.floor((total - 1) / count) * count : 0;
  links.push({ relation: 'first', url: url(0) });
  if (offset > 0) {
    links.push({ relation: 'previous', url: url(Math.max(0, offset - count)) });
  }
  if (offset + count < total) {
    links.push({ relation: 'next', url: url(offset + count) });
  }
  links.push({ relation: 'last', url: url(lastOffset) });
  return links;
}
