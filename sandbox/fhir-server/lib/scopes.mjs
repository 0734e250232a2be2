// SMART on FHIR scopes → what a token may do, per resource type and interaction.
//
// v2: `patient/Condition.rs`, `user/*.cruds`, `system/Observation.r` (letters c r u d s, in that order).
// v1: `.read` (= rs), `.write` (= cud), `.*` (= cruds).
// Granular v2 scopes with a query (`patient/Observation.rs?category=...`) grant nothing here: this server does not
// enforce the query, and granting the whole type would be wider than the scope.
// Scopes with the `patient/` context confine reads and searches of Patient-compartment types to the token's patient.

const SCOPE_PATTERN = /^(patient|user|system)\/(\*|[A-Z][A-Za-z]+)\.(\*|read|write|c?r?u?d?s?)$/;
const V1_PERMISSIONS = { '*': 'cruds', read: 'rs', write: 'cud' };

/** The permission letter an interaction needs. */
export const INTERACTION_PERMISSION = {
  read: 'r',
  vread: 'r',
  'history-instance': 'r',
  'search-type': 's',
  create: 'c',
  update: 'u',
  patch: 'u',
  delete: 'd',
};

/** @returns {{context: string, resourceType: string, permissions: string}[]} the resource scopes in `scopeString` */
export function parseScopes(scopeString) {
  const grants = [];
  for (const scope of (scopeString ?? '').split(/\s+/)) {
    const match = SCOPE_PATTERN.exec(scope);
    if (!match || match[3] === '') {
      continue;
    }
    const [, context, resourceType, permissions] = match;
    grants.push({ context, resourceType, permissions: V1_PERMISSIONS[permissions] ?? permissions });
  }
  return grants;
}

/**
 * The access of one introspected token.
 * `check(type, permission)` → `{allowed, patient, reason}`; `patient` is set when only `patient/` scopes allow it.
 */
export function tokenAccess(scopeString, patientId) {
  const grants = parseScopes(scopeString);
  return {
    check(resourceType, permission) {
      const granting = grants.filter(
        (grant) =>
          (grant.resourceType === '*' || grant.resourceType === resourceType) && grant.permissions.includes(permission)
      );
      if (granting.length === 0) {
        return { allowed: false, reason: `the token has no scope that allows '${permission}' on ${resourceType}` };
      }
      if (granting.some((grant) => grant.context !== 'patient')) {
        return { allowed: true, patient: undefined };
      }
      if (!patientId) {
        return { allowed: false, reason: 'patient/ scopes need a token with a patient in context' };
      }
      return { allowed: true, patient: patientId };
    },
  };
}
