package org.spineauth.hapi;

/** The little JSON text this launcher writes by hand (log lines, admin answers). */
final class Json {
	private Json() {}

	static String escape(String text) {
		StringBuilder out = new StringBuilder(text.length());
		for (char c : text.toCharArray()) {
			switch (c) {
				case '"' -> out.append("\\\"");
				case '\\' -> out.append("\\\\");
				default -> {
					if (c < 0x20) out.append(String.format("\\u%04x", (int) c)); else out.append(c);
				}
			}
		}
		return out.toString();
	}
}
