package org.spineauth.hapi;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** The command line: {@code java -jar hapi-sandbox.jar --port P [--host H] [--igs DIR] [--auth-base URL]
 * [--require-auth] [--default-count N] [--max-count N] [--exit-with-parent]}. The introspection client's credentials
 * come from the environment ({@code SANDBOX_INTROSPECTION_CLIENT=ID:SECRET}) so they stay out of the process list. */
record SandboxOptions(
		int port,
		String host,
		List<Path> igDirectories,
		String authBase,
		String introspectionClient,
		boolean requireAuth,
		int defaultCount,
		int maxCount,
		boolean exitWithParent) {

	static SandboxOptions parse(String[] args) {
		int port = 0;
		String host = "127.0.0.1";
		List<Path> igs = new ArrayList<>();
		String authBase = null;
		boolean requireAuth = false;
		int defaultCount = 20;
		int maxCount = 200;
		boolean exitWithParent = false;
		for (int i = 0; i < args.length; i++) {
			String name = args[i];
			switch (name) {
				case "--port" -> port = integer(value(args, ++i, name), name, 0, 65535);
				case "--host" -> host = value(args, ++i, name);
				case "--igs" -> igs.add(Path.of(value(args, ++i, name)));
				case "--auth-base" -> authBase = value(args, ++i, name).replaceAll("/+$", "");
				case "--require-auth" -> requireAuth = true;
				case "--default-count" -> defaultCount = integer(value(args, ++i, name), name, 1, 10_000);
				case "--max-count" -> maxCount = integer(value(args, ++i, name), name, 1, 10_000);
				case "--exit-with-parent" -> exitWithParent = true;
				default -> throw new IllegalArgumentException("unknown option " + name);
			}
		}
		if (defaultCount > maxCount) {
			throw new IllegalArgumentException("--default-count must not exceed --max-count");
		}
		if (requireAuth && authBase == null) {
			throw new IllegalArgumentException("--require-auth needs --auth-base");
		}
		String client = System.getenv("SANDBOX_INTROSPECTION_CLIENT");
		return new SandboxOptions(
				port, host, igs, authBase, client, requireAuth, defaultCount, maxCount, exitWithParent);
	}

	private static String value(String[] args, int index, String name) {
		if (index >= args.length) {
			throw new IllegalArgumentException(name + " needs a value");
		}
		return args[index];
	}

	private static int integer(String text, String name, int min, int max) {
		try {
			int value = Integer.parseInt(text);
			if (value >= min && value <= max) {
				return value;
			}
		} catch (NumberFormatException ignored) {
			// fall through to the error below
		}
		throw new IllegalArgumentException(name + " must be an integer from " + min + " to " + max);
	}
}
