// An index of the reference search parameters that decide who a resource belongs to: `patient`, `subject` and the
// Patient-compartment parameters of each type. Searches such as `Observation?patient=Patient/123` and the
// compartment restriction of `patient/` scopes look candidates up here instead of scanning every resource.
import { convertToSearchableReferences, evalFhirPathTyped, toTypedValue } from '@medplum/core';
import { searchParameter } from './definitions.mjs';

const ALWAYS_INDEXED = ['patient', 'subject'];
const LOCAL_REFERENCE = /(?:^|\/)([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/;

/** "Type/id" for a relative or absolute literal reference; anything else (urn:uuid, identifier-only) unchanged. */
export function normalizeReference(reference) {
  const match = LOCAL_REFERENCE.exec(reference);
  return match ? `${match[1]}/${match[2]}` : reference;
}

export class ReferenceIndex {
  /** @param {Map<string, string[]>} patientCompartment type → compartment search parameters */
  constructor(patientCompartment) {
    this.patientCompartment = patientCompartment;
    this.indexedParams = new Map();
    this.postings = new Map(); // "Type.param" → Map<reference, Set<id>>
    this.referencesByResource = new Map(); // "Type/id" → Map<param, string[]>
  }

  clear() {
    this.postings.clear();
    this.referencesByResource.clear();
  }

  /** The indexed reference parameters of `resourceType`. */
  paramsFor(resourceType) {
    let params = this.indexedParams.get(resourceType);
    if (!params) {
      const codes = new Set([...ALWAYS_INDEXED, ...(this.patientCompartment.get(resourceType) ?? [])]);
      params = [...codes].filter((code) => searchParameter(resourceType, code)?.type === 'reference');
      this.indexedParams.set(resourceType, params);
    }
    return params;
  }

  isIndexed(resourceType, code) {
    return this.paramsFor(resourceType).includes(code);
  }

  add(resource) {
    const key = `${resource.resourceType}/${resource.id}`;
    const byParam = new Map();
    for (const code of this.paramsFor(resource.resourceType)) {
      const expression = searchParameter(resource.resourceType, code).expression;
      const typedValues = evalFhirPathTyped(expression, [toTypedValue(resource)]);
      const references = [...new Set(convertToSearchableReferences(typedValues).map(normalizeReference))];
      byParam.set(code, references);
      const postings = this.postingsFor(resource.resourceType, code);
      for (const reference of references) {
        let ids = postings.get(reference);
        if (!ids) {
          ids = new Set();
          postings.set(reference, ids);
        }
        ids.add(resource.id);
      }
    }
    this.referencesByResource.set(key, byParam);
  }

  remove(resource) {
    const key = `${resource.resourceType}/${resource.id}`;
    const byParam = this.referencesByResource.get(key);
    if (!byParam) {
      return;
    }
    for (const [code, references] of byParam) {
      const postings = this.postingsFor(resource.resourceType, code);
      for (const reference of references) {
        postings.get(reference)?.delete(resource.id);
      }
    }
    this.referencesByResource.delete(key);
  }

  /** Ids of `resourceType` resources whose parameter `code` references any of `references` ("Type/id"). */
  lookup(resourceType, code, references) {
    const postings = this.postingsFor(resourceType, code);
    const ids = new Set();
    for (const reference of references) {
      postings.get(reference)?.forEach((id) => ids.add(id));
    }
    return ids;
  }

  /** True when `resourceType` has members in the Patient compartment (Patient itself included). */
  hasPatientCompartment(resourceType) {
    return resourceType === 'Patient' || this.patientCompartment.has(resourceType);
  }

  /** Ids of `resourceType` resources in the compartment of `patientId`. */
  compartmentMembers(resourceType, patientId) {
    const reference = `Patient/${patientId}`;
    const ids = new Set();
    for (const code of this.patientCompartment.get(resourceType) ?? []) {
      if (this.isIndexed(resourceType, code)) {
        this.lookup(resourceType, code, [reference]).forEach((id) => ids.add(id));
      }
    }
    if (resourceType === 'Patient') {
      ids.add(patientId);
    }
    return ids;
  }

  /** True when the stored `resource` is in the compartment of `patientId`. */
  inPatientCompartment(resource, patientId) {
    if (resource.resourceType === 'Patient' && resource.id === patientId) {
      return true;
    }
    const reference = `Patient/${patientId}`;
    const byParam = this.referencesByResource.get(`${resource.resourceType}/${resource.id}`);
    return (this.patientCompartment.get(resource.resourceType) ?? []).some((code) =>
      byParam?.get(code)?.includes(reference)
    );
  }

  postingsFor(resourceType, code) {
    const key = `${resourceType}.${code}`;
    let postings = this.postings.get(key);
    if (!postings) {
      postings = new Map();
      this.postings.set(key, postings);
    }
    return postings;
  }
}
