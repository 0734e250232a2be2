package spineauth.validator;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.context.support.IValidationSupport;
import org.hl7.fhir.instance.model.api.IBaseResource;

/**
 * Resolves core R4 canonicals written with the version ("http://hl7.org/fhir/StructureDefinition/Practitioner|4.0.1",
 * as PAS 2.2.1's ServiceRequest targets are) to the same R4 definitions the default support holds unversioned.
 */
final class CoreVersionedCanonicals implements IValidationSupport {
  private static final String SUFFIX = "|4.0.1";
  private static final String CORE = "http://hl7.org/fhir/StructureDefinition/";
  private final FhirContext context;
  private final IValidationSupport core;

  CoreVersionedCanonicals(FhirContext context, IValidationSupport core) {
    this.context = context;
    this.core = core;
  }

  @Override
  public FhirContext getFhirContext() {
    return context;
  }

  @Override
  public IBaseResource fetchStructureDefinition(String url) {
    if (url != null && url.startsWith(CORE) && url.endsWith(SUFFIX)) {
      return core.fetchStructureDefinition(url.substring(0, url.length() - SUFFIX.length()));
    }
    return null;
  }
}
