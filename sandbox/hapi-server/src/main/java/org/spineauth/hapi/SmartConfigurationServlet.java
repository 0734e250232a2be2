package org.spineauth.hapi;

import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

/** {@code /fhir/.well-known/smart-configuration}: the authorization server's SMART configuration, as the Node sandbox
 * serves it (404 in open mode, where there is no authorization server). */
final class SmartConfigurationServlet extends HttpServlet {
	private static final Duration TIMEOUT = Duration.ofSeconds(5);
	private final String authBase;
	private final transient HttpClient http = HttpClient.newBuilder().connectTimeout(TIMEOUT).build();

	SmartConfigurationServlet(String authBase) {
		this.authBase = authBase;
	}

	@Override
	protected void doGet(HttpServletRequest request, HttpServletResponse response) throws IOException {
		response.setContentType("application/json");
		if (authBase == null || !"/smart-configuration".equals(request.getPathInfo())) {
			response.setStatus(404);
			response.getWriter().write(outcome("not-found", "No authorization server is configured for this FHIR server"));
			return;
		}
		try {
			HttpResponse<String> answer = http.send(
					HttpRequest.newBuilder(URI.create(authBase + "/.well-known/smart-configuration"))
							.timeout(TIMEOUT)
							.header("accept", "application/json")
							.build(),
					HttpResponse.BodyHandlers.ofString());
			if (answer.statusCode() != 200) {
				throw new IOException("HTTP " + answer.statusCode());
			}
			response.setStatus(200);
			response.getWriter().write(answer.body());
		} catch (IOException | InterruptedException error) {
			response.setStatus(503);
			response.getWriter().write(outcome("transient", "The authorization server's SMART configuration is unavailable"));
		}
	}

	private static String outcome(String code, String text) {
		return "{\"resourceType\":\"OperationOutcome\",\"issue\":[{\"severity\":\"error\",\"code\":\"" + code
				+ "\",\"details\":{\"text\":\"" + Json.escape(text) + "\"}}]}";
	}
}
