package org.spineauth.hapi;

import ca.uhn.fhir.batch2.jobs.export.BulkDataExportProvider;
import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.context.support.IValidationSupport;
import ca.uhn.fhir.jpa.api.config.JpaStorageSettings;
import ca.uhn.fhir.jpa.api.dao.IFhirSystemDao;
import ca.uhn.fhir.jpa.provider.IJpaSystemProvider;
import ca.uhn.fhir.jpa.provider.JpaCapabilityStatementProvider;
import ca.uhn.fhir.jpa.search.DatabaseBackedPagingProvider;
import ca.uhn.fhir.rest.api.EncodingEnum;
import ca.uhn.fhir.rest.server.IncomingRequestAddressStrategy;
import ca.uhn.fhir.rest.server.RestfulServer;
import ca.uhn.fhir.rest.server.provider.ResourceProviderFactory;
import ca.uhn.fhir.rest.server.util.ISearchParamRegistry;
import org.springframework.context.ApplicationContext;

/** The HAPI RestfulServer with the JPA providers: every R4 resource type, the system provider (transactions,
 * {@code $expunge}), {@code $everything}, {@code $validate}, Bulk Data {@code $export}, JSON by default. */
final class FhirServlet {
	private FhirServlet() {}

	static RestfulServer build(ApplicationContext context, SmartAuthorization authorization) {
		FhirContext fhirContext = context.getBean(FhirContext.class);
		RestfulServer server = new RestfulServer(fhirContext);
		server.registerProviders(context.getBean(ResourceProviderFactory.class).createProviders());
		server.registerProvider(context.getBean(IJpaSystemProvider.class));
		server.registerProvider(context.getBean(BulkDataExportProvider.class));
		server.setServerConformanceProvider(new JpaCapabilityStatementProvider(
				server,
				context.getBean(IFhirSystemDao.class),
				context.getBean(JpaStorageSettings.class),
				context.getBean(ISearchParamRegistry.class),
				context.getBean(IValidationSupport.class)));
		server.setPagingProvider(context.getBean(DatabaseBackedPagingProvider.class));
		server.setDefaultResponseEncoding(EncodingEnum.JSON);
		server.setServerAddressStrategy(new IncomingRequestAddressStrategy());
		server.registerInterceptor(authorization);
		return server;
	}
}
