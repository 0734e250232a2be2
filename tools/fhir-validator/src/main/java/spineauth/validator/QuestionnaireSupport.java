package spineauth.validator;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.context.support.IValidationSupport;
import java.util.HashMap;
import java.util.Map;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.hl7.fhir.r4.model.Questionnaire;

/** Serves Questionnaires by canonical URL (with or without |version), so QuestionnaireResponses are checked. */
final class QuestionnaireSupport implements IValidationSupport {
  private final FhirContext context;
  private final Map<String, Questionnaire> byUrl = new HashMap<>();

  QuestionnaireSupport(FhirContext context) {
    this.context = context;
  }

  void add(Questionnaire questionnaire) {
    byUrl.put(questionnaire.getUrl(), questionnaire);
    if (questionnaire.hasVersion()) {
      byUrl.put(questionnaire.getUrl() + "|" + questionnaire.getVersion(), questionnaire);
    }
  }

  @Override
  public FhirContext getFhirContext() {
    return context;
  }

  @Override
  public <T extends IBaseResource> T fetchResource(Class<T> type, String uri) {
    if (uri == null || (type != null && !type.isAssignableFrom(Questionnaire.class))) {
      return null;
    }
    Questionnaire found = byUrl.get(uri);
    return found == null ? null : type == null ? null : type.cast(found);
  }
}
