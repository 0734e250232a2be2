package spineauth.validator;

import ca.uhn.fhir.validation.ValidationOptions;
import ca.uhn.fhir.validation.ValidationResult;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * The validator as a small HTTP service on 127.0.0.1 (the JDK's com.sun.net.httpserver): it listens at once, loads
 * the packages, then answers.
 *
 * <pre>
 * GET  /ready                      200 {"ready": true, "loadSeconds": s} | 503 {"ready": false} while loading
 * POST /validate?profile=URL       body: one FHIR JSON resource → 200 OperationOutcome (the validation result);
 *                                  503 while loading (Retry-After), 400 for an unknown profile, 413 past 64 MiB
 * </pre>
 *
 * --warm-up PROFILE validates an empty Bundle against that profile before ready (the first validation of a profile
 * builds its snapshots and caches). Stdout carries one JSON line per event: {"event": "listening", "port": P}, then {"event": "ready", "seconds": s}
 * (or {"event": "failed", "error": …} and exit 1). With --exit-on-stdin-eof the process ends when its parent closes
 * stdin (so a crashed parent never leaves a JVM behind). Validations run one at a time: HAPI's validator shares
 * caches that are not documented as thread-safe, and /ready stays responsive meanwhile.
 */
final class ValidatorServer {
  static final int MAX_BODY_BYTES = 64 * 1024 * 1024;
  private static final String FHIR_JSON = "application/fhir+json; charset=utf-8";

  private final Object validating = new Object();
  private volatile Validation validation;
  private volatile double loadSeconds;

  private ValidatorServer() {}

  static void serve(
      int port, List<Path> packages, List<Path> profileDirs, List<String> warmUpProfiles, boolean exitOnStdinEof)
      throws IOException {
    PrintStream stdout = new PrintStream(System.out, true, StandardCharsets.UTF_8);
    long started = System.nanoTime();
    ValidatorServer service = new ValidatorServer();
    HttpServer http = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 32);
    http.createContext("/ready", service::ready);
    http.createContext("/validate", service::validate);
    ExecutorService executor = Executors.newFixedThreadPool(4);
    http.setExecutor(executor);
    http.start();
    stdout.println("{\"event\":\"listening\",\"port\":" + http.getAddress().getPort() + "}");
    if (exitOnStdinEof) {
      Thread watcher = new Thread(ValidatorServer::exitOnStdinEof, "stdin-watcher");
      watcher.setDaemon(true);
      watcher.start();
    }
    try {
      Validation loaded = Validation.load(packages, profileDirs);
      warmUp(loaded, warmUpProfiles);
      service.loadSeconds = (System.nanoTime() - started) / 1e9;
      service.validation = loaded;
    } catch (Exception | StackOverflowError error) {
      stdout.println("{\"event\":\"failed\",\"error\":" + Main.quote(String.valueOf(error)) + "}");
      System.exit(1);
    }
    stdout.println(String.format("{\"event\":\"ready\",\"seconds\":%.2f}", service.loadSeconds));
  }

  /** A first validation builds snapshots and caches (seconds): done here, so the first request does not wait. */
  private static void warmUp(Validation loaded, List<String> profiles) {
    String empty = "{\"resourceType\":\"Bundle\",\"type\":\"collection\"}";
    loaded.validator.validateWithResult(empty);
    for (String profile : profiles) {
      if (!loaded.knowsProfile(profile)) {
        throw new IllegalArgumentException("--warm-up names an unknown profile: " + profile);
      }
      loaded.validator.validateWithResult(empty, new ValidationOptions().addProfile(profile));
    }
  }

  private static void exitOnStdinEof() {
    try {
      InputStream in = System.in;
      byte[] buffer = new byte[256];
      while (in.read(buffer) != -1) {
        // nothing is expected on stdin; only its end matters
      }
    } catch (IOException ignored) {
      // a broken stdin is the same as a closed one
    }
    System.exit(0);
  }

  private void ready(HttpExchange exchange) throws IOException {
    try (exchange) {
      if (!exchange.getRequestMethod().equals("GET")) {
        send(exchange, 405, "application/json", "{\"error\":\"GET only\"}");
      } else if (validation == null) {
        send(exchange, 503, "application/json", "{\"ready\":false}");
      } else {
        send(exchange, 200, "application/json", String.format("{\"ready\":true,\"loadSeconds\":%.2f}", loadSeconds));
      }
    }
  }

  private void validate(HttpExchange exchange) throws IOException {
    try (exchange) {
      if (!exchange.getRequestURI().getPath().equals("/validate")) {
        send(exchange, 404, FHIR_JSON, outcome("not-found", "POST /validate?profile=URL only"));
        return;
      }
      if (!exchange.getRequestMethod().equals("POST")) {
        exchange.getResponseHeaders().set("Allow", "POST");
        send(exchange, 405, FHIR_JSON, outcome("not-supported", "POST /validate?profile=URL only"));
        return;
      }
      Validation loaded = validation;
      if (loaded == null) {
        exchange.getResponseHeaders().set("Retry-After", "1");
        send(exchange, 503, FHIR_JSON, outcome("transient", "the validator is still loading its packages"));
        return;
      }
      byte[] body = exchange.getRequestBody().readNBytes(MAX_BODY_BYTES + 1);
      if (body.length > MAX_BODY_BYTES) {
        send(exchange, 413, FHIR_JSON, outcome("too-costly", "the resource is larger than 64 MiB"));
        return;
      }
      List<String> profiles = profiles(exchange.getRequestURI().getRawQuery());
      ValidationOptions options = new ValidationOptions();
      for (String profile : profiles) {
        if (!loaded.knowsProfile(profile)) {
          send(exchange, 400, FHIR_JSON, outcome("not-found", "unknown profile " + profile));
          return;
        }
        options.addProfile(profile);
      }
      String text = new String(body, StandardCharsets.UTF_8);
      long started = System.nanoTime();
      String answer;
      synchronized (validating) {
        ValidationResult result = loaded.validator.validateWithResult(text, options);
        answer = loaded.context.newJsonParser().encodeResourceToString(result.toOperationOutcome());
      }
      exchange.getResponseHeaders().set("X-Validation-Millis", Long.toString((System.nanoTime() - started) / 1_000_000));
      send(exchange, 200, FHIR_JSON, answer);
    } catch (RuntimeException | StackOverflowError error) {
      send(exchange, 500, FHIR_JSON, outcome("exception", "validation failed: " + error));
    }
  }

  private static List<String> profiles(String rawQuery) {
    List<String> found = new ArrayList<>();
    if (rawQuery == null) {
      return found;
    }
    for (String pair : rawQuery.split("&")) {
      int equals = pair.indexOf('=');
      if (equals > 0 && pair.substring(0, equals).equals("profile")) {
        String value = URLDecoder.decode(pair.substring(equals + 1), StandardCharsets.UTF_8);
        if (!value.isEmpty()) {
          found.add(value);
        }
      }
    }
    return found;
  }

  private static String outcome(String code, String message) {
    return "{\"resourceType\":\"OperationOutcome\",\"issue\":[{\"severity\":\"error\",\"code\":\"" + code
        + "\",\"diagnostics\":" + Main.quote(message) + "}]}";
  }

  private static void send(HttpExchange exchange, int status, String contentType, String body) throws IOException {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    exchange.getResponseHeaders().set("Content-Type", contentType);
    exchange.sendResponseHeaders(status, bytes.length);
    try (OutputStream out = exchange.getResponseBody()) {
      out.write(bytes);
    }
  }
}
