// The CapabilityStatement served at /metadata: every R4 resource type with its interactions and search parameters,
// batch and transaction, and (with an authorization server) the SMART security service and OAuth endpoints.
import { searchParameters } from './definitions.mjs';
import { SUPPORTED_PARAMETER_TYPES } from './search.mjs';

const TYPE_INTERACTIONS = ['read', 'vread', 'update', 'patch', 'delete', 'history-instance', 'create', 'search-type'];
const SMART_SERVICE = {
  coding: [{ system: 'http://terminology.hl7.org/CodeSystem/restful-security-service', code: 'SMART-on-FHIR' }],
  text: 'OAuth2 using SMART-on-FHIR profile (see http://docs.smarthealthit.org)',
};

export class CapabilityBuilder {
  constructor({ resourceTypes, software, startedAt }) {
    this.resourceTypes = resourceTypes;
    this.software = software;
    this.startedAt = startedAt;
    this.resources = undefined;
  }

  /**
   * @param {string} baseUrl the FHIR base the client used
   * @param {{authServer: boolean, smartConfiguration?: object}} security whether an authorization server protects
   *   this server, and its SMART configuration when it could be fetched
   */
  build(baseUrl, { authServer, smartConfiguration }) {
    this.resources ??= this.resourceTypes.map(describeType);
    const rest = {
      mode: 'server',
      resource: this.resources,
      interaction: [{ code: 'transaction' }, { code: 'batch' }],
    };
    if (authServer) {
      rest.security = {
        cors: false,
        service: [SMART_SERVICE],
        ...(smartConfiguration ? { extension: [oauthUris(smartConfiguration)] } : {}),
      };
    }
    return {
      resourceType: 'CapabilityStatement',
      status: 'active',
      date: this.startedAt,
      kind: 'instance',
      software: this.software,
      implementation: { description: 'spine-auth sandbox FHIR server (in-memory)', url: baseUrl },
      fhirVersion: '4.0.1',
      format: ['application/fhir+json', 'json'],
      rest: [rest],
    };
  }
}

function describeType(resourceType) {
  const params = Object.values(searchParameters(resourceType)).filter((param) =>
    SUPPORTED_PARAMETER_TYPES.includes(param.type)
  );
  const references = params.filter((param) => param.type === 'reference').map((param) => param.code);
  return {
    type: resourceType,
    interaction: TYPE_INTERACTIONS.map((code) => ({ code })),
    versioning: 'versioned',
    readHistory: true,
    updateCreate: true,
    conditionalCreate: true,
    conditionalUpdate: true,
    conditionalDelete: 'single',
    searchInclude: references.map((code) => `${resourceType}:${code}`),
    searchParam: params.map((param) => ({
      name: param.code,
      ...(param.url ? { definition: param.url } : {}),
      type: param.type,
    })),
  };
}

function oauthUris(smartConfiguration) {
  const uris = [
    ['authorize', smartConfiguration.authorization_endpoint],
    ['token', smartConfiguration.token_endpoint],
    ['introspect', smartConfiguration.introspection_endpoint],
    ['revoke', smartConfiguration.revocation_endpoint],
  ].filter(([, url]) => typeof url === 'string');
  return {
    url: 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris',
    extension: uris.map(([url, valueUri]) => ({ url, valueUri })),
  };
}
