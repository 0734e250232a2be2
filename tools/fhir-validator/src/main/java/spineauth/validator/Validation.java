package spineauth.validator;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.context.support.DefaultProfileValidationSupport;
import ca.uhn.fhir.validation.FhirValidator;
import java.io.FileInputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
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
 * HAPI FHIR's instance validator loaded once with the IG packages (.tgz) and our own profiles: shared by the batch
 * mode (files on the command line) and the server mode (--serve).
 */
final class Validation {
  final FhirContext context;
  final ValidationSupportChain chain;
  final FhirValidator validator;

  private Validation(FhirContext context, ValidationSupportChain chain, FhirValidator validator) {
    this.context = context;
    this.chain = chain;
    this.validator = validator;
  }

  static Validation load(List<Path> packages, List<Path> profileDirs) throws Exception {
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
    return new Validation(context, chain, validator);
  }

  /** Whether a StructureDefinition with this canonical URL (optionally |version) is loaded. */
  boolean knowsProfile(String canonical) {
    return chain.fetchStructureDefinition(canonical) != null;
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

}
