package org.spineauth.hapi;

import ca.uhn.fhir.jpa.api.dao.IFhirSystemDao;
import ca.uhn.fhir.jpa.api.model.ExpungeOptions;
import ca.uhn.fhir.jpa.search.DatabaseBackedPagingProvider;
import ca.uhn.fhir.rest.api.server.SystemRequestDetails;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;

/**
 * The same admin calls as the Node sandbox, for tests on loopback: {@code GET|POST /admin/config}
 * ({@code requireAuth}, {@code delayMs}, {@code defaultCount}), {@code GET /admin/stats}, {@code POST
 * /admin/stats/reset} and {@code POST /admin/reset} (expunge every resource, the installed IG profiles too).
 */
final class AdminServlet extends HttpServlet {
	private final transient SandboxRuntime runtime;
	private final transient DatabaseBackedPagingProvider paging;
	private final transient IFhirSystemDao<?, ?> systemDao;
	private final transient TokenIntrospector introspector;
	private final transient ObjectMapper json = new ObjectMapper();

	AdminServlet(
			SandboxRuntime runtime,
			DatabaseBackedPagingProvider paging,
			IFhirSystemDao<?, ?> systemDao,
			TokenIntrospector introspector) {
		this.runtime = runtime;
		this.paging = paging;
		this.systemDao = systemDao;
		this.introspector = introspector;
	}

	@Override
	protected void doGet(HttpServletRequest request, HttpServletResponse response) throws IOException {
		switch (path(request)) {
			case "config" -> send(response, 200, config());
			case "stats" -> send(response, 200, stats());
			default -> send(response, 404, message("no admin call here"));
		}
	}

	@Override
	protected void doPost(HttpServletRequest request, HttpServletResponse response) throws IOException {
		switch (path(request)) {
			case "config" -> {
				JsonNode body = json.readTree(request.getInputStream());
				if (body == null || !body.isObject()) {
					send(response, 400, message("the config must be a JSON object"));
					return;
				}
				runtime.requireAuth = body.path("requireAuth").asBoolean(runtime.startedWithAuth);
				runtime.delayMs.set(Math.max(0, body.path("delayMs").asLong(0)));
				if (body.has("defaultCount")) {
					paging.setDefaultPageSize(Math.min(paging.getMaximumPageSize(), body.get("defaultCount").asInt()));
				}
				send(response, 200, config());
			}
			case "stats/reset" -> {
				runtime.requests.set(0);
				runtime.withAuthorization.set(0);
				send(response, 200, stats());
			}
			case "reset" -> {
				systemDao.expunge(new ExpungeOptions().setExpungeEverything(true), new SystemRequestDetails());
				if (introspector != null) {
					introspector.clearCache();
				}
				send(response, 200, message("reset"));
			}
			default -> send(response, 404, message("no admin call here"));
		}
	}

	private ObjectNode config() {
		ObjectNode config = json.createObjectNode();
		config.put("requireAuth", runtime.requireAuth);
		config.put("delayMs", runtime.delayMs.get());
		config.put("defaultCount", paging.getDefaultPageSize());
		config.put("maxCount", paging.getMaximumPageSize());
		config.put("engine", "hapi");
		return config;
	}

	private ObjectNode stats() {
		ObjectNode stats = json.createObjectNode();
		stats.put("requests", runtime.requests.get());
		stats.put("withAuthorization", runtime.withAuthorization.get());
		return stats;
	}

	private ObjectNode message(String text) {
		return json.createObjectNode().put("message", text);
	}

	private static String path(HttpServletRequest request) {
		String path = request.getPathInfo();
		return path == null ? "" : path.replaceAll("^/+|/+$", "");
	}

	private void send(HttpServletResponse response, int status, ObjectNode body) throws IOException {
		response.setStatus(status);
		response.setContentType("application/json");
		json.writeValue(response.getOutputStream(), body);
	}
}
