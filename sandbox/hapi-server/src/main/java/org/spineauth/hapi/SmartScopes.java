package org.spineauth.hapi;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * SMART on FHIR resource scopes, parsed as the Node sandbox does (sandbox/fhir-server/lib/scopes.mjs): v2
 * {@code patient/Condition.rs}, {@code system/*.cruds}; v1 {@code .read} (= rs), {@code .write} (= cud), {@code .*}.
 * Granular scopes with a query grant nothing (the query is not enforced, and the whole type would be wider).
 */
final class SmartScopes {
	/** One resource scope: context (patient, user, system), resource type or "*", permission letters. */
	record Grant(String context, String resourceType, String permissions) {
		boolean allows(char permission) {
			return permissions.indexOf(permission) >= 0;
		}

		boolean patientContext() {
			return "patient".equals(context);
		}
	}

	private static final Pattern SCOPE =
			Pattern.compile("^(patient|user|system)/(\\*|[A-Z][A-Za-z]+)\\.(\\*|read|write|c?r?u?d?s?)$");
	private static final Map<String, String> V1 = Map.of("*", "cruds", "read", "rs", "write", "cud");

	private SmartScopes() {}

	static List<Grant> parse(String scopes) {
		List<Grant> grants = new ArrayList<>();
		for (String scope : (scopes == null ? "" : scopes).trim().split("\\s+")) {
			Matcher match = SCOPE.matcher(scope);
			if (!match.matches() || match.group(3).isEmpty()) {
				continue;
			}
			String permissions = V1.getOrDefault(match.group(3), match.group(3));
			grants.add(new Grant(match.group(1), match.group(2), permissions));
		}
		return grants;
	}
}
