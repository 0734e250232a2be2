// Validates every resource before it is stored: @medplum/core's validator (structure, unknown elements, cardinality,
// primitive formats such as dates, FHIRPath invariants) plus the required-binding check Medplum does not make.
import { OperationOutcomeError, crawlTypedValue, toTypedValue, validateResource } from '@medplum/core';

const ID_PATTERN = /^[A-Za-z0-9\-.]{1,64}$/;
const CODED_TYPES = new Set(['code', 'Coding', 'CodeableConcept']);
const DATE_TYPES = new Set(['date', 'dateTime', 'instant']);
const DATE_PREFIX = /^(\d{4})-(\d{2})-(\d{2})/;

export class ResourceValidator {
  /**
   * @param {Set<string>} resourceTypes the R4 resource types this server stores
   * @param {import('./terminology.mjs').Terminology} terminology
   */
  constructor(resourceTypes, terminology) {
    this.resourceTypes = resourceTypes;
    this.terminology = terminology;
  }

  /** Throws an OperationOutcomeError (HTTP 400) listing every error found in `resource`. */
  validate(resource) {
    if (!resource || typeof resource !== 'object' || Array.isArray(resource)) {
      throw invalid([issue('structure', 'The body must be a FHIR resource (a JSON object)')]);
    }
    if (!this.resourceTypes.has(resource.resourceType)) {
      throw invalid([issue('not-supported', `Unknown resource type: ${resource.resourceType ?? '<missing>'}`)]);
    }
    const issues = [];
    if (resource.id !== undefined && (typeof resource.id !== 'string' || !ID_PATTERN.test(resource.id))) {
      issues.push(issue('value', 'Invalid id: 1 to 64 characters of A-Z, a-z, 0-9, "-" and "."', `${resource.resourceType}.id`));
    }
    try {
      issues.push(...validateResource(resource));
    } catch (err) {
      if (!(err instanceof OperationOutcomeError)) {
        throw err;
      }
      issues.push(...(err.outcome.issue ?? []));
    }
    issues.push(...this.bindingAndCalendarIssues(resource));
    const errors = issues.filter((found) => found.severity === 'error' || found.severity === 'fatal');
    if (errors.length > 0) {
      throw invalid(errors);
    }
  }

  /**
   * Required bindings; calendar dates (Medplum's date pattern lets 2021-02-30 through); and `urn:uuid:` references,
   * which are Bundle-local placeholders: one still present when a resource is stored matched no entry's fullUrl.
   */
  bindingAndCalendarIssues(resource) {
    const issues = [];
    const terminology = this.terminology;
    crawlTypedValue(toTypedValue(resource), {
      visitProperty(_parent, key, _path, propertyValues, schema) {
        for (const value of propertyValues.flat()) {
          if (value && DATE_TYPES.has(value.type) && typeof value.value === 'string' && !isCalendarDate(value.value)) {
            issues.push(issue('value', `Invalid ${value.type}: ${value.value} is not a calendar date`, value.path));
          }
          const reference = value?.type === 'Reference' ? value.value?.reference : undefined;
          if (typeof reference === 'string' && reference.startsWith('urn:uuid:')) {
            const text = `Unresolved reference ${reference}: no entry of the Bundle has this fullUrl`;
            issues.push(issue('not-found', text, `${value.path}.reference`));
          }
        }
        const binding = schema.elements[key]?.binding;
        if (binding?.strength !== 'required' || !binding.valueSet) {
          return;
        }
        for (const value of propertyValues.flat()) {
          if (!value || value.value === undefined || !CODED_TYPES.has(value.type)) {
            continue;
          }
          const expansion = terminology.expand(binding.valueSet);
          const problem = expansion && bindingProblem(value, expansion);
          if (problem) {
            issues.push(
              issue('code-invalid', `${problem} is not in the required value set ${binding.valueSet}`, value.path)
            );
          }
        }
      },
    });
    return issues;
  }
}

/** Describes the offending code, or returns undefined when `typedValue` satisfies the expansion. */
function bindingProblem(typedValue, expansion) {
  const { type, value } = typedValue;
  if (type === 'code') {
    return expansion.codes.has(value) ? undefined : `Code "${value}"`;
  }
  const codings = type === 'Coding' ? [value] : (value.coding ?? []);
  const coded = codings.filter((coding) => coding?.code !== undefined);
  if (coded.length === 0 || coded.some((coding) => codingInExpansion(coding, expansion))) {
    return undefined;
  }
  return coded.map((coding) => `"${coding.system ?? ''}|${coding.code}"`).join(', ');
}

function isCalendarDate(text) {
  const match = DATE_PREFIX.exec(text);
  if (!match) {
    return true; // a year or year-month; the format itself is Medplum's check
  }
  const [year, month, day] = match.slice(1).map(Number);
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

function codingInExpansion(coding, expansion) {
  return coding.system ? expansion.systemCodes.has(`${coding.system}|${coding.code}`) : expansion.codes.has(coding.code);
}

function issue(code, text, expression) {
  return { severity: 'error', code, details: { text }, ...(expression ? { expression: [expression] } : {}) };
}

function invalid(issues) {
  return new OperationOutcomeError({ resourceType: 'OperationOutcome', issue: issues });
}
