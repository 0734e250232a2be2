package org.spineauth.hapi;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.Base64;
import java.util.HexFormat;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Checks bearer tokens at the authorization server's RFC 7662 introspection endpoint (client_secret_basic), as the
 * Node sandbox does: answers are cached for one second keyed by a hash of the token, and {@code exp} is checked on
 * every use, so a revoked or expired token stops working within a second.
 */
final class TokenIntrospector {
	/** What the authorization server said about a token. */
	record Introspection(boolean active, String scope, String patient, long exp) {
		static final Introspection INACTIVE = new Introspection(false, "", null, 0);
	}

	/** The introspection endpoint could not be asked (unreachable, HTTP error, malformed answer). */
	static final class IntrospectionException extends Exception {
		IntrospectionException(String message) {
			super(message);
		}
	}

	private static final long CACHE_MILLIS = 1000;
	private static final int CACHE_LIMIT = 1000;
	private static final Duration TIMEOUT = Duration.ofSeconds(5);

	private record Cached(Introspection answer, long until) {}

	private final URI endpoint;
	private final String basicCredentials;
	private final HttpClient http = HttpClient.newBuilder().connectTimeout(TIMEOUT).build();
	private final ObjectMapper json = new ObjectMapper();
	private final ConcurrentHashMap<String, Cached> cache = new ConcurrentHashMap<>();

	TokenIntrospector(String authBase, String client) {
		this.endpoint = URI.create(authBase + "/introspect");
		this.basicCredentials = client == null ? null : basic(client);
	}

	Introspection introspect(String token) throws IntrospectionException {
		String key = sha256(token);
		long now = System.currentTimeMillis();
		Cached cached = cache.get(key);
		if (cached == null || cached.until() < now) {
			if (cache.size() >= CACHE_LIMIT) {
				cache.clear();
			}
			cached = new Cached(ask(token), now + CACHE_MILLIS);
			cache.put(key, cached);
		}
		Introspection answer = cached.answer();
		if (answer.active() && answer.exp() > 0 && answer.exp() * 1000 <= now) {
			return Introspection.INACTIVE;
		}
		return answer;
	}

	void clearCache() {
		cache.clear();
	}

	private Introspection ask(String token) throws IntrospectionException {
		String form = "token=" + URLEncoder.encode(token, StandardCharsets.UTF_8) + "&token_type_hint=access_token";
		HttpRequest.Builder request = HttpRequest.newBuilder(endpoint)
				.timeout(TIMEOUT)
				.header("content-type", "application/x-www-form-urlencoded")
				.header("accept", "application/json")
				.POST(HttpRequest.BodyPublishers.ofString(form));
		if (basicCredentials != null) {
			request.header("authorization", basicCredentials);
		}
		HttpResponse<String> response;
		try {
			response = http.send(request.build(), HttpResponse.BodyHandlers.ofString());
		} catch (IOException error) {
			throw new IntrospectionException("introspection endpoint unreachable (" + error.getClass().getSimpleName() + ")");
		} catch (InterruptedException error) {
			Thread.currentThread().interrupt();
			throw new IntrospectionException("interrupted while introspecting");
		}
		if (response.statusCode() != 200) {
			throw new IntrospectionException("introspection endpoint answered HTTP " + response.statusCode());
		}
		try {
			JsonNode answer = json.readTree(response.body());
			if (answer == null || !answer.path("active").asBoolean(false)) {
				return Introspection.INACTIVE;
			}
			JsonNode patient = answer.get("patient");
			return new Introspection(
					true,
					answer.path("scope").asText(""),
					patient != null && patient.isTextual() ? patient.asText() : null,
					answer.path("exp").asLong(0));
		} catch (IOException error) {
			throw new IntrospectionException("introspection endpoint answered with malformed JSON");
		}
	}

	private static String basic(String client) {
		int separator = client.indexOf(':');
		if (separator <= 0) {
			throw new IllegalArgumentException("SANDBOX_INTROSPECTION_CLIENT must be ID:SECRET");
		}
		String id = URLEncoder.encode(client.substring(0, separator), StandardCharsets.UTF_8);
		String secret = URLEncoder.encode(client.substring(separator + 1), StandardCharsets.UTF_8);
		return "Basic " + Base64.getEncoder().encodeToString((id + ":" + secret).getBytes(StandardCharsets.UTF_8));
	}

	private static String sha256(String text) {
		try {
			return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8)));
		} catch (NoSuchAlgorithmException error) {
			throw new IllegalStateException(error);
		}
	}
}
