package spineauth.validator;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.context.support.DefaultProfileValidationSupport;
import ca.uhn.fhir.validation.FhirValidator;
import ca.uhn.fhir.validation.ValidationResult;
import java.io.FileInputStream;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.hl7.fhir.common.hapi.validation.support.CommonCodeSystemsTerminologyService;
import org.hl7.fhir.common.hapi.validation.support.InMemoryTerminologyServerValidationSupport;
import org.hl7.fhir.common.hapi.validation.support.PrePopulatedValidationSupport;
import org.hl7.fhir.common.hapi.validation.support.SnapshotGeneratingValidationSupport;
import org.hl7.fhir.common.hapi.validation.support.ValidationSupportChain;
import org.hl7.fhir.common.hapi.validation.validator.FhirInstanceValidator;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.hl7.fhir.utilities.npm.NpmPackage;

/**
 * Validates FHIR R4 JSON files against implementation-guide packages with HAPI FHIR's instance validator.
 *
 * <pre>java -jar fhir-validator.jar --ig a.tgz --ig b.tgz [--profiles DIR] file1.json file2.json ...</pre>
 *
 * One JVM loads the packages once and validates every file. Output on stdout: one JSON object
 * {"file path": OperationOutcome, ...}. Exit 0 when the run completed (whatever the outcomes say), 2 on bad usage.
 */
public final class Main {
  private Main() {}

  public static void main(String[] args) throws Exception {
    List<Path> packages = new ArrayList<>();
    List<Path> profileDirs = new ArrayList<>();
    List<Path> files = new ArrayList<>();
    for (int i = 0; i < args.length; i++) {
      if (args[i].equals("--ig") && i + 1 < args.length) {
        packages.add(Path.of(args[++i]));
      } else if (args[i].equals("--profiles") && i + 1 < args.length) {
        profileDirs.add(Path.of(args[++i]));
      } else {
        files.add(Path.of(args[i]));
      }
    }
    if (files.isEmpty()) {
      System.err.println("usage: fhir-validator --ig PACKAGE.tgz ... [--profiles DIR] FILE.json ...");
      System.exit(2);
    }
    FhirContext context = FhirContext.forR4Cached();
    PrePopulatedValidationSupport conformance = new PrePopulatedValidationSupport(context);
    QuestionnaireSupport questionnaires = new QuestionnaireSupport(context);
    for (Path tgz : packages) {
      loadPackage(context, conformance, questionnaires, tgz);
    }
    for (Path dir : profileDirs) {
      loadDirectory(context, conformance, questionnaires, dir);
    }
    DefaultProfileValidationSupport core = new DefaultProfileValidationSupport(context);
    ValidationSupportChain chain =
        new ValidationSupportChain(
            core,
            new CoreVersionedCanonicals(context, core),
            conformance,
            questionnaires,
            new CommonCodeSystemsTerminologyService(context),
            new InMemoryTerminologyServerValidationSupport(context),
            new SnapshotGeneratingValidationSupport(context),
            new KnownGapTerminology(context));
    FhirInstanceValidator module = new FhirInstanceValidator(chain);
    FhirValidator validator = context.newValidator().registerValidatorModule(module);

    StringBuilder out = new StringBuilder("{");
    boolean first = true;
    for (Path file : files) {
      String text = Files.readString(file, StandardCharsets.UTF_8);
      ValidationResult result = validator.validateWithResult(text);
      String outcome = context.newJsonParser().encodeResourceToString(result.toOperationOutcome());
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

  /** Every JSON conformance resource in the package's package/ folder (examples are left out). */
  private static void loadPackage(FhirContext context, PrePopulatedValidationSupport target, QuestionnaireSupport questionnaires,
      Path tgz)
      throws Exception {
    try (InputStream stream = new FileInputStream(tgz.toFile())) {
      NpmPackage npm = NpmPackage.fromPackage(stream);
      NpmPackage.NpmPackageFolder folder = npm.getFolders().get("package");
      if (folder == null) {
        throw new IllegalArgumentException(tgz + " has no package/ folder");
      }
      for (String name : folder.listFiles()) {
        if (!name.toLowerCase(Locale.ROOT).endsWith(".json") || name.equals("package.json")
            || name.startsWith(".")) {
          continue;
        }
        addResource(context, target, questionnaires, new String(folder.fetchFile(name), StandardCharsets.UTF_8));
      }
    }
  }

  private static void loadDirectory(FhirContext context, PrePopulatedValidationSupport target, QuestionnaireSupport questionnaires,
      Path dir)
      throws Exception {
    try (var paths = Files.list(dir)) {
      for (Path path : paths.sorted().toList()) {
        if (path.toString().endsWith(".json")) {
          addResource(context, target, questionnaires, Files.readString(path, StandardCharsets.UTF_8));
        }
      }
    }
  }

  private static void addResource(
      FhirContext context, PrePopulatedValidationSupport target, QuestionnaireSupport questionnaires, String json) {
    if (!json.contains("\"resourceType\"")) {
      return;
    }
    IBaseResource resource;
    try {
      resource = context.newJsonParser().parseResource(json);
    } catch (RuntimeException error) {
      return; // not a resource this FHIR version parses (index files and the like)
    }
    String type = context.getResourceType(resource);
    if (type.equals("StructureDefinition") || type.equals("ValueSet") || type.equals("CodeSystem")
        || type.equals("SearchParameter")) {
      target.addResource(resource);
    } else if (resource instanceof org.hl7.fhir.r4.model.Questionnaire questionnaire) {
      questionnaires.add(questionnaire);
    }
  }

  private static String quote(String value) {
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
