package org.spineauth.hapi;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.rest.api.RestOperationTypeEnum;
import ca.uhn.fhir.rest.api.server.RequestDetails;
import ca.uhn.fhir.rest.server.exceptions.AuthenticationException;
import ca.uhn.fhir.rest.server.exceptions.BaseServerResponseException;
import ca.uhn.fhir.rest.server.interceptor.auth.AuthorizationInterceptor;
import ca.uhn.fhir.rest.server.interceptor.auth.IAuthRule;
import ca.uhn.fhir.rest.server.interceptor.auth.IAuthRuleBuilder;
import ca.uhn.fhir.rest.server.interceptor.auth.PolicyEnum;
import ca.uhn.fhir.rest.server.interceptor.auth.RuleBuilder;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.hl7.fhir.r4.model.IdType;
import org.spineauth.hapi.SmartScopes.Grant;

/**
 * Bearer tokens checked at our SMART authorization server and SMART scopes enforced with HAPI's own
 * {@link AuthorizationInterceptor} (deny by default), the same rules as the Node sandbox: {@code patient/} scopes
 * confine Patient-compartment types to the token's patient; other types and {@code user/}/{@code system/} scopes are
 * not confined. HAPI's rule set is coarser in two places, said here so nobody relies on the difference: a read rule
 * covers both {@code r} and {@code s}, and {@code u} maps to HAPI's write rule (create or update).
 */
final class SmartAuthorization extends AuthorizationInterceptor {
	static final String REALM = "sandbox-fhir";

	/** 503: the authorization server could not be asked. */
	static final class AuthServerUnavailable extends BaseServerResponseException {
		AuthServerUnavailable(String message) {
			super(503, message);
		}
	}

	private final SandboxRuntime runtime;
	private final TokenIntrospector introspector;
	private final Set<String> allTypes;
	private final Set<String> compartmentTypes = new TreeSet<>();

	SmartAuthorization(FhirContext fhirContext, SandboxRuntime runtime, TokenIntrospector introspector) {
		super(PolicyEnum.DENY);
		this.runtime = runtime;
		this.introspector = introspector;
		this.allTypes = new TreeSet<>(fhirContext.getResourceTypes());
		for (String type : allTypes) {
			if ("Patient".equals(type)
					|| !fhirContext.getResourceDefinition(type).getSearchParamsForCompartmentName("Patient").isEmpty()) {
				compartmentTypes.add(type);
			}
		}
	}

	@Override
	public List<IAuthRule> buildRuleList(RequestDetails request) {
		if (!runtime.requireAuth || request.getRestOperationType() == RestOperationTypeEnum.METADATA) {
			return new RuleBuilder().allowAll().build();
		}
		String token = bearerToken(request.getHeader("Authorization"));
		if (token == null) {
			throw challenge(new AuthenticationException("A bearer token is required"), null);
		}
		if (introspector == null) {
			throw new AuthServerUnavailable("Authentication is required but no authorization server is configured");
		}
		TokenIntrospector.Introspection answer;
		try {
			answer = introspector.introspect(token);
		} catch (TokenIntrospector.IntrospectionException error) {
			throw new AuthServerUnavailable("Cannot check the token: " + error.getMessage());
		}
		if (!answer.active()) {
			throw challenge(new AuthenticationException("The bearer token is not active"), "inactive, expired or revoked");
		}
		return rulesFor(SmartScopes.parse(answer.scope()), answer.patient());
	}

	List<IAuthRule> rulesFor(List<Grant> grants, String patient) {
		IAuthRuleBuilder rules = new RuleBuilder();
		rules.allow().metadata();
		boolean readsPatients = false;
		boolean systemWide = false;
		for (Grant grant : grants) {
			if (grant.patientContext() && patient == null) {
				continue; // patient/ scopes need a token with a patient in context
			}
			if ("*".equals(grant.resourceType())) {
				// One rule for every type; under patient/ it confines compartment types, so the types outside the
				// Patient compartment get their own unconfined rules.
				addRules(rules, grant, null, grant.patientContext() ? patient : null);
				if (grant.patientContext()) {
					allTypes.stream().filter(type -> !compartmentTypes.contains(type))
							.forEach(type -> addRules(rules, grant, type, null));
				}
			} else {
				boolean confined = grant.patientContext() && compartmentTypes.contains(grant.resourceType());
				addRules(rules, grant, grant.resourceType(), confined ? patient : null);
			}
			readsPatients |= (grant.allows('r') || grant.allows('s'))
					&& ("*".equals(grant.resourceType()) || "Patient".equals(grant.resourceType()));
			systemWide |= "system".equals(grant.context()) && "*".equals(grant.resourceType()) && grant.allows('r');
		}
		if (!grants.isEmpty()) {
			// Each entry of a batch or transaction is then checked against the rules above.
			rules.allow().transaction().withAnyOperation().andApplyNormalRules();
			rules.allow().operation().named("$validate").atAnyLevel().andAllowAllResponses();
		}
		if (readsPatients) {
			var everything = rules.allow().operation().named("$everything");
			if (patient != null && grants.stream().allMatch(Grant::patientContext)) {
				everything.onInstance(new IdType("Patient", patient)).andRequireExplicitResponseAuthorization();
			} else {
				everything.onInstancesOfType(org.hl7.fhir.r4.model.Patient.class).andRequireExplicitResponseAuthorization();
			}
		}
		if (systemWide) {
			rules.allow().bulkExport().any();
		}
		return rules.build();
	}

	/** The rules one grant gives on `type` (null: every type), confined to `patient`'s compartment when set. */
	private static void addRules(IAuthRuleBuilder rules, Grant grant, String type, String patient) {
		IdType compartment = patient == null ? null : new IdType("Patient", patient);
		if (grant.allows('r') || grant.allows('s')) {
			var read = rules.allow().read();
			var target = type == null ? read.allResources() : read.resourcesOfType(type);
			if (compartment != null) target.inCompartment("Patient", compartment); else target.withAnyId();
		}
		if (grant.allows('c')) {
			var create = rules.allow().create();
			var target = type == null ? create.allResources() : create.resourcesOfType(type);
			if (compartment != null) target.inCompartment("Patient", compartment); else target.withAnyId();
		}
		if (grant.allows('u')) {
			var write = rules.allow().write();
			var target = type == null ? write.allResources() : write.resourcesOfType(type);
			if (compartment != null) target.inCompartment("Patient", compartment); else target.withAnyId();
		}
		if (grant.allows('d')) {
			var delete = rules.allow().delete();
			var target = type == null ? delete.allResources() : delete.resourcesOfType(type);
			if (compartment != null) target.inCompartment("Patient", compartment); else target.withAnyId();
		}
	}

	private static String bearerToken(String header) {
		if (header == null) {
			return null;
		}
		var match = java.util.regex.Pattern.compile("^Bearer\\s+(\\S+)\\s*$", java.util.regex.Pattern.CASE_INSENSITIVE)
				.matcher(header);
		return match.matches() ? match.group(1) : null;
	}

	private static AuthenticationException challenge(AuthenticationException error, String description) {
		String value = "Bearer realm=\"" + REALM + "\"";
		if (description != null) {
			value += ", error=\"invalid_token\", error_description=\"" + description + "\"";
		}
		error.addResponseHeader("WWW-Authenticate", value);
		return error;
	}
}
