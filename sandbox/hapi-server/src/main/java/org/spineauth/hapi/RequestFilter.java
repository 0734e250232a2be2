package org.spineauth.hapi;

import jakarta.servlet.Filter;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.ServletRequest;
import jakarta.servlet.ServletResponse;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.io.PrintStream;

/**
 * In front of every FHIR request: counts it (and whether it carried an Authorization header), holds it for the
 * configured delay (HAPI has no latency switch; the benchmark injects network latency here) and logs one JSON line
 * with method, path without query, status and milliseconds. Bodies, queries and tokens are never logged.
 */
final class RequestFilter implements Filter {
	private final SandboxRuntime runtime;
	private final PrintStream log;

	RequestFilter(SandboxRuntime runtime, PrintStream log) {
		this.runtime = runtime;
		this.log = log;
	}

	@Override
	public void doFilter(ServletRequest request, ServletResponse response, FilterChain chain)
			throws IOException, ServletException {
		HttpServletRequest http = (HttpServletRequest) request;
		long started = System.nanoTime();
		runtime.requests.incrementAndGet();
		if (http.getHeader("Authorization") != null) {
			runtime.withAuthorization.incrementAndGet();
		}
		long delay = runtime.delayMs.get();
		if (delay > 0) {
			try {
				Thread.sleep(delay);
			} catch (InterruptedException error) {
				Thread.currentThread().interrupt();
			}
		}
		try {
			chain.doFilter(request, response);
		} finally {
			double ms = Math.round((System.nanoTime() - started) / 100_000.0) / 10.0;
			int status = ((HttpServletResponse) response).getStatus();
			log.printf(
					"{\"event\":\"request\",\"method\":\"%s\",\"path\":\"%s\",\"status\":%d,\"ms\":%s}%n",
					http.getMethod(), Json.escape(http.getRequestURI()), status, ms);
		}
	}
}
