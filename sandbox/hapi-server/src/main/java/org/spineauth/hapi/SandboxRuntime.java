package org.spineauth.hapi;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/** Settings tests change while the server runs (as the Node sandbox's /admin/config) and request counters. */
final class SandboxRuntime {
	final boolean startedWithAuth;
	volatile boolean requireAuth;
	final AtomicLong delayMs = new AtomicLong();
	final AtomicInteger requests = new AtomicInteger();
	final AtomicInteger withAuthorization = new AtomicInteger();

	SandboxRuntime(boolean requireAuth) {
		this.startedWithAuth = requireAuth;
		this.requireAuth = requireAuth;
	}
}
