package spineauth.validator;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.context.support.ConceptValidationOptions;
import ca.uhn.fhir.context.support.IValidationSupport;
import ca.uhn.fhir.context.support.ValidationSupportContext;
import java.util.List;
import org.hl7.fhir.common.hapi.validation.support.UnknownCodeSystemWarningValidationSupport;
import org.hl7.fhir.instance.model.api.IBaseResource;

/**
 * Code systems no offline validator has (licensed or not shipped in ../shared/data/igs): X12, CPT, LOINC,
 * ICD-10-CM, HCPCS, CMS place of service, NUCC taxonomy. Codes from these systems are reported as warnings ("unknown
 * code system") instead of errors; every other code system is left to the rest of the chain, so an unknown or
 * misspelt system is still an error.
 */
final class KnownGapTerminology extends UnknownCodeSystemWarningValidationSupport {
  static final List<String> PREFIXES =
      List.of(
          "https://codesystem.x12.org/",
          "http://www.ama-assn.org/go/cpt",
          "http://loinc.org",
          "http://hl7.org/fhir/sid/icd-10-cm",
          "https://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set",
          "http://nucc.org/provider-taxonomy",
          "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets");

  KnownGapTerminology(FhirContext context) {
    super(context);
    setNonExistentCodeSystemSeverity(IValidationSupport.IssueSeverity.WARNING);
  }

  static boolean isKnownGap(String system) {
    if (system == null) {
      return false;
    }
    for (String prefix : PREFIXES) {
      if (system.equals(prefix) || (prefix.endsWith("/") && system.startsWith(prefix))) {
        return true;
      }
    }
    return false;
  }

  @Override
  public boolean isCodeSystemSupported(ValidationSupportContext context, String system) {
    return isKnownGap(system) && super.isCodeSystemSupported(context, system);
  }

  @Override
  public CodeValidationResult validateCode(
      ValidationSupportContext context,
      ConceptValidationOptions options,
      String system,
      String code,
      String display,
      String valueSetUrl) {
    return isKnownGap(system) ? super.validateCode(context, options, system, code, display, valueSetUrl) : null;
  }

  @Override
  public CodeValidationResult validateCodeInValueSet(
      ValidationSupportContext context,
      ConceptValidationOptions options,
      String system,
      String code,
      String display,
      IBaseResource valueSet) {
    return isKnownGap(system)
        ? super.validateCodeInValueSet(context, options, system, code, display, valueSet)
        : null;
  }
}
