package spineauth.validator;

import ca.uhn.fhir.validation.ValidationResult;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Validates FHIR R4 JSON against implementation-guide packages with HAPI FHIR's instance validator.
 *
 * <pre>java -jar fhir-validator.jar --ig a.tgz --ig b.tgz [--profiles DIR] file1.json file2.json ...</pre>
 *
 * One JVM loads the packages once and validates every file. Output on stdout: one JSON object
 * {"file path": OperationOutcome, ...}. Exit 0 when the run completed (whatever the outcomes say), 2 on bad usage.
 *
 * <pre>java -jar fhir-validator.jar --serve PORT --ig a.tgz ... [--profiles DIR] [--warm-up PROFILE] [--exit-on-stdin-eof]</pre>
 *
 * Server mode (see {@link ValidatorServer}): loads the packages once, then answers POST /validate?profile=URL with an
 * OperationOutcome, on 127.0.0.1 only.
 */
public final class Main {
  private Main() {}

  public static void main(String[] args) throws Exception {
    List<Path> packages = new ArrayList<>();
    List<Path> profileDirs = new ArrayList<>();
    List<Path> files = new ArrayList<>();
    List<String> warmUp = new ArrayList<>();
    Integer servePort = null;
    boolean exitOnStdinEof = false;
    for (int i = 0; i < args.length; i++) {
      if (args[i].equals("--ig") && i + 1 < args.length) {
        packages.add(Path.of(args[++i]));
      } else if (args[i].equals("--profiles") && i + 1 < args.length) {
        profileDirs.add(Path.of(args[++i]));
      } else if (args[i].equals("--serve") && i + 1 < args.length) {
        servePort = parsePort(args[++i]);
      } else if (args[i].equals("--warm-up") && i + 1 < args.length) {
        warmUp.add(args[++i]);
      } else if (args[i].equals("--exit-on-stdin-eof")) {
        exitOnStdinEof = true;
      } else {
        files.add(Path.of(args[i]));
      }
    }
    if (servePort != null) {
      if (!files.isEmpty()) {
        usage();
      }
      ValidatorServer.serve(servePort, packages, profileDirs, warmUp, exitOnStdinEof);
      return;
    }
    if (files.isEmpty()) {
      usage();
    }
    Validation validation = Validation.load(packages, profileDirs);
    StringBuilder out = new StringBuilder("{");
    boolean first = true;
    for (Path file : files) {
      String text = Files.readString(file, StandardCharsets.UTF_8);
      ValidationResult result = validation.validator.validateWithResult(text);
      String outcome = validation.context.newJsonParser().encodeResourceToString(result.toOperationOutcome());
      if (!first) {
        out.append(",");
      }
      first = false;
      out.append(quote(file.toString())).append(":").append(outcome);
    }
    out.append("}");
    PrintStream stdout = new PrintStream(System.out, true, StandardCharsets.UTF_8);
    stdout.println(out);
  }

  private static void usage() {
    System.err.println("usage: fhir-validator --ig PACKAGE.tgz ... [--profiles DIR] FILE.json ...");
    System.err.println("       fhir-validator --serve PORT --ig PACKAGE.tgz ... [--profiles DIR] [--warm-up PROFILE] [--exit-on-stdin-eof]");
    System.exit(2);
  }

  private static int parsePort(String value) {
    try {
      int port = Integer.parseInt(value);
      if (port >= 0 && port <= 65535) {
        return port;
      }
    } catch (NumberFormatException ignored) {
      // reported below
    }
    System.err.println("--serve takes a port number (0 picks a free one): " + value);
    System.exit(2);
    return -1;
  }

  static String quote(String value) {
    StringBuilder quoted = new StringBuilder("\"");
    for (char c : value.toCharArray()) {
      if (c == '"' || c == '\\') {
        quoted.append('\\').append(c);
      } else if (c < 0x20) {
        quoted.append(String.format("\\u%04x", (int) c));
      } else {
        quoted.append(c);
      }
    }
    return quoted.append('"').toString();
  }
}
