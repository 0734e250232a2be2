package org.spineauth.hapi;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.jpa.api.dao.IFhirSystemDao;
import ca.uhn.fhir.jpa.packages.IPackageInstallerSvc;
import ca.uhn.fhir.jpa.search.DatabaseBackedPagingProvider;
import ca.uhn.fhir.util.VersionUtil;
import jakarta.servlet.DispatcherType;
import java.io.IOException;
import java.io.PrintStream;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import org.eclipse.jetty.ee10.servlet.FilterHolder;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.springframework.context.annotation.AnnotationConfigApplicationContext;
import org.springframework.core.env.MapPropertySource;

/**
 * The spine-auth HAPI FHIR sandbox: HAPI FHIR's JPA server (R4, H2 in memory) in an embedded Jetty under /fhir,
 * with the admin calls under /admin. Prints {@code {"event":"listening","port":P,"base":…}} on stdout when ready
 * (the line the Python launcher waits for, as with the Node sandbox), then one JSON line per request.
 */
public final class HapiSandbox {
	private HapiSandbox() {}

	public static void main(String[] args) throws Exception {
		long started = System.nanoTime();
		SandboxOptions options;
		try {
			options = SandboxOptions.parse(args);
		} catch (IllegalArgumentException error) {
			System.err.println("hapi-sandbox: " + error.getMessage());
			System.exit(2);
			return;
		}
		PrintStream out = System.out;
		AnnotationConfigApplicationContext context = new AnnotationConfigApplicationContext();
		context.getEnvironment().getPropertySources().addFirst(new MapPropertySource("sandbox", Map.of(
				"sandbox.default-count", options.defaultCount(),
				"sandbox.max-count", options.maxCount())));
		context.register(JpaServerConfig.class);
		context.refresh();
		List<String> guides = IgInstaller.installAll(context.getBean(IPackageInstallerSvc.class), options.igDirectories());

		SandboxRuntime runtime = new SandboxRuntime(options.requireAuth());
		TokenIntrospector introspector = options.authBase() == null
				? null
				: new TokenIntrospector(options.authBase(), options.introspectionClient());
		SmartAuthorization authorization =
				new SmartAuthorization(context.getBean(FhirContext.class), runtime, introspector);

		Server jetty = new Server();
		ServerConnector connector = new ServerConnector(jetty);
		connector.setHost(options.host());
		connector.setPort(options.port());
		jetty.addConnector(connector);
		ServletContextHandler handler = new ServletContextHandler();
		handler.setContextPath("/");
		handler.addServlet(new ServletHolder("fhir", FhirServlet.build(context, authorization)), "/fhir/*");
		handler.addServlet(new ServletHolder(new SmartConfigurationServlet(options.authBase())), "/fhir/.well-known/*");
		handler.addServlet(new ServletHolder(new AdminServlet(
				runtime,
				context.getBean(DatabaseBackedPagingProvider.class),
				context.getBean(IFhirSystemDao.class),
				introspector)), "/admin/*");
		handler.addFilter(new FilterHolder(new RequestFilter(runtime, out)), "/fhir/*", EnumSet.of(DispatcherType.REQUEST));
		jetty.setHandler(handler);
		jetty.setStopAtShutdown(true);
		jetty.start();

		int port = connector.getLocalPort();
		long startupMs = (System.nanoTime() - started) / 1_000_000;
		StringBuilder igs = new StringBuilder();
		for (String guide : guides) {
			igs.append(igs.isEmpty() ? "" : ",").append('"').append(Json.escape(guide)).append('"');
		}
		out.printf(
				"{\"event\":\"listening\",\"engine\":\"hapi\",\"hapiVersion\":\"%s\",\"port\":%d,"
						+ "\"base\":\"http://%s:%d/fhir\",\"startupMs\":%d,\"igs\":[%s]}%n",
				VersionUtil.getVersion(), port, options.host(), port, startupMs, igs);
		out.flush();
		if (options.exitWithParent()) {
			exitWhenStdinCloses(jetty, context);
		}
		jetty.join();
	}

	/** Stop when standard input reaches its end: the process that started us (and holds the pipe) is gone. */
	private static void exitWhenStdinCloses(Server jetty, AnnotationConfigApplicationContext context) {
		Thread watcher = new Thread(() -> {
			try {
				while (System.in.read() >= 0) {
					// discard anything written to us
				}
			} catch (IOException ignored) {
				// a broken pipe means the parent is gone as well
			}
			try {
				jetty.stop();
			} catch (Exception ignored) {
				// exiting anyway
			}
			context.close();
			System.exit(0);
		}, "exit-with-parent");
		watcher.setDaemon(true);
		watcher.start();
	}
}
